"""Reads that shape queries: a fixed number of queries per page, whatever the data."""

from dataclasses import dataclass

from django.db.models import (
    Avg,
    BooleanField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce

from incidents.access import (
    count_visible,
    readable_analyses_q,
    sees_everything,
    user_managed_team_ids,
    visible_incidents_q,
)
from incidents.models import (
    AnalysisSession,
    Incident,
    Interview,
    KeyEvent,
    LearningTheme,
    Responder,
    Service,
    Team,
    User,
)
from ybiyri.db import narrowed


def member_directory() -> QuerySet[User]:
    """The organisation's active members by username: the API's users and the people picker."""
    return User.objects.filter(is_active=True).order_by("username")


def team_directory() -> QuerySet[Team]:
    """Every product team with its people, by name."""
    return Team.objects.prefetch_related("members", "product_managers").order_by("name")


def service_directory() -> QuerySet[Service]:
    """Every service with its teams, by name: the API's services, and the services page's
    catalogue (`service_catalogue`) with its figures."""
    return Service.objects.select_related("team", "on_call_team").order_by("name")


def theme_taxonomy() -> QuerySet[LearningTheme]:
    """The organisation-wide learning themes, by name."""
    return LearningTheme.objects.order_by("name")


def incident_list(
    *,
    viewer: User,
    team_id: int | None = None,
    severity: str = "",
    status: str = "",
    query: str = "",
) -> QuerySet[Incident]:
    """Incidents the viewer may see, newest first, filtered; ready for the list page."""
    incidents = incidents_filtered(team_id=team_id, severity=severity, status=status, query=query)
    return (
        incidents.filter(visible_incidents_q(viewer))
        .select_related("team", "service")
        .annotate(
            responder_count=count_per_incident(Responder.objects.all()),
            submitted_count=count_per_incident(
                AnalysisSession.objects.filter(status=AnalysisSession.Status.SUBMITTED)
            ),
            analysis_count=count_per_incident(AnalysisSession.objects.all()),
        )
        .order_by("-started_at", "-id")
    )


def incident_list_count(
    *, viewer: User, team_id: int | None = None, severity: str = "", status: str = "", query: str = ""
) -> int:
    """How many incidents `incident_list` holds for the same viewer and filters, counted by index."""
    incidents = incidents_filtered(team_id=team_id, severity=severity, status=status, query=query)
    return count_visible(viewer, incidents)


def incidents_filtered(*, team_id: int | None, severity: str, status: str, query: str) -> QuerySet[Incident]:
    return narrowed(
        Incident.objects.all(),
        team_id=team_id,
        severity=severity,
        status=status,
        title__icontains=query.strip(),
    )


def incident_list_with_responders(*, viewer: User) -> QuerySet[Incident]:
    """`incident_list` with each incident's responders, their people and analyses (the API's incidents)."""
    responders = Responder.objects.select_related("user", "analysis").order_by("id")
    return incident_list(viewer=viewer).prefetch_related(Prefetch("responders", responders))


def responders_of(*, incident_ids: list[int]) -> QuerySet[Responder]:
    """The responders of the incidents of a list's page, in the order each incident lists them."""
    return Responder.objects.filter(incident_id__in=incident_ids).order_by("id")


def count_per_incident(rows: QuerySet) -> Coalesce:
    """How many of `rows` belong to each incident, as a correlated subquery: PostgreSQL counts them
    for the incidents of the page only, where joins and GROUP BY would count them for every incident
    the viewer may see before sorting and cutting the page."""
    counted = (
        rows.filter(incident_id=OuterRef("pk")).order_by().values("incident_id").annotate(count=Count("*"))
    )
    return Coalesce(Subquery(counted.values("count")), 0)


def timeline_shown_q(viewer: User | None = None, prefix: str = "") -> Q:
    """The analyses whose key events the merged timeline shows: the submitted ones, and the viewer's
    own still in progress (an analysis is readable by the incident's participants only once
    submitted, and so are the events it established); `prefix` reaches them through a relation."""
    shown = Q(**{f"{prefix}status": AnalysisSession.Status.SUBMITTED})
    if viewer is not None:
        shown |= Q(**{f"{prefix}analyst": viewer})
    return shown


def shows_in_timeline(analysis: AnalysisSession, viewer: User) -> bool:
    """Whether the merged timeline shows the analysis's key events (the row form of `timeline_shown_q`)."""
    return analysis.is_submitted or analysis.analyst_id == viewer.pk


def incident_timeline(*, incident: Incident, viewer: User | None = None) -> QuerySet[KeyEvent]:
    """The merged timeline: key events of the analyses `timeline_shown_q` names, ordered, each with
    whose analysis it came from."""
    return (
        # The analyses' incident as well as the events': the planner then reads the incident's few
        # analyses by index instead of hashing every analysis of the organisation.
        KeyEvent.objects.filter(incident=incident, analysis__incident=incident)
        .filter(timeline_shown_q(viewer, prefix="analysis__"))
        .select_related("analysis__analyst")
        .order_by("occurred_at", "id")
    )


def timeline_event_count() -> Count:
    """How many key events each analysis put on its incident's timeline, as an annotation: added
    up, they count the timeline without a query of its own (`TimelineSources.event_count`)."""
    return Count("key_events", filter=Q(key_events__incident_id=F("incident_id")))


@dataclass(frozen=True)
class TimelineSources:
    """The analyses whose key events the merged timeline shows: their analysts' names by analysis
    id, and how many events they put on it."""

    analysts: dict[int, str]
    event_count: int


def timeline_sources(*, incident: Incident, viewer: User) -> TimelineSources:
    """The sources of the incident's merged timeline as `viewer` sees it, in one query."""
    analyses = list(
        AnalysisSession.objects.filter(timeline_shown_q(viewer), incident=incident)
        .select_related("analyst")
        .only("incident_id", "status", "analyst")
        .annotate(timeline_event_count=timeline_event_count())
    )
    return TimelineSources(
        analysts={analysis.pk: analysis.analyst.display_name for analysis in analyses},
        event_count=sum(analysis.timeline_event_count for analysis in analyses),
    )


def timeline_events(*, incident: Incident, analysis_ids: list[int]) -> QuerySet[KeyEvent]:
    """The key events of the given analyses of the incident, in time order, with the columns the
    timeline shows. No join: PostgreSQL reads the incident's events and keeps those of the analyses
    named, where a join to each event's analysis and analyst would read and sort them all before
    cutting the page."""
    return (
        KeyEvent.objects.filter(incident=incident, analysis_id__in=analysis_ids)
        .only("analysis_id", "occurred_at", "description", "evidence_url")
        .order_by("occurred_at", "id")
    )


def incident_responders(*, incident: Incident) -> QuerySet[Responder]:
    """Responders with their analysis (if allocated), in one query."""
    return incident.responders.select_related("user", "analysis").order_by("id")


def incident_outcomes(*, incident: Incident) -> Incident:
    """The incident with its review and narrative as its page links to them (their ids and
    statuses), read in one query; the relations raise DoesNotExist when there is none yet."""
    return (
        Incident.objects.select_related("review", "narrative")
        .only("review__status", "narrative__status")
        .get(pk=incident.pk)
    )


def incident_themes(*, incident: Incident) -> QuerySet[LearningTheme]:
    """Themes uncovered by the incident's submitted analyses, with how many analyses named each."""
    return (
        LearningTheme.objects.filter(
            analyses__incident=incident, analyses__status=AnalysisSession.Status.SUBMITTED
        )
        .annotate(analysis_count=Count("analyses", distinct=True))
        .order_by("-analysis_count", "name")
    )


def analysis_detail(*, analysis_id: int) -> AnalysisSession:
    return (
        AnalysisSession.objects.select_related("incident__team", "incident__service", "analyst", "responder")
        .prefetch_related(
            "interviews", "themes", Prefetch("key_events", KeyEvent.objects.order_by("occurred_at"))
        )
        .get(pk=analysis_id)
    )


def readable_analyses(*, viewer: User) -> QuerySet[AnalysisSession]:
    """Analyses the viewer may read (`readable_analyses_q`), by due date."""
    return (
        AnalysisSession.objects.filter(readable_analyses_q(viewer))
        .prefetch_related("themes")
        .order_by("due_at", "id")
    )


def readable_interviews(*, viewer: User) -> QuerySet[Interview]:
    """Interviews of the analyses the viewer may read, in the order they were held."""
    return Interview.objects.filter(readable_analyses_q(viewer, prefix="analysis__")).order_by(
        "held_at", "id"
    )


def readable_key_events(*, viewer: User) -> QuerySet[KeyEvent]:
    """Key events of the analyses the viewer may read, with their analyst."""
    return KeyEvent.objects.filter(readable_analyses_q(viewer, prefix="analysis__")).select_related(
        "analysis__analyst"
    )


def my_analyses(*, user: User) -> QuerySet[AnalysisSession]:
    """The user's own analyses, open ones first by due date, then recently submitted."""
    return (
        AnalysisSession.objects.filter(analyst=user)
        .select_related("incident__team", "incident__service")
        .order_by("status", "due_at")
    )


def incidents_awaiting_allocation(*, user: User) -> QuerySet[Incident]:
    """Incidents in the user's managed teams that have responders without an analysis; drafts from
    the pager (with the responders it proposed) wait for confirmation first, and are not offered."""
    managed = (
        Incident.objects.all()
        if sees_everything(user)
        else Incident.objects.filter(team_id__in=user_managed_team_ids(user))
    )
    return (
        managed.filter(responders__analysis__isnull=True)
        .exclude(status__in=[Incident.Status.CLOSED, Incident.Status.DRAFT, Incident.Status.DISMISSED])
        .select_related("team", "service")
        .distinct()
        .order_by("-started_at")
    )


def incidents_awaiting_review(*, user: User) -> QuerySet[Incident]:
    """Incidents in the user's managed teams whose analyses are all submitted and no review is scheduled."""
    managed = (
        Incident.objects.all()
        if sees_everything(user)
        else Incident.objects.filter(team_id__in=user_managed_team_ids(user))
    )
    return (
        managed.filter(status=Incident.Status.ANALYSING, review__isnull=True)
        .annotate(
            analysis_count=Count("analyses", distinct=True),
            submitted_count=Count(
                "analyses", filter=Q(analyses__status=AnalysisSession.Status.SUBMITTED), distinct=True
            ),
        )
        .filter(analysis_count__gt=0, submitted_count=F("analysis_count"))
        .select_related("team", "service")
        .order_by("-started_at")
    )


def teams_for_filter(*, viewer: User) -> QuerySet[Team]:
    if sees_everything(viewer):
        return Team.objects.all()
    return Team.objects.filter(Q(members=viewer) | Q(product_managers=viewer)).distinct()


def people_matching(*, term: str) -> QuerySet[User]:
    """Active members whose username, name or email starts with the term."""
    return member_directory().filter(
        Q(username__istartswith=term)
        | Q(first_name__istartswith=term)
        | Q(last_name__istartswith=term)
        | Q(email__istartswith=term)
    )


def service_catalogue(*, viewer: User, team_id: int | None = None) -> QuerySet[Service]:
    """Services with their teams, and the incidents the viewer can see on each: how many, and the
    mean time from start to restored (mitigated, or else resolved)."""
    seen = visible_incidents_q(viewer, prefix="incidents__")
    restored = ExpressionWrapper(
        Coalesce("incidents__mitigated_at", "incidents__resolved_at") - F("incidents__started_at"),
        output_field=DurationField(),
    )
    services = service_directory().annotate(
        incident_count=Count("incidents", filter=seen),
        mean_time_to_restore=Avg(restored, filter=seen),
        misfit=ExpressionWrapper(Service.misfit_q(), output_field=BooleanField()),
    )
    if team_id:
        services = services.filter(team_id=team_id)
    return services.order_by("team__name", "name")
