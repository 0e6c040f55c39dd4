"""Opsgenie outgoing webhooks: alert actions.

https://support.atlassian.com/opsgenie/docs/opsgenie-edge-connector-alert-action-data/ (the
Webhook integration's payload): `{"action": "Create"|"Acknowledge"|"Close"|"AssignOwnership"|...,
"alert": {"alertId", "message", "createdAt" (ms), "updatedAt" (ns), "username" (who acted),
"owner", "teams" (ids), "responders": [{"type": "team", "name"}], "priority"}}`. The request is
authenticated by a header configured on the integration: `Authorization: Bearer <token>`.
"""

from __future__ import annotations

from typing import Any

from incidents.evidence.models import Evidence, EvidenceSource
from incidents.evidence.pagers import PagerEvent, Person
from incidents.models import Incident
from ybiyri.payload import MalformedPayload, payload_epoch_millis, payload_object, payload_text

KINDS = {
    "Create": Evidence.Kind.TRIGGERED,
    "Acknowledge": Evidence.Kind.ACKNOWLEDGED,
    "Close": Evidence.Kind.RESOLVED,
    "AssignOwnership": Evidence.Kind.ASSIGNED,
    "TakeOwnership": Evidence.Kind.ASSIGNED,
    "AddResponder": Evidence.Kind.ASSIGNED,
    "Escalate": Evidence.Kind.ASSIGNED,
}
SEVERITIES = {
    "P1": Incident.Severity.SEV1,
    "P2": Incident.Severity.SEV2,
    "P3": Incident.Severity.SEV3,
    "P4": Incident.Severity.SEV4,
    "P5": Incident.Severity.SEV4,
}


def _millis(value: Any) -> Any:
    """Opsgenie gives createdAt in milliseconds and updatedAt in nanoseconds; both read as ms."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 10**15:
        return value // 10**6
    return value


def opsgenie_event(payload: Any) -> PagerEvent | None:
    """The alert event in a delivery; None for a delivery without an alert."""
    body = payload_object(payload, name="body")
    action = payload_text(body.get("action"), name="action", max_length=100, required=True)
    alert = payload_object(body.get("alert"), name="alert")
    if not alert:
        return None
    alert_id = payload_text(alert.get("alertId"), name="alert.alertId", max_length=100, required=True)
    created_at = payload_epoch_millis(_millis(alert.get("createdAt")), name="alert.createdAt")
    updated_at = payload_epoch_millis(_millis(alert.get("updatedAt")), name="alert.updatedAt")
    kind = KINDS.get(action, Evidence.Kind.OTHER)
    occurred_at = created_at if kind == Evidence.Kind.TRIGGERED else (updated_at or created_at)
    if occurred_at is None:
        raise MalformedPayload("alert.createdAt is required.")
    teams: set[str] = set()
    for index, team in enumerate(alert.get("teams") or []):
        teams.add(payload_text(team, name=f"alert.teams[{index}]", max_length=200))
    responders = alert.get("responders") or []
    if not isinstance(responders, list):
        raise MalformedPayload("alert.responders must be a list.")
    for index, responder in enumerate(responders[:50]):
        responder = payload_object(responder, name=f"alert.responders[{index}]")
        if responder.get("type") == "team":
            teams.add(
                payload_text(responder.get("name"), name=f"alert.responders[{index}].name", max_length=200)
            )
            teams.add(payload_text(responder.get("id"), name=f"alert.responders[{index}].id", max_length=200))
    actor = payload_text(alert.get("username"), name="alert.username", max_length=254)
    owner = payload_text(alert.get("owner"), name="alert.owner", max_length=254)
    people = []
    if kind == Evidence.Kind.ACKNOWLEDGED and "@" in actor:
        people.append(Person(email=actor, name=actor, role="Acknowledged the page"))
    if kind == Evidence.Kind.ASSIGNED and "@" in owner:
        people.append(Person(email=owner, name=owner, role="Assigned by the pager"))
    title = payload_text(alert.get("message"), name="alert.message", max_length=1000) or "Opsgenie alert"
    stamp = int(occurred_at.timestamp() * 1000)
    return PagerEvent(
        source=EvidenceSource.OPSGENIE,
        # Opsgenie sends no id per delivery: an alert's action at a moment is one event.
        event_id=f"{alert_id}:{action}:{stamp}",
        page_id=alert_id,
        kind=kind,
        occurred_at=occurred_at,
        title=title,
        text=f"{action}: {title}",
        route=frozenset(teams - {""}),
        severity=SEVERITIES.get(
            payload_text(alert.get("priority"), name="alert.priority", max_length=10), Incident.Severity.SEV3
        ),
        actor=actor,
        people=tuple(people),
        raw=payload,
    )
