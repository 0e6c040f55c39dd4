"""The audit log's read side: who changed what, when — for product managers and admins.

Entries are written by ``incidents.services.audit_record`` inside the transaction of each change.
A product manager reads the entries of the teams they manage; problem managers and superusers
read every entry, including those not tied to a team (organisation-wide changes).
"""

from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from incidents.access import sees_everything, user_managed_team_ids
from incidents.models import AuditEntry, Team, User
from ybiyri.request_types import SignedInRequest

AUDIT_ENTRIES_PER_PAGE = 50


def can_read_audit_log(*, viewer: User) -> bool:
    """Product managers of at least one team, problem managers and superusers."""
    return viewer.is_authenticated and (sees_everything(viewer) or bool(user_managed_team_ids(viewer)))


def audit_entries(*, viewer: User, team: Team | None = None, verb: str = "") -> QuerySet[AuditEntry]:
    """The entries `viewer` may read, newest first, optionally narrowed to one team and one verb.

    Empty for anyone who may not read the log; callers that must refuse such a person
    check :func:`can_read_audit_log` first. Two queries per page, whatever the volume.
    """
    entries = AuditEntry.objects.select_related("actor", "team").order_by("-created_at", "-id")
    if not can_read_audit_log(viewer=viewer):
        return entries.none()
    if not sees_everything(viewer):
        entries = entries.filter(team_id__in=user_managed_team_ids(viewer))
    if team is not None:
        entries = entries.filter(team=team)
    if verb:
        entries = entries.filter(verb=verb)
    return entries


def audit_teams(*, viewer: User) -> QuerySet[Team]:
    """Teams whose entries `viewer` may read, for the filter."""
    if sees_everything(viewer):
        return Team.objects.order_by("name")
    return Team.objects.filter(id__in=user_managed_team_ids(viewer)).order_by("name")


@require_GET
def audit_log(request: SignedInRequest) -> HttpResponse:
    """``/audit/``: the paginated log, filterable by team (slug) and verb; 403 for anyone else."""
    if not can_read_audit_log(viewer=request.user):
        raise PermissionDenied("The audit log is for product managers and problem managers.")
    teams = audit_teams(viewer=request.user)
    team_slug = request.GET.get("team", "")
    team = teams.filter(slug=team_slug).first() if team_slug else None
    verb = request.GET.get("verb", "")[:60]
    entries = audit_entries(viewer=request.user, team=team, verb=verb)
    page = Paginator(entries, AUDIT_ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    query_string = request.GET.copy()
    query_string.pop("page", None)
    context = {
        "page": page,
        "teams": teams,
        "selected_team": team,
        "verb": verb,
        "query_string": query_string.urlencode(),
    }
    return render(request, "incidents/audit_list.html", context)
