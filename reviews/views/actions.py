"""The improvement actions backlog and manual status changes."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from reviews import selectors
from reviews.access import access_action, actions_editable
from reviews.forms import ActionFilterForm
from reviews.models import ImprovementAction
from reviews.services.actions import action_set_status
from ybiyri.views import call_reporting, page_of, understood_filters

ACTIONS_PER_PAGE = 50


@require_POST
def action_status(request: HttpRequest, pk: int) -> HttpResponse:
    action = access_action(user=request.user, action_id=pk, for_edit=True)
    status = request.POST.get("status", "")
    call_reporting(
        request,
        action_set_status,
        action=action,
        by=request.user,
        status=status,
        success=f"“{action.title}” is now {dict(ImprovementAction.Status.choices).get(status, status).lower()}.",
    )
    return redirect_back(request, fallback=action.incident.get_absolute_url())


def redirect_back(request: HttpRequest, *, fallback: str) -> HttpResponse:
    """Redirect to the posted `next` if it is a safe local URL, else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


@require_GET
def action_backlog(request: HttpRequest) -> HttpResponse:
    filters = ActionFilterForm(request.GET or None)
    criteria = understood_filters(request, filters)
    team, owner = criteria.get("team"), criteria.get("owner")
    actions = selectors.action_backlog(
        viewer=request.user,
        team_id=team.pk if team else None,
        status=criteria.get("status", ""),
        priority=criteria.get("priority", ""),
        owner_id=owner.pk if owner else None,
        ordering=criteria.get("sort") or "-raised_at",
    )
    page, query_string = page_of(request, actions, ACTIONS_PER_PAGE)
    managed = actions_editable(request.user, page.object_list)
    context = {"filters": filters, "page": page, "query_string": query_string, "editable_ids": managed}
    return render(request, "reviews/action_list.html", context)
