"""Reads of evidence, shaped for a fixed number of queries whatever the transcript's length."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from incidents.access import managed_teams
from incidents.evidence.models import Evidence
from incidents.models import AnalysisSession, Incident, KeyEvent, User

MAX_SEARCH = 200


@dataclass(frozen=True)
class EvidenceFilter:
    """What the evidence list is narrowed to: a source, a person (member id or name), a search."""

    source: str = ""
    person: str = ""
    query: str = ""


def evidence_list(*, incident: Incident, filters: EvidenceFilter = EvidenceFilter()) -> QuerySet[Evidence]:
    """The incident's evidence in time order, filtered; callers page it by keyset (`evidence_after`)."""
    evidence = incident.evidence.select_related("author").defer("raw").order_by("occurred_at", "id")
    if filters.source:
        evidence = evidence.filter(source=filters.source)
    person = filters.person.strip()
    if person.isdigit():
        evidence = evidence.filter(author_id=int(person))
    elif person:
        evidence = evidence.filter(Q(author_name__iexact=person) | Q(author_email__iexact=person))
    query = filters.query.strip()[:MAX_SEARCH]
    if query:
        evidence = evidence.filter(text__icontains=query)
    return evidence


def evidence_after(evidence: QuerySet[Evidence], *, occurred_at: datetime, pk: int) -> QuerySet[Evidence]:
    """Keyset pagination: the rows after (occurred_at, pk), using the evidence_timeline index."""
    return evidence.filter(Q(occurred_at__gt=occurred_at) | Q(occurred_at=occurred_at, pk__gt=pk))


def evidence_people(*, incident: Incident) -> QuerySet[User]:
    """Members who wrote or acted in the incident's evidence, for the person filter."""
    return User.objects.filter(
        pk__in=incident.evidence.filter(author__isnull=False).values("author_id")
    ).order_by("first_name", "username")


def evidence_promoted_by(*, analysis: AnalysisSession) -> dict[int, str]:
    """Evidence id → marker, for what this analysis promoted (to mark it in the panel)."""
    return dict(
        analysis.key_events.filter(evidence__isnull=False).values_list("evidence_id", "marker").order_by("id")
    )


@dataclass(frozen=True)
class EvidencePick:
    evidence: Evidence
    analysts: int
    markers: dict[str, int]


def evidence_picks(*, incident: Incident, viewer: User | None = None) -> list[EvidencePick]:
    """For each piece of evidence promoted in the submitted analyses (and the viewer's own), how many
    analysts picked it and under which markers: where perspectives agree and where they differ.

    Two queries: the counts per evidence and marker, then the evidence rows.
    """
    shown = Q(analysis__status=AnalysisSession.Status.SUBMITTED)
    if viewer is not None:
        shown |= Q(analysis__analyst=viewer)
    rows = (
        KeyEvent.objects.filter(shown, incident=incident, evidence__isnull=False)
        .values("evidence_id", "marker")
        .annotate(analysts=Count("analysis__analyst", distinct=True))
        .order_by()
    )
    markers: dict[int, dict[str, int]] = {}
    analysts: dict[int, set[int]] = {}
    for row in rows:
        markers.setdefault(row["evidence_id"], {})[row["marker"] or "unmarked"] = row["analysts"]
    for evidence_id, analyst_id in (
        KeyEvent.objects.filter(shown, incident=incident, evidence__isnull=False)
        .values_list("evidence_id", "analysis__analyst_id")
        .distinct()
    ):
        analysts.setdefault(evidence_id, set()).add(analyst_id)
    evidence = (
        Evidence.objects.filter(pk__in=markers)
        .select_related("author")
        .defer("raw")
        .order_by("occurred_at", "id")
    )
    return [EvidencePick(item, len(analysts[item.pk]), markers[item.pk]) for item in evidence]


def pager_drafts(*, viewer: User) -> QuerySet[Incident]:
    """Drafts from the pager in the teams the viewer manages, newest first."""
    return (
        Incident.objects.filter(status=Incident.Status.DRAFT, team__in=managed_teams(viewer))
        .select_related("team", "service")
        .annotate(
            event_count=Count("evidence", distinct=True), responder_count=Count("responders", distinct=True)
        )
        .order_by("-started_at", "-id")
    )
