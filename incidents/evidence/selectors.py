"""Reads of evidence, shaped for a fixed number of queries whatever the transcript's length."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet

from incidents.access import managed_teams, readable_analyses_q
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


NO_MARKER = "unmarked"


@dataclass(frozen=True)
class EvidencePick:
    """One piece of evidence as the analysts picked it: `analysts` is how many promoted it, and
    `markers` how many of them under each marker (an analyst who promoted it twice under two
    markers counts under both)."""

    evidence: Evidence
    analysts: int
    markers: dict[str, int]

    @property
    def agreed(self) -> bool:
        """Two or more analysts picked it, all under the same marker."""
        return self.analysts > 1 and len(self.markers) == 1

    @property
    def differed(self) -> bool:
        return len(self.markers) > 1

    @property
    def marker_counts(self) -> list[tuple[str, int]]:
        """(marker label, analysts), the most picked first, then in the markers' own order."""
        labels = dict(KeyEvent.Marker.choices) | {NO_MARKER: "No marker"}
        order = [*KeyEvent.Marker.values, NO_MARKER]
        ranked = sorted(self.markers.items(), key=lambda item: (-item[1], order.index(item[0])))
        return [(labels[marker], count) for marker, count in ranked]


def evidence_picks(*, incident: Incident, viewer: User) -> list[EvidencePick]:
    """For each piece of evidence promoted in the analyses `viewer` may read (the submitted ones,
    and their own — `readable_analyses_q`, so a draft analysis's picks never show to others), how
    many analysts picked it and under which markers: where perspectives agree and where they differ.

    Two queries whatever the number of analyses: the distinct (evidence, marker, analyst) picks,
    then the evidence picked, in time order.
    """
    picks = (
        KeyEvent.objects.filter(
            readable_analyses_q(viewer, prefix="analysis__"), incident=incident, evidence__isnull=False
        )
        .values_list("evidence_id", "marker", "analysis__analyst_id")
        .distinct()
        .order_by()
    )
    markers: dict[int, dict[str, set[int]]] = {}
    analysts: dict[int, set[int]] = {}
    for evidence_id, marker, analyst_id in picks:
        markers.setdefault(evidence_id, {}).setdefault(marker or NO_MARKER, set()).add(analyst_id)
        analysts.setdefault(evidence_id, set()).add(analyst_id)
    evidence = (
        Evidence.objects.filter(pk__in=markers)
        .select_related("author")
        .defer("raw")
        .order_by("occurred_at", "id")
    )
    return [
        EvidencePick(
            evidence=item,
            analysts=len(analysts[item.pk]),
            markers={marker: len(people) for marker, people in markers[item.pk].items()},
        )
        for item in evidence
    ]


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
