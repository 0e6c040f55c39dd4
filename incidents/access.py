"""Permission-checked fetches: every view and API gets incidents and analyses through here.

The rules (DESIGN, security model):
- an incident is visible to its participants: its team's members and product managers, its
  responders, and its review's facilitator and attendees while the review stands (is not
  cancelled) — whatever their team, so a neutral facilitator from elsewhere can run it — plus
  problem managers and superusers; anyone else gets a 404, because existence itself is private;
- an incident is managed (edited, responders, allocation, review, narrative) by its team's product
  managers, problem managers and superusers; others who can see it get a 403;
- an analysis is editable by its analyst only, and readable by the incident's participants once
  submitted (the review exists so that the people in it read each other's reports).

Each rule is a pair, the row check and the queryset filter, and every page, API view, selector and
feed goes through them.
"""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet, Value
from django.http import Http404

from incidents.evidence.models import Evidence
from incidents.models import AnalysisSession, Incident, Responder, Service, Team, User
from reviews.models import Review


def user_team_ids(user: User) -> frozenset[int]:
    """Teams the user is a member or product manager of (cached on the user for the request)."""
    if getattr(user, "_ybiyri_team_ids", None) is None:
        _read_teams(user)
    return user._ybiyri_team_ids


def user_managed_team_ids(user: User) -> frozenset[int]:
    """Teams the user is a product manager of (cached on the user for the request)."""
    if getattr(user, "_ybiyri_managed_team_ids", None) is None:
        _read_teams(user)
    return user._ybiyri_managed_team_ids


def _read_teams(user: User) -> None:
    """The teams the user is a member of and a product manager of, read in one query and cached
    on the user for the request."""
    members = Team.members.through.objects.filter(user_id=user.pk).values_list("team_id", Value(False))
    managers = Team.product_managers.through.objects.filter(user_id=user.pk).values_list(
        "team_id", Value(True)
    )
    rows = list(members.union(managers, all=True))
    user._ybiyri_team_ids = frozenset(team for team, _manages in rows)
    user._ybiyri_managed_team_ids = frozenset(team for team, manages in rows if manages)


def sees_everything(user: User) -> bool:
    return user.is_superuser or user.is_problem_manager


def viewer_key(user: User) -> str:
    """Names what the user sees, for entries of a cache: ``all`` for those who see every incident;
    else the member themself, since what a member sees also depends on the incidents they
    responded to and the reviews they attend."""
    return "all" if sees_everything(user) else f"user-{user.pk}"


def review_participations(user: User) -> QuerySet[Review, Any]:
    """Ids of the incidents whose standing review the user facilitates or attends."""
    return (
        Review.objects.filter(Q(facilitator=user) | Q(attendees=user))
        .exclude(status=Review.Status.CANCELLED)
        .values("incident_id")
    )


def visible_incidents_q(user: User, prefix: str = "") -> Q:
    """A filter for the incidents the user participates in (the query form of `can_view_incident`);
    `prefix` reaches them through a relation. Subqueries, not joins, so no row is repeated."""
    if sees_everything(user):
        return Q()
    return (
        Q(**{f"{prefix}team_id__in": user_team_ids(user)})
        | Q(**{f"{prefix}id__in": Responder.objects.filter(user=user).values("incident_id")})
        | Q(**{f"{prefix}id__in": review_participations(user)})
    )


def can_view_incident(user: User, incident: Incident) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if sees_everything(user) or incident.team_id in user_team_ids(user):
        return True
    # Cached on the user for the request: one page asks about the same incident for many rows.
    cache = user.__dict__.setdefault("_ybiyri_visible_incidents", {})
    if incident.pk not in cache:
        cache[incident.pk] = Incident.objects.filter(visible_incidents_q(user), pk=incident.pk).exists()
    return cache[incident.pk]


def can_manage_team(user: User, team: Team | int) -> bool:
    team_id = team if isinstance(team, int) else team.pk
    return sees_everything(user) or team_id in user_managed_team_ids(user)


def can_manage_incident(user: User, incident: Incident) -> bool:
    return user.is_authenticated and can_manage_team(user, incident.team_id)


def managed_teams(user: User) -> QuerySet[Team]:
    """Teams in which the user may declare incidents."""
    if sees_everything(user):
        return Team.objects.all()
    return Team.objects.filter(id__in=user_managed_team_ids(user))


def may_declare(user: User) -> bool:
    """Whether `managed_teams` holds a team, without a query for a member (their teams are read
    once per request)."""
    if sees_everything(user):
        return Team.objects.exists()
    return bool(user_managed_team_ids(user))


def access_incident(*, user: User, incident_id: int, for_manage: bool = False) -> Incident:
    """The incident, or Http404 if the user may not see it, PermissionDenied if they may not manage it."""
    try:
        incident = Incident.objects.select_related("team", "service", "declared_by").get(pk=incident_id)
    except Incident.DoesNotExist:
        raise Http404("No such incident") from None
    if not can_view_incident(user, incident):
        raise Http404("No such incident")
    if for_manage and not can_manage_incident(user, incident):
        raise PermissionDenied("Only the team's product managers and problem managers can do that.")
    return incident


def can_read_analysis(user: User, analysis: AnalysisSession) -> bool:
    if analysis.analyst_id == user.pk:
        return True
    return analysis.is_submitted and can_view_incident(user, analysis.incident)


def readable_analyses_q(user: User, prefix: str = "") -> Q:
    """A filter for the analyses `user` may read: their own, and the submitted ones of the
    incidents they participate in (the query form of `can_read_analysis`); `prefix` reaches them
    through a relation."""
    own = Q(**{f"{prefix}analyst": user})
    submitted = Q(**{f"{prefix}status": AnalysisSession.Status.SUBMITTED})
    return own | (submitted & visible_incidents_q(user, prefix=f"{prefix}incident__"))


def access_analysis(*, user: User, analysis_id: int, for_edit: bool = False) -> AnalysisSession:
    """The analysis, or 404 when its incident is invisible, 403 when it is not readable/editable."""
    try:
        analysis = AnalysisSession.objects.select_related(
            "incident__team", "incident__service", "analyst", "responder", "scheduled_by"
        ).get(pk=analysis_id)
    except AnalysisSession.DoesNotExist:
        raise Http404("No such analysis") from None
    if not can_view_incident(user, analysis.incident):
        raise Http404("No such analysis")
    if for_edit and analysis.analyst_id != user.pk:
        raise PermissionDenied("Only the analyst can edit their analysis.")
    if not can_read_analysis(user, analysis):
        raise PermissionDenied(
            "This analysis is readable by the incident's participants once it is submitted."
        )
    return analysis


def access_analysis_to_manage(*, user: User, analysis_id: int) -> AnalysisSession:
    """The analysis for its incident's managers (waiving it): 404 when its incident is invisible,
    403 when the user may see but not manage the incident; its report stays unread."""
    try:
        analysis = AnalysisSession.objects.select_related("incident__team", "analyst").get(pk=analysis_id)
    except AnalysisSession.DoesNotExist:
        raise Http404("No such analysis") from None
    access_incident(user=user, incident_id=analysis.incident_id, for_manage=True)
    return analysis


def readable_evidence_q(user: User, prefix: str = "") -> Q:
    """A filter for the evidence `user` may read: that of the incidents they participate in, the
    people who may read the incident's analyses (the query form of `can_read_evidence`)."""
    return visible_incidents_q(user, prefix=f"{prefix}incident__")


def can_read_evidence(user: User, evidence: Evidence) -> bool:
    return can_view_incident(user, evidence.incident)


def access_evidence(*, user: User, evidence_id: int) -> Evidence:
    """The piece of evidence, or Http404 if the user may not read it (existence is private, as its
    incident's is)."""
    try:
        evidence = Evidence.objects.select_related("incident__team", "author").get(pk=evidence_id)
    except Evidence.DoesNotExist:
        raise Http404("No such evidence") from None
    if not can_read_evidence(user, evidence):
        raise Http404("No such evidence")
    return evidence


def can_edit_service(user: User, service: Service) -> bool:
    """A service's operating model, on-call team, demand, sourcing and cost of delay are changed
    by the product managers of its team (and problem managers and superusers)."""
    return user.is_authenticated and can_manage_team(user, service.team_id)


def in_managed_teams_q(user: User, prefix: str = "") -> Q:
    """Rows of the teams the user manages as product manager (every row for problem managers and
    superusers): the query form of `can_manage_team` on a row's team."""
    if sees_everything(user):
        return Q()
    return Q(**{f"{prefix}team_id__in": user_managed_team_ids(user)})


def editable_services_q(user: User, prefix: str = "") -> Q:
    """The query form of `can_edit_service`."""
    return in_managed_teams_q(user, prefix)


def access_service(*, user: User, service_id: int, for_edit: bool = False) -> Service:
    """The service, or Http404 if there is none; PermissionDenied if `for_edit` and the user may
    not change it. Services are listed to every member, so existence is not private."""
    try:
        service = Service.objects.select_related("team", "on_call_team").get(pk=service_id)
    except Service.DoesNotExist:
        raise Http404("No such service") from None
    if for_edit and not can_edit_service(user, service):
        raise PermissionDenied("Only the product managers of the service's team can change it.")
    return service


def can_edit_team(user: User, team: Team | None = None) -> bool:
    """Teams are created and changed by administrators (superusers) only."""
    return user.is_authenticated and user.is_superuser


def editable_teams_q(user: User, prefix: str = "") -> Q:
    """The query form of `can_edit_team`."""
    return Q() if user.is_superuser else Q(**{f"{prefix}pk__in": []})


def access_team(*, user: User, team_id: int, for_edit: bool = False) -> Team:
    """The team, or Http404 if there is none; PermissionDenied if `for_edit` and the user is not an
    administrator. Teams are listed to every member."""
    try:
        team = Team.objects.get(pk=team_id)
    except Team.DoesNotExist:
        raise Http404("No such team") from None
    if for_edit and not can_edit_team(user, team):
        raise PermissionDenied("Only administrators change teams.")
    return team


def count_visible(user: User, rows: QuerySet[Any], prefix: str = "") -> int:
    """How many of `rows` (incidents, or rows of incidents through `prefix`) the user may see: the
    rule of `visible_incidents_q`, counted in two disjoint parts that each use an index — those of
    the user's teams' incidents (an index-only scan when nothing else filters them) and those of the
    other incidents they responded to or review — where one COUNT over the rule's OR would read
    every row to find a member's few."""
    if sees_everything(user):
        return rows.count()
    teams = {f"{prefix}team_id__in": user_team_ids(user)}
    participated = (
        Responder.objects.filter(user=user).values("incident_id").union(review_participations(user))
    )
    return (
        rows.filter(**teams).count()
        + rows.filter(**{f"{prefix}id__in": participated}).exclude(**teams).count()
    )


def visible_incident_ids(user: User, incidents: QuerySet[Incident]) -> QuerySet:
    """The ids of those of `incidents` the user participates in: the rule of `visible_incidents_q`,
    written as a union of lookups that each use an index (the team's incidents by team and start,
    the responder's, the review participant's), for aggregates over many incidents that must not
    scan them all to find a member's few."""
    if sees_everything(user):
        return incidents.values("id")
    by_team = incidents.filter(team_id__in=user_team_ids(user)).values("id")
    responded = incidents.filter(id__in=Responder.objects.filter(user=user).values("incident_id")).values(
        "id"
    )
    reviewed = incidents.filter(id__in=review_participations(user)).values("id")
    return by_team.union(responded, reviewed)
