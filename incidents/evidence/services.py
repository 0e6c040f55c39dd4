"""Writes for evidence: pages opening draft incidents, promotion to key events, drafts confirmed or
dismissed, the retention purge. Callers have checked permissions through `incidents.access`.

Pages (`page_record`) are idempotent by the source's own ids: an event already stored changes
nothing; events arriving out of order give the same incident as in order, because the draft's
times are recomputed from all the page's events, never from the last one received.
"""

from __future__ import annotations

import json
import operator
from datetime import datetime, timedelta
from functools import reduce
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.evidence.models import PAGER_SOURCES, Evidence
from incidents.evidence.pagers import PagerEvent, mapped_service
from incidents.models import AnalysisSession, Incident, KeyEvent, Responder, Service, User
from incidents.services import (
    analysis_lock,
    analysis_touch,
    audit_record,
    check_analysis_open,
    single_line,
)

PAGER_USERNAME = "pager"


def safe_url(url: str) -> str:
    """A link fit to show people: http(s) only, so a payload cannot smuggle in javascript: links."""
    return url if url.startswith(("https://", "http://")) else ""


def storable(text: str) -> str:
    """Text PostgreSQL can store: no NUL, no lone surrogates (a payload may carry both)."""
    if text.isascii():
        # The common case, and a cheap one to tell (CPython keeps it as a flag): no surrogates.
        return text.replace("\x00", "") if "\x00" in text else text
    return text.replace("\x00", "").encode("utf-8", "replace").decode()


def storable_json(value: dict[str, Any]) -> dict[str, Any]:
    return json.loads(storable(json.dumps(value, ensure_ascii=False).replace("\\u0000", "")))


def pager_account() -> User:
    """The account drafts from the pager are declared by: inactive, no password, never signs in."""
    user, created = User.objects.get_or_create(
        username=PAGER_USERNAME, defaults={"first_name": "Pager", "is_active": False}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _page_times(incident: Incident) -> dict[str, datetime | None]:
    """The page's times from all its events, whatever order they came in.

    Started and detected at the first trigger (or the first event, if the trigger is still on its
    way); acknowledged at the first acknowledgement; resolved at the last resolution, unless the
    page triggered again after it.
    """
    events = list(
        incident.evidence.filter(source=incident.source)
        .order_by("occurred_at", "id")
        .values("kind", "occurred_at")
    )
    first = events[0]["occurred_at"]
    triggers = [event["occurred_at"] for event in events if event["kind"] == Evidence.Kind.TRIGGERED]
    acks = [event["occurred_at"] for event in events if event["kind"] == Evidence.Kind.ACKNOWLEDGED]
    resolutions = [event["occurred_at"] for event in events if event["kind"] == Evidence.Kind.RESOLVED]
    detected = triggers[0] if triggers else first
    started = min(first, detected)
    resolved = resolutions[-1] if resolutions else None
    if resolved is not None and triggers and triggers[-1] > resolved:
        resolved = None
    return {
        "started_at": started,
        "detected_at": detected,
        "acknowledged_at": max(acks[0], detected) if acks else None,
        "resolved_at": max(resolved, detected) if resolved else None,
    }


def _incident_for_page(event: PagerEvent, service: Service) -> tuple[Incident, bool]:
    """The page's incident under a row lock, opened as a draft if this is its first event."""
    pages = Incident.objects.select_for_update().select_related("team")
    incident = pages.filter(source=event.source, external_id=event.page_id).first()
    if incident is not None:
        return incident, False
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                title=single_line(event.title)[:200],
                summary=f"Opened by {Incident.Source(event.source).label}. Confirm it as an incident of "
                "consequence, or dismiss it.",
                severity=event.severity,
                status=Incident.Status.DRAFT,
                team=service.team,
                service=service,
                started_at=event.occurred_at,
                detected_at=event.occurred_at,
                declared_by=pager_account(),
                source=event.source,
                external_id=event.page_id,
            )
    except IntegrityError:
        # Another delivery of the same page opened it first: use theirs.
        return pages.get(source=event.source, external_id=event.page_id), False
    return incident, True


def _propose_responders(incident: Incident, event: PagerEvent) -> list[Responder]:
    """The members the page names (by email), added as responders for the product manager to keep
    or remove when confirming."""
    emails = {person.email.casefold(): person for person in event.people if person.email}
    if not emails:
        return []
    by_email = reduce(operator.or_, (Q(email__iexact=email) for email in emails))
    members = User.objects.filter(by_email, is_active=True).order_by("pk")
    taken = set(incident.responders.values_list("user_id", flat=True))
    added = []
    for user in members:
        if user.pk in taken:
            continue
        person = emails[user.email.casefold()]
        added.append(Responder.objects.create(incident=incident, user=user, role=person.role))
        taken.add(user.pk)
    return added


@transaction.atomic
def page_record(*, event: PagerEvent) -> str:
    """Store one pager event as evidence on its page's incident, opening a draft for a new page.

    Returns "duplicate" (already stored: nothing changes), "unmapped" (no service's mapping claims
    the page), "opened" or "updated". A draft's times follow its page; once a product manager has
    confirmed it, the pager only fills times still empty (people's edits win).
    """
    if Evidence.objects.filter(source=event.source, external_id=event.event_id).exists():
        return "duplicate"
    existing = Incident.objects.filter(source=event.source, external_id=event.page_id).select_related(
        "service"
    )
    service = existing[0].service if existing else None
    if service is None:
        service = mapped_service(
            Service.objects.select_related("team"), source=event.source, route=event.route
        )
    if service is None:
        return "unmapped"
    incident, opened = _incident_for_page(event, service)
    try:
        with transaction.atomic():
            Evidence.objects.create(
                incident=incident,
                source=event.source,
                external_id=event.event_id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                text=event.text[:10_000],
                author_name=event.actor[:200],
                url=safe_url(event.url),
                raw=storable_json(event.raw),
            )
    except IntegrityError:
        return "duplicate"
    draft = incident.status == Incident.Status.DRAFT
    changed = []
    for name, value in _page_times(incident).items():
        current = getattr(incident, name)
        if (draft and current != value) or (current is None and value is not None):
            setattr(incident, name, value)
            changed.append(name)
    if changed:
        incident.save(update_fields=[*changed, "updated_at"])
    _propose_responders(incident, event)
    if opened:
        audit_record(actor=None, verb="incident.drafted", target=incident, team=incident.team)
    return "opened" if opened else "updated"


def check_draft(incident: Incident) -> None:
    if incident.status != Incident.Status.DRAFT:
        raise ValidationError("Only a draft from the pager can be confirmed or dismissed.")


@transaction.atomic
def incident_confirm(*, incident: Incident, by: User) -> Incident:
    """The product manager confirms the draft as an incident of consequence: from now on it is
    declared like any other (analyses, review, narrative)."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    check_draft(locked)
    locked.status = Incident.Status.DECLARED
    locked.declared_by = by
    locked.save(update_fields=["status", "declared_by", "updated_at"])
    audit_record(actor=by, verb="incident.confirmed", target=locked, team=locked.team)
    return locked


@transaction.atomic
def incident_dismiss(*, incident: Incident, by: User) -> Incident:
    """The product manager dismisses the draft: the page was not of consequence. The row stays, so
    later events of the same page land on it rather than opening a new draft."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    check_draft(locked)
    locked.status = Incident.Status.DISMISSED
    locked.save(update_fields=["status", "updated_at"])
    audit_record(actor=by, verb="incident.dismissed", target=locked, team=locked.team)
    return locked


@transaction.atomic
def evidence_promote(
    *, evidence: Evidence, analysis: AnalysisSession, by: User, marker: str, note: str = ""
) -> KeyEvent:
    """One of the analyst's own key events from a piece of the incident's evidence, with a marker.

    The key event keeps the evidence's time and link; its description is the analyst's note, or the
    evidence's own text when they wrote none.
    """
    locked = analysis_lock(analysis)
    check_analysis_open(locked)
    if evidence.incident_id != locked.incident_id:
        raise ValidationError({"analysis": "This evidence belongs to another incident."})
    if marker not in KeyEvent.Marker.values:
        raise ValidationError({"marker": f"Choose one of: {', '.join(KeyEvent.Marker.values)}."})
    description = note.strip() or f"{evidence.who}: {evidence.text}".strip()
    event = KeyEvent(
        analysis=locked,
        incident_id=locked.incident_id,
        occurred_at=evidence.occurred_at,
        description=description[:2000],
        evidence_url=safe_url(evidence.url)[:500],
        evidence=evidence,
        marker=marker,
    )
    event.full_clean()
    event.save()
    analysis_touch(locked)
    audit_record(
        actor=by,
        verb="key_event.promoted",
        target=event,
        team=locked.incident.team,
        changes={"evidence": evidence.pk, "marker": marker},
    )
    return event


def evidence_purge(*, now: datetime | None = None) -> int:
    """Retention: chat messages older than EVIDENCE_RETENTION_DAYS are deleted, except those an
    analyst promoted, whose raw payload is cleared; the key events stay. Returns rows deleted.

    Pager events are the incident's own record of detection and are kept.
    """
    days = settings.EVIDENCE_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = Evidence.objects.exclude(source__in=PAGER_SOURCES).filter(created_at__lt=cutoff)
    promoted = KeyEvent.objects.filter(evidence__isnull=False).values("evidence_id")
    old.filter(pk__in=promoted).update(raw={})
    deleted, _ = old.exclude(pk__in=promoted).delete()
    return deleted
