"""The improvement actions backlog, an action's own page, and changes made from either."""

from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import Form
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.forms import add_service_errors
from incidents.models import AuditEntry
from reviews import selectors
from reviews.access import access_action, actions_editable
from reviews.forms import ActionFilterForm, ActionInlineForm, ActionPageForm
from reviews.models import ImprovementAction
from reviews.services.actions import EDITABLE_FIELDS, ActionFields, action_update
from reviews.services.traceability import action_link
from ybiyri.request_types import SignedInRequest
from ybiyri.views import call_reporting, for_template, page_of, understood_filters

ACTIONS_PER_PAGE = 50
# The fields whose changes the history names.
CHANGEABLE_FIELDS = (*EDITABLE_FIELDS, "learnings", "factors")
CHANGE_VERBS = ("action.updated", "action.updated_in_tracker", "action.linked")
# The page's link fields, and the arguments of `action_link` that set them.
LINK_ARGUMENTS = {"learnings": "learning_ids", "factors": "factor_ids"}

# How the action's history names each audit verb.
HISTORY_WORDS = {
    "action.raised": "raised it",
    "action.updated": "changed",
    "action.done": "marked it done",
    "action.reopened": "reopened it",
    "action.withdrawn": "withdrew it",
    "action.push_requested": "asked for it to be pushed to the backlog",
    "action.sync_retried": "asked for the push to be retried",
    "action.sync_failed": "push failed",
    "action.done_in_tracker": "done in the tracker",
    "action.reopened_in_tracker": "reopened in the tracker",
    "action.updated_in_tracker": "changed in the tracker",
    "action.linked": "changed what it traces to",
}


def history_line(entry: AuditEntry) -> dict[str, object]:
    """An audit entry as the action's page says it: who, what, and which fields changed."""
    # In the model's order: PostgreSQL's jsonb keeps no key order of its own.
    fields = [
        str(getattr(ImprovementAction._meta.get_field(name), "verbose_name", name))
        for name in CHANGEABLE_FIELDS
        if name in entry.changes and entry.verb in CHANGE_VERBS
    ]
    return {
        "at": entry.created_at,
        "who": entry.actor.display_name if entry.actor else "Backlog sync",
        "what": HISTORY_WORDS.get(entry.verb, entry.verb),
        "fields": ", ".join(fields),
    }


@require_POST
def action_status(request: SignedInRequest, pk: int) -> HttpResponse:
    action = access_action(user=request.user, action_id=pk, for_edit=True)
    status = request.POST.get("status", "")
    call_reporting(
        request,
        action_update,
        action=action,
        by=request.user,
        changes={"status": status},
        success=f"“{action.title}” is now {dict(ImprovementAction.Status.choices).get(status, status).lower()}.",
    )
    return redirect_back(request, fallback=action.incident.get_absolute_url())


def redirect_back(request: SignedInRequest, *, fallback: str) -> HttpResponse:
    """Redirect to the posted `next` if it is a safe local URL, else to `fallback`."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)


@require_GET
def action_backlog(request: SignedInRequest) -> HttpResponse:
    filters = ActionFilterForm(request.GET or None)
    criteria = understood_filters(request, filters)
    team, owner = criteria.get("team"), criteria.get("owner")
    chosen = {
        "team_id": team.pk if team else None,
        "status": criteria.get("status", ""),
        "priority": criteria.get("priority", ""),
        "owner_id": owner.pk if owner else None,
    }
    actions = selectors.action_backlog(
        viewer=request.user, ordering=criteria.get("sort") or "-raised_at", **chosen
    )
    page, query_string = page_of(
        request,
        actions,
        ACTIONS_PER_PAGE,
        count=lambda: selectors.action_backlog_count(viewer=request.user, **chosen),
    )
    managed = actions_editable(request.user, list(page.object_list))
    for action in page.object_list:
        if action.pk in managed:
            action.inline_form = ActionInlineForm(
                prefix=f"action-{action.pk}", initial=ActionInlineForm.initial_for(action)
            )
    context = {"filters": filters, "page": page, "query_string": query_string, "editable_ids": managed}
    return render(request, "reviews/action_list.html", context)


def save_changed_fields(request: SignedInRequest, action: ImprovementAction, form: Form) -> bool:
    """Write only the fields this person changed (each form field carries the value it was read
    at), so that another person's change to the others stays; the services' refusal goes on the form."""
    if not form.is_valid():
        return False
    changed = {name: form.cleaned_data[name] for name in form.changed_data}
    links = {
        LINK_ARGUMENTS[name]: [row.pk for row in changed.pop(name)]
        for name in LINK_ARGUMENTS
        if name in changed
    }
    try:
        with transaction.atomic():
            action_update(action=action, by=request.user, changes=cast(ActionFields, changed))
            if links:
                action_link(action=action, by=request.user, **links)
    except ValidationError as error:
        add_service_errors(form, error)
        return False
    return True


def action_page(
    request: SignedInRequest,
    action: ImprovementAction,
    form: Form | None,
    *,
    form_url: str,
    next_url: str = "",
    status: int = 200,
) -> HttpResponse:
    """The action's page, with `form` (or None to show the action read-only) posting to `form_url`,
    then going back to `next_url` if given."""
    context = {
        "action": action,
        "form": form,
        "form_url": form_url,
        "next_url": next_url,
        "learnings": action.learnings.select_related("review"),
        "factors": action.factors.all(),
        "history": [history_line(entry) for entry in selectors.action_history(action=action)],
    }
    return render(request, "reviews/action_detail.html", context, status=status)


@require_http_methods(["GET", "POST"])
def action_detail(request: SignedInRequest, pk: int) -> HttpResponse:
    """The action's page: everything about it, editable by those who may change it."""
    action = access_action(user=request.user, action_id=pk, for_edit=request.method == "POST")
    url = reverse("reviews:action", args=[action.pk])
    if request.method == "POST":
        posted = ActionPageForm(request.POST, prefix="action", incident=action.incident)
        if save_changed_fields(request, action, posted):
            messages.success(request, "Action saved.")
            return redirect(url)
        return action_page(request, action, posted, form_url=url, status=400)
    form: ActionPageForm | None = None
    if action.pk in actions_editable(request.user, [action]):
        initial = {
            **ActionInlineForm.initial_for(action),
            "learnings": [learning.pk for learning in action.learnings.all()],
            "factors": [factor.pk for factor in action.factors.all()],
        }
        form = ActionPageForm(prefix="action", incident=action.incident, initial=initial)
    return action_page(request, action, form, form_url=url)


@require_POST
def action_inline_edit(request: SignedInRequest, pk: int) -> HttpResponse:
    """A row of the backlog list changed in place: the row again (htmx), else back to the list.

    Bad input answers 400 with the row and its form's errors (htmx), or the action's page with them.
    """
    action = access_action(user=request.user, action_id=pk, for_edit=True)
    form = ActionInlineForm(request.POST, prefix=f"action-{action.pk}")
    saved = save_changed_fields(request, action, form)
    if saved:
        action = access_action(user=request.user, action_id=pk)
        form = ActionInlineForm(prefix=f"action-{action.pk}", initial=ActionInlineForm.initial_for(action))
    if request.htmx:
        return action_row(request, action, form, status=200 if saved else 400, saved=saved)
    if saved:
        messages.success(request, f"“{action.title}” saved.")
        return redirect_back(request, fallback=reverse("reviews:actions"))
    return action_page(
        request,
        action,
        form,
        form_url=reverse("reviews:action_inline_edit", args=[action.pk]),
        next_url=request.POST.get("next", ""),
        status=400,
    )


def action_row(
    request: SignedInRequest, action: ImprovementAction, form: Form, *, status: int, saved: bool
) -> HttpResponse:
    for_template(action, inline_form=form)
    context = {
        "action": action,
        "editable_ids": {action.pk},
        "show_incident": True,
        "saved": saved,
        "next_url": request.POST.get("next", ""),
    }
    return render(request, "reviews/_action_row.html", context, status=status)
