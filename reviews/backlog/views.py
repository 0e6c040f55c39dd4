"""Tracker webhooks (status, priority and assignee flowing back) and the "retry sync" button.

Webhooks are signed by the tracker, not signed in: they are CSRF-exempt and login-exempt, and refuse
anything unauthenticated with 401 (no credentials) or 403 (wrong ones, or no secret configured).
Deliveries are retried by the trackers, so handling one twice changes nothing the second time.
A signed payload not shaped as the tracker documents it is refused with 400 naming the value at
fault; an event about anything but the item an action was pushed as is acknowledged with 200
"ignored", so that the tracker stops retrying it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from incidents.models import Team
from reviews.access import access_action
from reviews.backlog import RemoteItem
from reviews.backlog.jira import jira_webhook_issue
from reviews.backlog.trello import trello_signature, trello_webhook_event
from reviews.models import ImprovementAction
from reviews.services.actions import action_apply_tracker_item, action_retry_sync, action_tracked_by
from ybiyri.payload import MalformedPayload, webhook_json, webhook_refusal
from ybiyri.request_types import SignedInRequest

logger = logging.getLogger(__name__)


def _ignored(reason: str) -> JsonResponse:
    # Trackers retry whatever is not a 2xx: an event that is not ours is acknowledged, not refused.
    return JsonResponse({"result": "ignored", "reason": reason})


def _apply(action: ImprovementAction | None, item: RemoteItem | None) -> JsonResponse:
    if action is None:
        return _ignored("No improvement action is tracked by this item.")
    if item is None:
        return _ignored("The event changes nothing ybiyri follows.")
    changed = action_apply_tracker_item(action=action, item=item)
    return JsonResponse({"result": "changed" if changed else "unchanged"})


def jira_authenticate(request: HttpRequest) -> JsonResponse | None:
    """None if the request carries Jira's signature (or the URL token); else the refusal to send.

    Jira signs with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the
    webhook's secret: https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
    """
    secret = settings.JIRA_WEBHOOK_SECRET
    if not secret:
        return webhook_refusal(403, "Jira webhooks are not configured (JIRA_WEBHOOK_SECRET).")
    signature = request.headers.get("X-Hub-Signature", "")
    token = request.GET.get("secret", "")
    if signature:
        method, _, given = signature.partition("=")
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        # As bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
        if method != "sha256" or not hmac.compare_digest(given.strip().lower().encode(), expected.encode()):
            return webhook_refusal(403, "Bad signature.")
        return None
    if token:
        if not hmac.compare_digest(token.encode(), secret.encode()):
            return webhook_refusal(403, "Bad secret.")
        return None
    return webhook_refusal(401, "Sign the request (X-Hub-Signature) or pass the secret.")


@csrf_exempt
@login_not_required
@require_POST
def jira_webhook(request: HttpRequest) -> HttpResponse:
    """Jira's issue webhook: status category done → action done; anything else reopens; a priority
    or assignee the event changed comes back as well (`action_apply_tracker_item`).

    Only the action pushed as that very issue, of a team that uses Jira, follows it
    (`reviews.services.actions.tracked_by_q`); any other event is acknowledged and ignored.
    """
    refusal = jira_authenticate(request)
    if refusal is not None:
        return refusal
    try:
        item = jira_webhook_issue(webhook_json(request), server_url=settings.JIRA_URL)
    except MalformedPayload as error:
        return webhook_refusal(400, str(error))
    if item is None:
        return _ignored("Not an issue event.")
    return _apply(action_tracked_by(tracker=Team.Tracker.JIRA, key=item.key), item)


def trello_callback_url() -> str:
    """The URL Trello's webhooks are registered with; the signature covers it."""
    return f"{settings.SITE_URL}{reverse('backlog:trello_webhook')}"


@csrf_exempt
@login_not_required
@require_http_methods(["HEAD", "POST"])
def trello_webhook(request: HttpRequest) -> HttpResponse:
    """Trello's webhook: HEAD answers its verification; POST carries a signed card event.

    Only the action pushed as that very card, of a team that uses Trello, follows it.
    """
    if request.method == "HEAD":
        return HttpResponse(status=200)
    secret = settings.TRELLO_API_SECRET
    if not secret:
        return webhook_refusal(403, "Trello webhooks are not configured (TRELLO_API_SECRET).")
    given = request.headers.get("X-Trello-Webhook", "")
    if not given:
        return webhook_refusal(401, "Missing X-Trello-Webhook signature.")
    expected = trello_signature(body=request.body, callback_url=trello_callback_url(), secret=secret)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return webhook_refusal(403, "Bad signature.")
    try:
        event = trello_webhook_event(webhook_json(request))
    except MalformedPayload as error:
        return webhook_refusal(400, str(error))
    if event is None:
        return _ignored("Not a card event.")
    action = action_tracked_by(tracker=Team.Tracker.TRELLO, key=event.card_id)
    item = event.item(done_list_id=action.incident.team.trello_done_list_id) if action else None
    return _apply(action, item)


@require_POST
def action_retry(request: SignedInRequest, pk: int) -> HttpResponse:
    """Queue another push of a failed action; back to `next` (if it is ours) or the incident page."""
    action = access_action(user=request.user, action_id=pk, for_edit=True)
    try:
        action = action_retry_sync(action=action, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The action will be pushed to the backlog again.")
    # Eagerly run pushes (no broker) have finished by now: show what happened.
    action.refresh_from_db()
    if request.htmx:
        return render(request, "reviews/_action_sync.html", {"action": action})
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("incidents:detail", action.incident_id)
