"""The requests that views are annotated with: a signed-in person's.

``LoginRequiredMiddleware`` lets no anonymous request reach a page that is not marked
``login_not_required``, and the API's default permission is ``IsAuthenticated``, so those views
and view sets see ``request.user`` as an :class:`incidents.models.User`, never
``AnonymousUser``; ``HtmxMiddleware`` gives every request its ``htmx`` details. These classes tell
the type checker so. They are never instantiated: at run time the request is Django's or DRF's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.request import Request

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from incidents.models import User


class SignedInRequest(HttpRequest):
    """A page request from a signed-in person."""

    user: User
    htmx: HtmxDetails


class SignedInApiRequest(Request):
    """An API request from a signed-in person."""

    user: User
    htmx: HtmxDetails
