"""Pager deliveries as the pagers send them: PagerDuty v3 webhooks (signed as PagerDuty signs),
Opsgenie's Webhook integration and Alertmanager's webhook receiver, from their documented formats;
and `FakePagerDuty`, PagerDuty's REST API for the users those webhooks name, over real HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from datetime import datetime
from typing import Any

from tests.fakes.backlog_http import Emulator, Reply

_ids = itertools.count(1)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def pagerduty_signature(body: bytes, secret: str) -> str:
    """`X-PagerDuty-Signature`: `v1=` and the hex HMAC-SHA256 of the raw body."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def pagerduty_event(
    event_type: str,
    *,
    incident_id: str = "PGR0VU2",
    service_id: str = "PF9KMXH",
    occurred_at: datetime,
    title: str = "Checkout API error rate above 5%",
    agent_email: str = "",
    assignee_emails: tuple[str, ...] = (),
    agent: tuple[str, str] | None = None,
    assignees: tuple[tuple[str, str], ...] = (),
    event_id: str = "",
) -> dict[str, Any]:
    """A v3 webhook delivery (https://developer.pagerduty.com/docs/webhooks/v3-overview/).

    People are user references: `agent_email`/`assignee_emails` give ones whose summary is an
    address; `agent`/`assignees` give (user id, name) as PagerDuty sends them, with no email.
    """

    def user(summary: str, user_id: str = "PXPGF42") -> dict[str, Any]:
        return {
            "html_url": f"https://acme.pagerduty.com/users/{user_id}",
            "id": user_id,
            "self": f"https://api.pagerduty.com/users/{user_id}",
            "summary": summary,
            "type": "user_reference",
        }

    agent_reference = user(agent_email) if agent_email else user(agent[1], agent[0]) if agent else None
    assignee_references = [user(email) for email in assignee_emails] + [
        user(name, user_id) for user_id, name in assignees
    ]

    return {
        "event": {
            "id": event_id or f"01DEN{next(_ids):05d}",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": iso(occurred_at),
            "agent": agent_reference,
            "client": None,
            "data": {
                "id": incident_id,
                "type": "incident",
                "self": f"https://api.pagerduty.com/incidents/{incident_id}",
                "html_url": f"https://acme.pagerduty.com/incidents/{incident_id}",
                "number": 2,
                "status": event_type.removeprefix("incident."),
                "incident_key": "d3640fbd41094207a1c11e58e46b1662",
                "created_at": iso(occurred_at),
                "title": title,
                "service": {
                    "html_url": f"https://acme.pagerduty.com/services/{service_id}",
                    "id": service_id,
                    "self": f"https://api.pagerduty.com/services/{service_id}",
                    "summary": "Checkout API",
                    "type": "service_reference",
                },
                "assignees": assignee_references,
                "escalation_policy": {
                    "id": "PUS0KTE",
                    "summary": "Default",
                    "type": "escalation_policy_reference",
                },
                "teams": [],
                "priority": None,
                "urgency": "high",
                "conference_bridge": None,
                "resolve_reason": None,
            },
        }
    }


class FakePagerDuty(Emulator):
    """PagerDuty's REST API, as much as resolving users needs: `GET /users/{id}`
    (https://developer.pagerduty.com/api-reference/2395ca1feb25e-get-a-user). Fails as PagerDuty
    does: 401 with error code 2006 for a missing or wrong `Authorization: Token token=<key>`, 404
    with code 2100 for an unknown user; `fail_next(status=429)` for its rate limit."""

    def __init__(self, *, token: str = "pd-rest-key-for-tests") -> None:  # noqa: S107 (a test credential)
        super().__init__()
        self.token = token
        self.users: dict[str, dict[str, Any]] = {}

    def add_user(self, user_id: str, *, name: str, email: str) -> None:
        with self.lock:
            self.users[user_id] = {
                "id": user_id,
                "type": "user",
                "summary": name,
                "name": name,
                "email": email,
                "time_zone": "Europe/London",
                "role": "user",
                "self": f"https://api.pagerduty.com/users/{user_id}",
                "html_url": f"https://acme.pagerduty.com/users/{user_id}",
            }

    def handle(self, method: str, path: str, query: dict, body: bytes, headers: dict[str, str]) -> Reply:
        if headers.get("Authorization") != f"Token token={self.token}":
            return Reply(401, {"error": {"message": "Authentication failed", "code": 2006}})
        match = re.fullmatch(r"/users/([A-Z0-9]+)", path)
        if method != "GET" or match is None:
            return Reply(404, {"error": {"message": "Not Found", "code": 2100}})
        with self.lock:
            user = self.users.get(match.group(1))
        if user is None:
            return Reply(404, {"error": {"message": "Not Found", "code": 2100}})
        return Reply(200, {"user": user})


def pagerduty_request(payload: dict[str, Any], secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers PagerDuty sends."""
    body = json.dumps(payload).encode()
    return body, {
        "HTTP_X_PAGERDUTY_SIGNATURE": pagerduty_signature(body, secret),
        "HTTP_X_WEBHOOK_ID": "PY1OL64",
        "HTTP_USER_AGENT": "PagerDuty-Webhook/V3.0",
    }


def opsgenie_delivery(
    action: str, *, alert_id: str, created_at: datetime, updated_at: datetime | None = None, **alert: Any
) -> dict[str, Any]:
    """Opsgenie's Webhook integration payload: createdAt in milliseconds, updatedAt in nanoseconds."""
    created_ms = int(created_at.timestamp() * 1000)
    updated_ns = int((updated_at or created_at).timestamp() * 1000) * 10**6
    return {
        "action": action,
        "alert": {
            "alertId": alert_id,
            "message": alert.pop("message", "Checkout API latency"),
            "tags": [],
            "tinyId": "6",
            "entity": "",
            "alias": alert_id,
            "createdAt": created_ms,
            "updatedAt": updated_ns,
            "username": alert.pop("username", "System"),
            "teams": alert.pop("teams", ["8418d193-2dab-4490-b331-8c02cdd196b7"]),
            "responders": alert.pop("responders", [{"id": "8418d193", "type": "team", "name": "checkout"}]),
            "priority": alert.pop("priority", "P2"),
            **alert,
        },
        "source": {"name": "", "type": "web"},
        "integrationName": "Webhook",
        "integrationId": "4d8e3a54-1a50-4b69-a5a1-bf4e4c5c2a61",
        "integrationType": "Webhook",
    }


def alertmanager_notification(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """Alertmanager's webhook payload, version 4."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="HighErrorRate"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "ybiyri",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.org:9093",
        "alerts": list(alerts),
    }


def alertmanager_alert(
    *,
    status: str,
    starts_at: datetime,
    ends_at: datetime | None = None,
    labels: dict[str, str],
    fingerprint: str,
) -> dict[str, Any]:
    return {
        "status": status,
        "labels": {"alertname": "HighErrorRate", **labels},
        "annotations": {"summary": "Error rate above 5% on checkout-api"},
        "startsAt": iso(starts_at),
        "endsAt": iso(ends_at) if ends_at else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example.org:9090/graph?g0.expr=rate",
        "fingerprint": fingerprint,
    }
