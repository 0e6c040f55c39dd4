"""Tracker webhooks (status flowing back) and the "retry sync" button.

Webhooks are signed by the tracker, not signed in: they are CSRF-exempt and login-exempt, and refuse
anything unauthenticated with 401 (no credentials) or 403 (wrong ones, or no secret configured).
Deliveries are retried by the trackers, so handling one twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re

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
from reviews.backlog.jira import jira_webhook_issue
from reviews.backlog.trello import trello_signature, trello_webhook_card
from reviews.models import ImprovementAction
from reviews.services.actions import action_apply_tracker_status, action_retry_sync

logger = logging.getLogger(__name__)

IDEMPOTENCY_LABEL = re.compile(r"^ybiyri-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$")


def _refused(status: int, reason: str) -> JsonResponse:
    return JsonResponse({"error": reason}, status=status)


def _read_json(request: HttpRequest) -> dict | None:
    try:
        payload = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def jira_authenticate(request: HttpRequest) -> JsonResponse | None:
    """None if the request carries Jira's signature (or the URL token); else the refusal to send.

    Jira signs with `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed with the
    webhook's secret: https://developer.atlassian.com/cloud/jira/platform/webhooks/#secure-admin-webhooks
    """
    secret = settings.JIRA_WEBHOOK_SECRET
    if not secret:
        return _refused(403, "Jira webhooks are not configured (JIRA_WEBHOOK_SECRET).")
    signature = request.headers.get("X-Hub-Signature", "")
    token = request.GET.get("secret", "")
    if signature:
        method, _, given = signature.partition("=")
        expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if method != "sha256" or not hmac.compare_digest(given.strip().lower(), expected):
            return _refused(403, "Bad signature.")
        return None
    if token:
        if not hmac.compare_digest(token.encode(), secret.encode()):
            return _refused(403, "Bad secret.")
        return None
    return _refused(401, "Sign the request (X-Hub-Signature) or pass the secret.")


def _action_for_jira_issue(key: str, labels: list[str]) -> ImprovementAction | None:
    actions = ImprovementAction.objects.select_related("incident__team")
    action = actions.filter(tracker=Team.Tracker.JIRA, external_key=key).first()
    if action is not None:
        return action
    # Not yet keyed (the push is still recording it) or moved to another project: the label knows.
    for label in labels:
        match = IDEMPOTENCY_LABEL.match(label)
        if match:
            return actions.filter(uuid=match.group(1)).first()
    return None


@csrf_exempt
@login_not_required
@require_POST
def jira_webhook(request: HttpRequest) -> HttpResponse:
    """Jira's issue-updated webhook: status category done → action done; anything else reopens."""
    refusal = jira_authenticate(request)
    if refusal is not None:
        return refusal
    payload = _read_json(request)
    if payload is None:
        return _refused(400, "Expected a JSON object.")
    found = jira_webhook_issue(payload, server_url=settings.JIRA_URL)
    if found is None:
        return JsonResponse({"result": "ignored"})
    item, labels = found
    action = _action_for_jira_issue(item.key, labels)
    if action is None:
        return JsonResponse({"result": "unknown issue"})
    changed = action_apply_tracker_status(action=action, item=item)
    return JsonResponse({"result": "changed" if changed else "unchanged"})


def trello_callback_url() -> str:
    """The URL Trello's webhooks are registered with; the signature covers it."""
    return f"{settings.SITE_URL}{reverse('backlog:trello_webhook')}"


@csrf_exempt
@login_not_required
@require_http_methods(["HEAD", "POST"])
def trello_webhook(request: HttpRequest) -> HttpResponse:
    """Trello's webhook: HEAD answers its verification; POST carries a signed card event."""
    if request.method == "HEAD":
        return HttpResponse(status=200)
    secret = settings.TRELLO_API_SECRET
    if not secret:
        return _refused(403, "Trello webhooks are not configured (TRELLO_API_SECRET).")
    given = request.headers.get("X-Trello-Webhook", "")
    if not given:
        return _refused(401, "Missing X-Trello-Webhook signature.")
    expected = trello_signature(body=request.body, callback_url=trello_callback_url(), secret=secret)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _refused(403, "Bad signature.")
    payload = _read_json(request)
    if payload is None:
        return _refused(400, "Expected a JSON object.")
    card_id = (((payload.get("action") or {}).get("data") or {}).get("card") or {}).get("id", "")
    action = (
        ImprovementAction.objects.select_related("incident__team")
        .filter(tracker=Team.Tracker.TRELLO, external_key=card_id)
        .first()
        if card_id
        else None
    )
    if action is None:
        return JsonResponse({"result": "unknown card"})
    item = trello_webhook_card(payload, done_list_id=action.incident.team.trello_done_list_id)
    if item is None:
        return JsonResponse({"result": "ignored"})
    changed = action_apply_tracker_status(action=action, item=item)
    return JsonResponse({"result": "changed" if changed else "unchanged"})


@require_POST
def action_retry(request: HttpRequest, pk: int) -> HttpResponse:
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
