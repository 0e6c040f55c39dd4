"""Reads for reviews, actions and the narrative library, each with a fixed number of queries."""

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    Model,
    OrderBy,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
    prefetch_related_objects,
)
from django.utils import timezone

from incidents.access import count_visible, sees_everything, visible_incidents_q
from incidents.models import AnalysisSession, AuditEntry, Incident, LearningTheme, User, member_name
from incidents.selectors import TimelineSources, shows_in_timeline, timeline_event_count
from reviews.access import readable_drafts_q, readable_narratives_q
from reviews.models import (
    ContributingFactor,
    FactorSuggestion,
    ImprovementAction,
    Learning,
    Narrative,
    Perspective,
    Review,
    Training,
    Walkthrough,
)
from ybiyri.db import narrowed

SEARCH_CONFIG = "english"
# A search counts its matches up to this many: counting every match of a common word would read
# the stored vector of thousands of narratives to print one number.
SEARCH_RESULTS_CAP = 200


class SearchResults:
    """The library's search results in two tiers, each newest first: narratives whose title matches,
    then those that match in the body alone.

    Each tier is read in the order of an index (the title's expression index, the library's
    publication-date index), so the first page of a common word reads a few dozen rows instead of
    ranking every match. The ids of up to `SEARCH_RESULTS_CAP` matches are read once (a query per
    tier), then a page's rows by id. A sequence for `Paginator`: `count()` stops at the cap, and
    `capped` says whether there were more.
    """

    def __init__(
        self, rows: QuerySet[Narrative], title_hits: QuerySet[Narrative], body_hits: QuerySet[Narrative]
    ) -> None:
        self.rows = rows
        self.title_hits = title_hits
        self.body_hits = body_hits
        self._ids: list[int] | None = None

    def _matching_ids(self) -> list[int]:
        if self._ids is None:
            wanted = SEARCH_RESULTS_CAP + 1
            ids = list(self.title_hits.values_list("id", flat=True)[:wanted])
            if len(ids) < wanted:
                ids += self.body_hits.values_list("id", flat=True)[: wanted - len(ids)]
            self._ids = ids
        return self._ids

    @property
    def capped(self) -> bool:
        return len(self._matching_ids()) > SEARCH_RESULTS_CAP

    def count(self) -> int:
        return min(len(self._matching_ids()), SEARCH_RESULTS_CAP)

    def __getitem__(self, index: slice) -> list[Narrative]:
        if not isinstance(index, slice) or index.step is not None:
            raise TypeError("Search results are read in slices.")
        start, stop = index.start or 0, min(index.stop or SEARCH_RESULTS_CAP, SEARCH_RESULTS_CAP)
        page = self._matching_ids()[start:stop]
        if not page:
            return []
        found = {narrative.pk: narrative for narrative in self.rows.filter(pk__in=page)}
        return [found[pk] for pk in page if pk in found]

    def __iter__(self) -> Iterator[Narrative]:
        return iter(self[0:SEARCH_RESULTS_CAP])


@dataclass(frozen=True)
class LoopState:
    """How far the incident's learning loop has come: the narrative goes out once it is closed."""

    open_analyses: list[AnalysisSession]
    review: Review | None

    @property
    def review_held(self) -> bool:
        return self.review is not None and self.review.status == Review.Status.HELD

    @property
    def missing(self) -> list[str]:
        """What is still open, in the words of the API: ``analyses`` and/or ``review``."""
        return (["analyses"] if self.open_analyses else []) + ([] if self.review_held else ["review"])

    @property
    def closed(self) -> bool:
        return not self.missing


def loop_state(*, incident: Incident) -> LoopState:
    """Analyses neither submitted nor waived, and the review, in two queries."""
    open_analyses = list(
        AnalysisSession.objects.filter(incident=incident, waived_at__isnull=True)
        .exclude(status=AnalysisSession.Status.SUBMITTED)
        .select_related("analyst")
        .order_by("due_at", "id")
    )
    return LoopState(open_analyses=open_analyses, review=Review.objects.filter(incident=incident).first())


def review_list(*, viewer: User) -> QuerySet[Review]:
    """Reviews of the incidents the viewer sees, with their attendees, by scheduled time."""
    return (
        Review.objects.filter(visible_incidents_q(viewer, prefix="incident__"))
        .prefetch_related("attendees")
        .order_by("scheduled_at", "id")
    )


def review_factors(*, viewer: User) -> QuerySet[ContributingFactor]:
    """Contributing factors of the reviews the viewer sees, with what they trace to."""
    return (
        ContributingFactor.objects.filter(visible_incidents_q(viewer, prefix="review__incident__"))
        .prefetch_related("themes", "key_events")
        .order_by("created_at", "id")
    )


def review_learnings(*, viewer: User) -> QuerySet[Learning]:
    """Learnings of the reviews the viewer sees, ranked within each review."""
    return (
        Learning.objects.filter(visible_incidents_q(viewer, prefix="review__incident__"))
        .prefetch_related("factors")
        .order_by("review_id", "rank", "id")
    )


def training_list() -> QuerySet[Training]:
    """Every training, newest first, with its team, trainer and attendees: the trainings page and
    the API's trainings."""
    return (
        Training.objects.select_related("team", "trainer")
        .prefetch_related("attendees")
        .order_by("-held_on", "-id")
    )


def reviews_upcoming(*, user: User) -> QuerySet[Review]:
    """Scheduled reviews the user attends or facilitates, soonest first."""
    return (
        Review.objects.filter(Q(attendees=user) | Q(facilitator=user), status=Review.Status.SCHEDULED)
        .filter(scheduled_at__gte=timezone.now() - timedelta(hours=3))
        .select_related("incident")
        .distinct()
        .order_by("scheduled_at")
    )


def narratives_recent(*, viewer: User) -> QuerySet[Narrative]:
    return (
        Narrative.objects.filter(readable_narratives_q(viewer))
        .select_related("incident__team", "incident__service")
        .defer("search_vector")
        .order_by("-published_at", "-id")
    )


def review_detail(*, review: Review) -> Review:
    """`review`, as `access_review` read it (with its incident's team and service and its
    facilitator), with everything else the facilitation page shows prefetched onto it, in a fixed
    number of queries."""
    prefetch_related_objects(
        [review],
        Prefetch("attendees", User.objects.order_by("first_name", "last_name", "username")),
        "factors__themes",
        "factors__key_events",
        "learnings__factors",
        Prefetch("perspectives", Perspective.objects.select_related("author")),
        Prefetch("factor_suggestions", FactorSuggestion.objects.select_related("suggested_by")),
        Prefetch(
            "actions",
            ImprovementAction.objects.select_related("owner")
            .prefetch_related("learnings", "factors")
            .order_by("raised_at", "id"),
        ),
    )
    return review


def review_live_token(*, review: Review) -> str:
    """What the facilitation page shows changes when this does: the review's revision, its actions
    (also changed by the backlog sync) and the submitted analyses. One query."""
    submitted = (
        AnalysisSession.objects.filter(
            incident_id=OuterRef("incident_id"), status=AnalysisSession.Status.SUBMITTED
        )
        .order_by()
        .values("incident_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    state = (
        Review.objects.filter(pk=review.pk)
        .annotate(
            actions_count=Count("actions"),
            actions_changed=Max("actions__updated_at"),
            submitted=Subquery(submitted),
        )
        .values("revision", "status", "actions_count", "actions_changed", "submitted")
        .get()
    )
    changed = state["actions_changed"].timestamp() if state["actions_changed"] else 0
    return (
        f"{state['revision']}-{state['status']}-{state['actions_count']}-{changed}-{state['submitted'] or 0}"
    )


@dataclass(frozen=True)
class ReviewAnalyses:
    """The incident's analyses as the review's first step shows them: the submitted ones in the
    order they came in, with their themes and interviews, those still to come by due date, and the
    sources of the merged timeline among them."""

    submitted: Sequence[AnalysisSession]
    unsubmitted: Sequence[AnalysisSession]
    timeline: TimelineSources


def review_analyses(*, review: Review, viewer: User) -> ReviewAnalyses:
    """The incident's analyses with their analysts, read once for both lists and the timeline
    `viewer` sees: three queries."""
    analyses = list(
        AnalysisSession.objects.filter(incident_id=review.incident_id)
        .select_related("analyst")
        .annotate(timeline_event_count=timeline_event_count())
        .order_by("submitted_at", "due_at", "id")
    )
    submitted = [analysis for analysis in analyses if analysis.is_submitted]
    prefetch_related_objects(submitted, "themes", "interviews")
    unsubmitted = sorted(
        (analysis for analysis in analyses if not analysis.is_submitted),
        key=lambda analysis: (analysis.due_at, analysis.pk),
    )
    shown = [analysis for analysis in analyses if shows_in_timeline(analysis, viewer)]
    timeline = TimelineSources(
        analysts={analysis.pk: analysis.analyst.display_name for analysis in shown},
        event_count=sum(analysis.timeline_event_count for analysis in shown),
    )
    return ReviewAnalyses(submitted=submitted, unsubmitted=unsubmitted, timeline=timeline)


# The backlog's orders, as its filters name them: the page's sort and the API's `ordering`.
ACTION_SORTS = {
    "-raised_at": "Newest first",
    "raised_at": "Oldest first (longest delay)",
    "priority": "Priority",
    "due_date": "Due date",
    "status": "Status",
}


def backlog_filtered(
    *, team_id: int | None, status: str, priority: str, owner_id: int | None, incident_id: int | None
) -> QuerySet[ImprovementAction]:
    """Improvement actions as the backlog's filters narrow them, whoever looks."""
    return narrowed(
        ImprovementAction.objects.all(),
        incident__team_id=team_id,
        status=status,
        priority=priority,
        owner_id=owner_id,
        incident_id=incident_id,
    )


def action_backlog_count(
    *,
    viewer: User,
    team_id: int | None = None,
    status: str = "",
    priority: str = "",
    owner_id: int | None = None,
    incident_id: int | None = None,
) -> int:
    """How many actions `action_backlog` holds for the same viewer and filters, counted by index."""
    actions = backlog_filtered(
        team_id=team_id, status=status, priority=priority, owner_id=owner_id, incident_id=incident_id
    )
    return count_visible(viewer, actions, prefix="incident__")


def action_backlog(
    *,
    viewer: User,
    team_id: int | None = None,
    status: str = "",
    priority: str = "",
    owner_id: int | None = None,
    incident_id: int | None = None,
    ordering: str = "-raised_at",
) -> QuerySet[ImprovementAction]:
    """Improvement actions across the incidents the viewer can see, with their age so far."""
    actions = (
        backlog_filtered(
            team_id=team_id, status=status, priority=priority, owner_id=owner_id, incident_id=incident_id
        )
        .filter(visible_incidents_q(viewer, prefix="incident__"))
        .select_related("incident__team", "owner")
        .prefetch_related("learnings", "factors")
    )
    priority_rank = Case(
        *[
            When(priority=value, then=Value(index))
            for index, value in enumerate(ImprovementAction.Priority.values)
        ],
        output_field=IntegerField(),
    )
    orderings: dict[str, tuple[str | OrderBy, str]] = {
        "-raised_at": ("-raised_at", "-id"),
        "raised_at": ("raised_at", "id"),
        "priority": (priority_rank.asc(), "raised_at"),
        "due_date": (F("due_date").asc(nulls_last=True), "raised_at"),
        "status": ("status", "-raised_at"),
    }
    return actions.order_by(*orderings.get(ordering, orderings["-raised_at"]))


def action_links(*, action_ids: list[int]) -> tuple[dict[int, list[int]], dict[int, list[int]]]:
    """The learnings and the contributing factors each of the actions traces to, as ids in their
    models' order, read from the link tables in two queries: for a list's page."""
    learnings = _linked(ImprovementAction.learnings.through, "learning", "rank", action_ids)
    factors = _linked(ImprovementAction.factors.through, "contributingfactor", "created_at", action_ids)
    return learnings, factors


def _linked(through: type[Model], target: str, order: str, action_ids: list[int]) -> dict[int, list[int]]:
    """The ids of the `target` rows each action links to through `through`, by `order` then id."""
    linked: dict[int, list[int]] = {pk: [] for pk in action_ids}
    links = (
        through._default_manager.filter(improvementaction_id__in=action_ids)
        .order_by(f"{target}__{order}", f"{target}_id")
        .values_list("improvementaction_id", f"{target}_id")
    )
    for action_id, target_id in links:
        linked[action_id].append(target_id)
    return linked


def narrative_library(
    *,
    viewer: User,
    query: str = "",
    team_id: int | None = None,
    service_id: int | None = None,
    severity: str = "",
    theme_id: int | None = None,
) -> QuerySet[Narrative] | SearchResults:
    """Published narratives the viewer may read: newest first; when searching, title matches first.

    On PostgreSQL the search uses the stored tsvector (GIN index) and the title's expression index,
    in `SearchResults`' two tiers; on SQLite it falls back to substring matching, title matches first.
    """
    narratives = (
        library_filtered(team_id=team_id, service_id=service_id, severity=severity, theme_id=theme_id)
        .filter(readable_narratives_q(viewer))
        .select_related("incident__team", "incident__service")
        .defer("body", "search_vector")
    )
    query = query.strip()
    if not query:
        return narratives.order_by("-published_at", "-id")
    if connection.vendor == "postgresql":
        search = SearchQuery(query, config=SEARCH_CONFIG, search_type="websearch")
        title_hit = Q(title_vector=search)
        titled = narratives.annotate(title_vector=SearchVector("title", config=SEARCH_CONFIG))
        newest = ("-published_at", "-id")
        return SearchResults(
            narratives,
            titled.filter(title_hit).order_by(*newest),
            titled.filter(search_vector=search).exclude(title_hit).order_by(*newest),
        )
    words = query.split()
    title_hit = Q()
    any_hit = Q()
    for word in words:
        title_hit &= Q(title__icontains=word)
        any_hit &= Q(title__icontains=word) | Q(body__icontains=word)
    return (
        narratives.filter(any_hit)
        .annotate(rank=Case(When(title_hit, then=Value(1)), default=Value(0), output_field=IntegerField()))
        .order_by("-rank", "-published_at", "-id")
    )


def narrative_drafts(*, viewer: User) -> QuerySet[Narrative]:
    """Draft narratives the viewer may read (`readable_drafts_q`), the most recently changed first:
    the library page's "Drafts" section and the API's `?status=draft`."""
    return (
        Narrative.objects.filter(readable_drafts_q(viewer))
        .select_related("incident__team")
        .defer("body", "search_vector")
        .order_by("-updated_at", "-id")
    )


def library_filtered(
    *, team_id: int | None, service_id: int | None, severity: str, theme_id: int | None
) -> QuerySet[Narrative]:
    """Published narratives as the library's filters narrow them, whoever reads."""
    narratives = narrowed(
        Narrative.objects.filter(status=Narrative.Status.PUBLISHED),
        incident__team_id=team_id,
        incident__service_id=service_id,
        incident__severity=severity,
    )
    if theme_id:
        themed = AnalysisSession.objects.filter(themes__id=theme_id, status=AnalysisSession.Status.SUBMITTED)
        narratives = narratives.filter(incident_id__in=themed.values("incident_id"))
    return narratives


def narrative_library_count(
    *,
    viewer: User,
    team_id: int | None = None,
    service_id: int | None = None,
    severity: str = "",
    theme_id: int | None = None,
) -> int:
    """How many narratives the unsearched library lists for the viewer and filters, in one COUNT read
    from an index: the published narratives but those of the confidential incidents the viewer may
    not see. Those incidents are few (the confidential incidents' partial index) and PostgreSQL
    hashes them once; the published narratives' incident ids are read from their own partial index,
    where a COUNT over the readable rule would join every narrative to its incident."""
    narratives = library_filtered(
        team_id=team_id, service_id=service_id, severity=severity, theme_id=theme_id
    )
    if sees_everything(viewer):
        return narratives.count()
    hidden = Incident.objects.filter(confidential=True).exclude(visible_incidents_q(viewer)).values("id")
    return narratives.exclude(incident_id__in=hidden).count()


def narrative_related(*, narrative: Narrative, viewer: User, limit: int = 5) -> QuerySet[Narrative]:
    """Other readable narratives whose incidents share learning themes with this one, most shared first."""
    theme_ids = LearningTheme.objects.filter(
        analyses__incident_id=narrative.incident_id, analyses__status=AnalysisSession.Status.SUBMITTED
    ).values("id")
    return (
        Narrative.objects.filter(readable_narratives_q(viewer))
        .exclude(pk=narrative.pk)
        .filter(incident__analyses__themes__in=theme_ids)
        .annotate(shared_themes=Count("incident__analyses__themes", distinct=True))
        .select_related("incident__team")
        .defer("body", "search_vector")
        .order_by("-shared_themes", "-published_at")[:limit]
    )


def narrative_themes(*, narrative: Narrative) -> QuerySet[LearningTheme]:
    return (
        LearningTheme.objects.filter(
            analyses__incident_id=narrative.incident_id, analyses__status=AnalysisSession.Status.SUBMITTED
        )
        .distinct()
        .order_by("name")
    )


def narrative_actions(*, narrative: Narrative) -> QuerySet[ImprovementAction]:
    """The incident's improvement actions as they stand now (status read live, not from the text),
    with what they trace back to, in a fixed number of queries."""
    return (
        ImprovementAction.objects.filter(incident_id=narrative.incident_id)
        .select_related("owner")
        .prefetch_related("learnings", "factors")
        .order_by("raised_at", "id")
    )


@dataclass(frozen=True)
class Reach:
    """How many people read a narrative, and the names of the latest `limit` of them."""

    count: int
    latest: Sequence[str]


def narrative_reach(*, narrative: Narrative, limit: int = 20) -> Reach:
    """The narrative's readers, latest first, with their number counted by the same query."""
    rows = list(
        narrative.reads.annotate(readers=Window(Count("id")))
        .order_by("-first_read_at", "-id")
        .values_list("reader__first_name", "reader__last_name", "reader__username", "readers")[:limit]
    )
    names = [
        member_name(first_name=first, last_name=last, username=username) for first, last, username, _ in rows
    ]
    return Reach(count=rows[0][3] if rows else 0, latest=names)


def narrative_walkthroughs(*, narrative: Narrative) -> QuerySet[Walkthrough]:
    return narrative.walkthroughs.filter(status=Walkthrough.Status.SCHEDULED).select_related("presenter")


def narrative_feed(*, viewer: User, limit: int = 50) -> QuerySet[Narrative]:
    return narratives_recent(viewer=viewer)[:limit]


def narrative_feed_fingerprint(*, viewer: User, limit: int = 50) -> str:
    """Changes whenever the viewer's feed would: which entries it lists, their revisions and what
    their titles and categories name. One query that reads no bodies, so that a reader polling with
    the feed's ETag is answered without rendering it."""
    rows = narratives_recent(viewer=viewer).values_list(
        "pk",
        "version",
        "updated_at",
        "incident__updated_at",
        "incident__severity",
        "incident__team__name",
        "incident__service__name",
    )[:limit]
    return hashlib.sha256(repr(list(rows)).encode()).hexdigest()[:32]


def action_history(*, action: ImprovementAction, limit: int = 50) -> QuerySet[AuditEntry]:
    """The action's audit trail, newest first: who changed what (no actor: the tracker).

    Its entries carry the incident's team, whose index narrows the search to that team's entries.
    """
    return AuditEntry.objects.filter(
        team_id=action.incident.team_id,
        target_type=ImprovementAction._meta.label_lower,
        target_id=str(action.pk),
    ).select_related("actor")[:limit]
