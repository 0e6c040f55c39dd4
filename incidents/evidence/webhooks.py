"""Incoming pager webhooks: PagerDuty, Opsgenie, Alertmanager.

Signed (PagerDuty) or carrying a bearer token (Opsgenie, Alertmanager), not signed in: CSRF- and
login-exempt. 401 when credentials are missing, 403 when wrong or when the source is not configured,
400 for a body not shaped as the source documents it (naming the value at fault), 2xx for an
accepted event and for a duplicate, which changes nothing. A PagerDuty event older than
PAGER_WEBHOOK_MAX_AGE_SECONDS is a replay and is refused with 403: a captured delivery cannot be
sent again later to open or reopen a page.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.evidence.alertmanager import alertmanager_events
from incidents.evidence.opsgenie import opsgenie_event
from incidents.evidence.pagerduty import (
    pagerduty_event,
    pagerduty_people_resolved,
    pagerduty_signature_valid,
)
from incidents.evidence.pagers import PagerEvent
from incidents.evidence.services import page_record
from ybiyri.payload import MalformedPayload, webhook_json, webhook_refusal


def _bearer_refusal(request: HttpRequest, *, token: str, variable: str) -> JsonResponse | None:
    """None if the request carries `Authorization: Bearer <token>`; else the refusal to send."""
    if not token:
        return webhook_refusal(403, f"This webhook is not configured ({variable}).")
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if not given or scheme.lower() != "bearer":
        return webhook_refusal(401, "Send Authorization: Bearer <token>.")
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        return webhook_refusal(403, "Bad token.")
    return None


def _record(
    request: HttpRequest,
    parse: Callable[[Any], list[PagerEvent]],
    *,
    max_age: timedelta | None = None,
    resolve: Callable[[PagerEvent], PagerEvent] | None = None,
) -> JsonResponse:
    """Parse, refuse replays, complete the people named (`resolve`, outside any transaction:
    it may ask the source), then record each event."""
    try:
        events = parse(webhook_json(request))
    except MalformedPayload as error:
        return webhook_refusal(400, str(error))
    if max_age is not None and any(event.occurred_at < timezone.now() - max_age for event in events):
        return webhook_refusal(403, "The event is too old: a replayed delivery is refused.")
    if resolve is not None:
        events = [resolve(event) for event in events]
    results = []
    for event in events:
        try:
            results.append(page_record(event=event))
        except ValidationError as error:
            return webhook_refusal(400, " ".join(error.messages))
    if not results:
        return JsonResponse({"result": "ignored", "reason": "No page event in the delivery."})
    return JsonResponse({"result": results[0] if len(results) == 1 else "batch", "events": results})


@csrf_exempt
@login_not_required
@require_POST
def pagerduty_webhook(request: HttpRequest) -> HttpResponse:
    """PagerDuty v3 webhook subscription: incident events, signed with the subscription's secret."""
    secret = settings.PAGERDUTY_WEBHOOK_SECRET
    if not secret:
        return webhook_refusal(403, "PagerDuty webhooks are not configured (PAGERDUTY_WEBHOOK_SECRET).")
    header = request.headers.get("X-PagerDuty-Signature", "")
    if not header:
        return webhook_refusal(401, "Missing X-PagerDuty-Signature.")
    if not pagerduty_signature_valid(body=request.body, header=header, secret=secret):
        return webhook_refusal(403, "Bad signature.")
    max_age = timedelta(seconds=settings.PAGER_WEBHOOK_MAX_AGE_SECONDS)
    return _record(
        request,
        lambda body: [event] if (event := pagerduty_event(body)) else [],
        max_age=max_age,
        resolve=pagerduty_people_resolved,
    )


@csrf_exempt
@login_not_required
@require_POST
def opsgenie_webhook(request: HttpRequest) -> HttpResponse:
    """Opsgenie's Webhook integration: alert actions, with a bearer token header."""
    refusal = _bearer_refusal(
        request, token=settings.OPSGENIE_WEBHOOK_TOKEN, variable="OPSGENIE_WEBHOOK_TOKEN"
    )
    if refusal is not None:
        return refusal
    max_age = timedelta(seconds=settings.PAGER_WEBHOOK_MAX_AGE_SECONDS)
    return _record(request, lambda body: [event] if (event := opsgenie_event(body)) else [], max_age=max_age)


@csrf_exempt
@login_not_required
@require_POST
def alertmanager_webhook(request: HttpRequest) -> HttpResponse:
    """Alertmanager's webhook receiver: a notification of one or more alerts, with a bearer token.

    No replay window: Alertmanager re-sends alerts that are still firing, with their start time.
    """
    refusal = _bearer_refusal(
        request, token=settings.ALERTMANAGER_WEBHOOK_TOKEN, variable="ALERTMANAGER_WEBHOOK_TOKEN"
    )
    if refusal is not None:
        return refusal
    return _record(request, alertmanager_events)
