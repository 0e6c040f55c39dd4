"""Broadcast pages: progress (htmx partial) and retry for the incident's managers and facilitator
(`reviews.access.can_manage_broadcast`, as the deliveries API), one-click unsubscribe."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from incidents.models import User
from reviews.access import access_broadcast
from reviews.broadcast.selectors import broadcast_progress
from reviews.broadcast.services import deliveries_retry_failed, member_unsubscribe
from reviews.broadcast.unsubscribe import unsubscribe_user_id
from reviews.models import Narrative
from ybiyri.request_types import SignedInRequest


def render_status(request: SignedInRequest, narrative: Narrative) -> HttpResponse:
    context = {"narrative": narrative, "broadcast": broadcast_progress(narrative=narrative)}
    return render(request, "reviews/_broadcast_status.html", context)


@require_GET
def narrative_broadcast_status(request: SignedInRequest, pk: int) -> HttpResponse:
    """The progress partial; it polls itself (htmx) while deliveries are pending."""
    narrative = access_broadcast(user=request.user, narrative_id=pk)
    return render_status(request, narrative)


@require_POST
def narrative_broadcast_retry(request: SignedInRequest, pk: int) -> HttpResponse:
    narrative = access_broadcast(user=request.user, narrative_id=pk)
    retried = deliveries_retry_failed(narrative=narrative, by=request.user)
    if request.htmx:
        return render_status(request, narrative)
    if retried:
        messages.success(request, f"Sending {retried} failed deliveries again.")
    else:
        messages.info(request, "No failed deliveries to retry.")
    return redirect(narrative)


# The signed token is the authentication: mail providers POST here without cookies (RFC 8058).
@login_not_required
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (link scanners must not unsubscribe anyone); POST unsubscribes."""
    try:
        member = User.objects.get(pk=unsubscribe_user_id(token=token), is_active=True)
    except (signing.BadSignature, User.DoesNotExist):
        return render(request, "reviews/unsubscribe_invalid.html", status=400)
    if request.method == "POST":
        member_unsubscribe(user=member)
        return render(request, "reviews/unsubscribe_done.html", {"member": member})
    return render(request, "reviews/unsubscribe.html", {"member": member, "token": token})
