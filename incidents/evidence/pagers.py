"""What every pager source reads its webhook into, and how a page finds its service.

Each source (`pagerduty`, `opsgenie`, `alertmanager`) parses its documented payload into
`PagerEvent`s, refusing a payload of the wrong shape with `MalformedPayload` (a 400); the services
(`incidents.evidence.services.page_record`) then treat every source alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incidents.evidence.models import Evidence, EvidenceSource
from incidents.models import Incident, Service

# Offered as the draft's severity; the product manager sets the real one when confirming.
DEFAULT_SEVERITY = Incident.Severity.SEV3


@dataclass(frozen=True)
class Person:
    """Someone the page names: matched to a member by email and proposed as a responder."""

    email: str
    name: str
    role: str


@dataclass(frozen=True)
class PagerEvent:
    """One event of one page, as every source reads it.

    `event_id` is unique at the source (a retry or duplicate delivery repeats it); `page_id` names
    the page (PagerDuty incident, Opsgenie alert, Alertmanager alert episode) that becomes one
    incident. `route` is what the service mapping matches: service ids, team names or ids, or
    `label=value` pairs.
    """

    source: EvidenceSource
    event_id: str
    page_id: str
    kind: Evidence.Kind
    occurred_at: datetime
    title: str
    route: frozenset[str]
    text: str = ""
    url: str = ""
    severity: str = DEFAULT_SEVERITY
    actor: str = ""
    people: tuple[Person, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


def service_matches(service: Service, *, source: str, route: frozenset[str]) -> bool:
    """Whether `service`'s mapping for `source` claims a page routed by `route`.

    PagerDuty service ids and Opsgenie teams: any one of the service's values. Alertmanager
    matchers: every one of them (label equality), so `service=checkout-api` plus `env=prod` only
    takes production alerts.
    """
    if source == EvidenceSource.PAGERDUTY:
        return bool(route.intersection(service.pagerduty_service_ids or []))
    if source == EvidenceSource.OPSGENIE:
        return bool(
            {team.casefold() for team in route}.intersection(
                str(team).casefold() for team in service.opsgenie_teams or []
            )
        )
    matchers = {
        "=".join(part.strip() for part in str(m).split("=", 1)) for m in service.alertmanager_matchers or []
    }
    return bool(matchers) and matchers <= route


def mapped_service(services: Iterable[Service], *, source: str, route: frozenset[str]) -> Service | None:
    """The first service (by id) whose mapping claims the page, or None."""
    for service in sorted(services, key=lambda service: service.pk):
        if service_matches(service, source=source, route=route):
            return service
    return None
