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

from django.core.exceptions import ValidationError
from django.db import transaction

from incidents.evidence.models import Evidence, EvidenceSource
from incidents.models import Incident, Service

# Offered as the draft's severity; the product manager sets the real one when confirming.
DEFAULT_SEVERITY = Incident.Severity.SEV3


@dataclass(frozen=True)
class Person:
    """Someone the page names: matched to a member by email and proposed as a responder.

    `source_id` is the person's id at the source (a PagerDuty user id), by which a source that
    names people without an email resolves them (`incidents.evidence.pagerduty`).
    """

    email: str
    name: str
    role: str
    source_id: str = ""


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


def check_pager_mapping_free(service: Service) -> None:
    """Refuse a mapping that another service holds already, so a page has one service to go to:
    a PagerDuty service id or an Opsgenie team mapped elsewhere, or Alertmanager matchers that an
    alert could satisfy together with another service's (one set within the other). Run after
    `Service.clean`, which normalises the values.

    In a transaction, every service's row is locked in one order first: two managers mapping the
    same page to two services at once are checked one after the other, the second against what
    the first saved, and neither waits on the other in a cycle."""
    errors: dict[str, list[str]] = {}
    own_ids = set(service.pagerduty_service_ids)
    own_teams = {team.casefold() for team in service.opsgenie_teams}
    own_matchers = frozenset(service.alertmanager_matchers)
    if not (own_ids or own_teams or own_matchers):
        return
    services = (
        Service.objects.select_related("team")
        .only("name", "team__name", "pagerduty_service_ids", "opsgenie_teams", "alertmanager_matchers")
        .order_by("pk")
    )
    if transaction.get_connection().in_atomic_block:
        services = services.select_for_update(of=("self",))
    for other in services:
        if other.pk == service.pk:
            continue
        where = f"{other.name} ({other.team.name})"
        for service_id in sorted(own_ids.intersection(other.pagerduty_service_ids or [])):
            errors.setdefault("pagerduty_service_ids", []).append(
                f"PagerDuty service {service_id} is already mapped to {where}."
            )
        for team in other.opsgenie_teams or []:
            if str(team).casefold() in own_teams:
                errors.setdefault("opsgenie_teams", []).append(
                    f"Opsgenie team {team} is already mapped to {where}."
                )
        theirs = frozenset(other.alertmanager_matchers or [])
        if own_matchers and theirs and (own_matchers <= theirs or theirs <= own_matchers):
            errors.setdefault("alertmanager_matchers", []).append(
                f"An alert matching {', '.join(sorted(own_matchers | theirs))} would match {where} "
                f"as well ({', '.join(sorted(theirs))}): give matchers that tell the services apart."
            )
    if errors:
        raise ValidationError(errors)
