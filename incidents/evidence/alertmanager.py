"""Prometheus Alertmanager's webhook receiver.

https://prometheus.io/docs/alerting/latest/configuration/#webhook_config — a notification is
`{"version": "4", "groupKey", "status", "receiver", "alerts": [{"status": "firing"|"resolved",
"labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}]}`; the receiver's
`http_config.authorization` sends `Authorization: Bearer <credentials>`.

Each alert is a page of its own: its fingerprint and the time it started firing name one episode,
so a re-sent notification (Alertmanager repeats firing alerts every repeat_interval) is a duplicate.
"""

from __future__ import annotations

from typing import Any

from incidents.evidence.models import Evidence, EvidenceSource
from incidents.evidence.pagers import PagerEvent
from incidents.models import Incident
from ybiyri.payload import MalformedPayload, payload_datetime, payload_object, payload_text

MAX_ALERTS = 1000
SEVERITIES = {"critical": Incident.Severity.SEV2, "page": Incident.Severity.SEV2}


def _labels(value: Any, *, name: str) -> dict[str, str]:
    labels = payload_object(value, name=name)
    return {
        payload_text(key, name=f"{name} key", max_length=200): payload_text(
            label, name=f"{name}.{key}", max_length=1000
        )
        for key, label in labels.items()
    }


def alertmanager_events(payload: Any) -> list[PagerEvent]:
    """One event per alert of the notification."""
    body = payload_object(payload, name="body")
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        raise MalformedPayload("alerts must be a list.")
    if len(alerts) > MAX_ALERTS:
        raise MalformedPayload(f"alerts must hold at most {MAX_ALERTS} alerts.")
    events = []
    for index, alert in enumerate(alerts):
        name = f"alerts[{index}]"
        alert = payload_object(alert, name=name)
        status = payload_text(alert.get("status"), name=f"{name}.status", max_length=20, required=True)
        if status not in ("firing", "resolved"):
            raise MalformedPayload(f"{name}.status must be firing or resolved.")
        labels = _labels(alert.get("labels"), name=f"{name}.labels")
        annotations = _labels(alert.get("annotations"), name=f"{name}.annotations")
        starts_at = payload_datetime(alert.get("startsAt"), name=f"{name}.startsAt")
        if starts_at is None:
            raise MalformedPayload(f"{name}.startsAt is required.")
        ends_at = payload_datetime(alert.get("endsAt"), name=f"{name}.endsAt")
        fingerprint = payload_text(alert.get("fingerprint"), name=f"{name}.fingerprint", max_length=100)
        if not fingerprint:
            fingerprint = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))[:100]
        page_id = f"{fingerprint}@{starts_at.isoformat()}"
        resolved = status == "resolved"
        occurred_at = ends_at if resolved and ends_at else starts_at
        title = annotations.get("summary") or labels.get("alertname") or "Alertmanager alert"
        description = annotations.get("description", "")
        events.append(
            PagerEvent(
                source=EvidenceSource.ALERTMANAGER,
                event_id=f"{page_id}:{status}",
                page_id=page_id,
                kind=Evidence.Kind.RESOLVED if resolved else Evidence.Kind.TRIGGERED,
                occurred_at=occurred_at,
                title=title,
                text=f"{status}: {title}" + (f" — {description}" if description else ""),
                url=payload_text(alert.get("generatorURL"), name=f"{name}.generatorURL", max_length=1000),
                route=frozenset(f"{key}={value}" for key, value in labels.items()),
                severity=SEVERITIES.get(labels.get("severity", ""), Incident.Severity.SEV3),
                raw=alert,
            )
        )
    return events
