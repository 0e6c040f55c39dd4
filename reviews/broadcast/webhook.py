"""Generic outgoing webhooks: a JSON body signed with HMAC-SHA256 over a timestamp and the body.

Every request carries:

- ``X-Ybiyri-Event: narrative.published``
- ``X-Ybiyri-Delivery: <uuid>`` — the same on every retry of one delivery: receivers deduplicate on it;
- ``X-Ybiyri-Timestamp: <unix seconds>`` — when this attempt was signed;
- ``X-Ybiyri-Signature: sha256=<hex HMAC-SHA256(BROADCAST_WEBHOOK_SECRET, f"{timestamp}.{body}")>``.

A receiver recomputes the HMAC over the raw body bytes, compares in constant time and rejects
timestamps older than a few minutes (replay protection); `webhook_signature_valid` does exactly that.
"""

import hashlib
import hmac
import json
import time
import uuid

import requests

from reviews.broadcast.content import BroadcastContent
from reviews.broadcast.http import post_json

EVENT = "narrative.published"
SIGNATURE_PREFIX = "sha256="
DEFAULT_TOLERANCE_SECONDS = 300


def webhook_payload(content: BroadcastContent, *, delivery_uuid: uuid.UUID) -> dict:
    return {
        "event": EVENT,
        "delivery": str(delivery_uuid),
        "narrative": {
            "id": content.narrative_id,
            "publication": content.publication,
            "title": content.title,
            "url": content.url,
            "summary": content.summary,
            "published_at": content.published_at.isoformat() if content.published_at else None,
            "severity": content.severity.lower(),
            "team": content.team,
            "service": content.service,
            "key_facts": [{"label": label, "value": value} for label, value in content.key_facts],
            "body_markdown": content.body_markdown,
        },
    }


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def webhook_headers(*, secret: str, body: bytes, delivery_uuid: uuid.UUID, timestamp: int) -> dict[str, str]:
    """Headers for one attempt; unsigned when no secret is configured (receivers should then refuse)."""
    headers = {
        "X-Ybiyri-Event": EVENT,
        "X-Ybiyri-Delivery": str(delivery_uuid),
        "X-Ybiyri-Timestamp": str(timestamp),
    }
    if secret:
        headers["X-Ybiyri-Signature"] = webhook_signature(secret, str(timestamp), body)
    return headers


def webhook_signature_valid(
    *,
    secret: str,
    body: bytes,
    timestamp: str,
    signature: str,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """For receivers: True when `signature` is ours for exactly this body and the timestamp is fresh.

    Pass the raw request body (before any JSON parsing) and the X-Ybiyri-Timestamp and
    X-Ybiyri-Signature header values.
    """
    if not secret or not timestamp.isdigit() or not signature.startswith(SIGNATURE_PREFIX):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance_seconds:
        return False
    return hmac.compare_digest(webhook_signature(secret, timestamp, body), signature)


def post_webhook(
    session: requests.Session,
    url: str,
    content: BroadcastContent,
    *,
    secret: str,
    delivery_uuid: uuid.UUID,
) -> None:
    """Raise DeliveryError unless the receiver answered 2xx; each attempt is signed afresh."""
    body = json.dumps(webhook_payload(content, delivery_uuid=delivery_uuid), separators=(",", ":")).encode()
    headers = webhook_headers(
        secret=secret, body=body, delivery_uuid=delivery_uuid, timestamp=int(time.time())
    )
    # Our own contract (module docstring): 2xx accepted, 429/5xx retried, other 4xx permanent.
    post_json(session, url, body, headers)
