"""PagerDuty v3 webhooks: the signature, the incident events, and the people they name.

https://developer.pagerduty.com/docs/webhooks/v3-overview/ — every delivery is
`{"event": {"id", "event_type", "resource_type", "occurred_at", "agent", "data"}}`, `data` being
the incident (`id`, `title`, `html_url`, `urgency`, `service`, `assignees`). Its signature,
https://developer.pagerduty.com/docs/webhooks/webhook-signatures/ — `X-PagerDuty-Signature:
v1=<hex HMAC-SHA256 of the raw body>`, several comma-separated while a secret is rotated.

People come as user references (`id`, `summary` — their name — and no email). With
PAGERDUTY_API_TOKEN each is looked up once through the REST API for their email, cached per user
id; without it (or while PagerDuty does not answer) a person whose name is an address is matched
by it, as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings
from django.core.cache import cache

from incidents.evidence.models import Evidence, EvidenceSource
from incidents.evidence.pagers import PagerEvent, Person
from incidents.models import Incident
from ybiyri.payload import MalformedPayload, payload_datetime, payload_object, payload_text

KINDS = {
    "incident.triggered": Evidence.Kind.TRIGGERED,
    "incident.reopened": Evidence.Kind.TRIGGERED,
    "incident.acknowledged": Evidence.Kind.ACKNOWLEDGED,
    "incident.resolved": Evidence.Kind.RESOLVED,
    "incident.reassigned": Evidence.Kind.ASSIGNED,
    "incident.escalated": Evidence.Kind.ASSIGNED,
    "incident.delegated": Evidence.Kind.ASSIGNED,
    "incident.responder.added": Evidence.Kind.ASSIGNED,
}
SEVERITIES = {"high": Incident.Severity.SEV2, "low": Incident.Severity.SEV3}
# A user's email is kept a day; a user PagerDuty does not know (deleted) an hour, then asked again.
USER_CACHE_SECONDS = 24 * 3600
UNKNOWN_USER_CACHE_SECONDS = 3600
# The lookup runs while PagerDuty waits for the webhook's answer: short, and given up on, not retried.
REST_TIMEOUT = (3, 5)
MAX_LOOKUPS = 10

logger = logging.getLogger(__name__)


def pagerduty_signature_valid(*, body: bytes, header: str, secret: str) -> bool:
    """Whether any `v1=` signature in the header is the body's HMAC-SHA256 under `secret`."""
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    for signature in header.split(","):
        version, _, given = signature.strip().partition("=")
        # As bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
        if version == "v1" and hmac.compare_digest(given.strip().lower().encode(), expected):
            return True
    return False


def _person(reference: Any, *, name: str, role: str) -> Person | None:
    """A user reference as a person; PagerDuty names users by id and summary, an email only if the
    summary is one (or the reference carries `email`)."""
    reference = payload_object(reference, name=name)
    summary = payload_text(reference.get("summary"), name=f"{name}.summary", max_length=200)
    email = payload_text(reference.get("email"), name=f"{name}.email", max_length=254)
    if not email and "@" in summary:
        email = summary
    if not (email or summary) or reference.get("type", "user_reference") != "user_reference":
        return None
    source_id = payload_text(reference.get("id"), name=f"{name}.id", max_length=100)
    return Person(email=email, name=summary, role=role, source_id=source_id)


def pagerduty_event(payload: Any) -> PagerEvent | None:
    """The page event in a delivery; None for events about anything but an incident."""
    event = payload_object(payload_object(payload, name="body").get("event"), name="event")
    event_type = payload_text(event.get("event_type"), name="event.event_type", max_length=100, required=True)
    if event.get("resource_type", "incident") != "incident" or not event_type.startswith("incident."):
        return None
    data = payload_object(event.get("data"), name="event.data")
    service = payload_object(data.get("service"), name="event.data.service")
    kind = KINDS.get(event_type, Evidence.Kind.OTHER)
    occurred_at = payload_datetime(event.get("occurred_at"), name="event.occurred_at")
    if occurred_at is None:
        raise MalformedPayload("event.occurred_at is required.")
    agent = _person(event.get("agent"), name="event.agent", role="Acknowledged the page")
    people: list[Person] = []
    if agent is not None and kind == Evidence.Kind.ACKNOWLEDGED:
        people.append(agent)
    assignees = data.get("assignees") or []
    if not isinstance(assignees, list):
        raise MalformedPayload("event.data.assignees must be a list.")
    for index, assignee in enumerate(assignees[:50]):
        person = _person(assignee, name=f"event.data.assignees[{index}]", role="Assigned by the pager")
        if person is not None:
            people.append(person)
    title = payload_text(data.get("title"), name="event.data.title", max_length=1000) or "PagerDuty incident"
    urgency = payload_text(data.get("urgency"), name="event.data.urgency", max_length=20)
    return PagerEvent(
        source=EvidenceSource.PAGERDUTY,
        event_id=payload_text(event.get("id"), name="event.id", max_length=100, required=True),
        page_id=payload_text(data.get("id"), name="event.data.id", max_length=100, required=True),
        kind=kind,
        occurred_at=occurred_at,
        title=title,
        text=f"{event_type}: {title}",
        url=payload_text(data.get("html_url"), name="event.data.html_url", max_length=1000),
        route=frozenset(
            {payload_text(service.get("id"), name="event.data.service.id", max_length=100)} - {""}
        ),
        severity=SEVERITIES.get(urgency, Incident.Severity.SEV3),
        actor=agent.name if agent else "",
        people=tuple(people),
        raw=payload,
    )


class PagerDutyUnavailable(Exception):
    """The REST API did not answer usefully (down, rate limiting, a refused key): look up no more."""


def pagerduty_user_email(user_id: str, *, session: requests.Session) -> str:
    """The email of a PagerDuty user, or "" for a user PagerDuty does not know; cached per user id.

    https://developer.pagerduty.com/api-reference/2395ca1feb25e-get-a-user — `GET /users/{id}` with
    `Authorization: Token token=<key>`, answering `{"user": {"id", "name", "email", ...}}`, 404 for
    an unknown user. Raises PagerDutyUnavailable for anything else (nothing is cached then).
    """
    key = f"pagerduty:user-email:{user_id}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    try:
        response = session.get(
            f"{settings.PAGERDUTY_API_URL}/users/{quote(user_id, safe='')}",
            headers={
                "Authorization": f"Token token={settings.PAGERDUTY_API_TOKEN}",
                "Accept": "application/json",
            },
            timeout=REST_TIMEOUT,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        raise PagerDutyUnavailable(f"PagerDuty could not be reached: {error}") from error
    if response.status_code == 404:
        cache.set(key, "", UNKNOWN_USER_CACHE_SECONDS)
        return ""
    if response.status_code != 200:
        raise PagerDutyUnavailable(f"PagerDuty answered {response.status_code} for user {user_id}.")
    try:
        email = str((response.json().get("user") or {}).get("email") or "")[:254]
    except (ValueError, AttributeError) as error:
        raise PagerDutyUnavailable(f"PagerDuty sent no user for {user_id}.") from error
    cache.set(key, email, USER_CACHE_SECONDS)
    return email


def pagerduty_people_resolved(event: PagerEvent) -> PagerEvent:
    """The event with the email of each person it names by PagerDuty user id only, when
    PAGERDUTY_API_TOKEN is set. PagerDuty not answering costs the proposal of responders, never the
    event: the people stay as the webhook named them, and the first failure ends the lookups."""
    if not settings.PAGERDUTY_API_TOKEN:
        return event
    wanted = [person for person in event.people if not person.email and person.source_id][:MAX_LOOKUPS]
    if not wanted:
        return event
    emails: dict[str, str] = {}
    with requests.Session() as session:
        for person in wanted:
            try:
                emails[person.source_id] = pagerduty_user_email(person.source_id, session=session)
            except PagerDutyUnavailable as error:
                logger.warning("PagerDuty users not looked up for event %s: %s", event.event_id, error)
                break
    people = tuple(
        dataclasses.replace(person, email=emails[person.source_id])
        if not person.email and emails.get(person.source_id)
        else person
        for person in event.people
    )
    return dataclasses.replace(event, people=people)
