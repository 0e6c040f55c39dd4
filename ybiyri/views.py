"""Project-level views (the health check) and the helpers every page view uses."""

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ybiyri.celery import app as celery_app
from ybiyri.request_types import SignedInRequest
from ybiyri.versioned_cache import VersionedCache


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def broker_status() -> str:
    if not settings.REDIS_URL:
        return "eager"
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


@require_GET
@never_cache
@login_not_required
def healthz(request: HttpRequest) -> JsonResponse:
    """Database and broker status; 503 when either is down, for load balancers and compose."""
    checks = {"database": database_status(), "broker": broker_status()}
    healthy = all(value in {"ok", "eager"} for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)


def call_reporting(
    request: HttpRequest, service: Callable[..., object], *, success: str = "", **arguments: Any
) -> bool:
    """Call a service for a page; its ValidationError becomes an error message for the person.

    Returns whether it succeeded (then `success`, if given, is shown).
    """
    try:
        service(**arguments)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return False
    if success:
        messages.success(request, success)
    return True


def understood_filters(request: SignedInRequest, filters: forms.Form) -> dict[str, Any]:
    """The filters of a list page that are valid; the others are ignored and named in a message.

    A bookmarked or hand-edited address may carry a team that is gone or a value that is no
    choice: the page still answers, with what it understood. Partial (htmx) answers carry no
    message, since they do not show the page's messages.
    """
    if not filters.is_bound:
        return {}
    if not filters.is_valid() and not request.htmx:
        names = [name for name in filters.errors if name in filters.fields]
        ignored = ", ".join(str(filters[name].label) for name in names)
        messages.warning(request, f"Filters not understood, so ignored: {ignored or 'all'}.")
    return filters.cleaned_data


def for_template[T](instance: T, **values: Any) -> T:
    """`instance` with `values` set on it, for its template to read beside its own attributes (a
    row's form, a permission worked out for it). Shown only: nothing saves them."""
    for name, value in values.items():
        setattr(instance, name, value)
    return instance


class CountedPaginator(Paginator):
    """A paginator told how many items there are, by a caller that counts them more cheaply than
    a COUNT over the listing's own query."""

    def __init__(self, items: QuerySet, per_page: int, count: int) -> None:
        super().__init__(items, per_page)
        self._count = count

    @property
    def count(self) -> int:
        return self._count


def page_of(
    request: HttpRequest, items: QuerySet, per_page: int, *, count: Callable[[], int] | None = None
) -> tuple[Page, str]:
    """The requested page of `items`, and the other query parameters for the page links; `count`,
    if given, counts the items instead of the listing's query."""
    paginator = Paginator(items, per_page) if count is None else CountedPaginator(items, per_page, count())
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def request_digest(request: HttpRequest) -> str:
    """Names the address a request asked for, its query parameters in any order, and its time zone:
    part of the key of what a versioned cache keeps for it."""
    parameters = urlencode(sorted(request.GET.lists()), doseq=True)
    address = f"{request.build_absolute_uri(request.path)}?{parameters}"
    return f"{hashlib.sha256(address.encode()).hexdigest()[:32]}:{timezone.get_current_timezone_name()}"


def csrf_placeholder() -> str:
    """Stands for the CSRF token in a cached fragment's forms until it is served: the same in every
    process (derived from SECRET_KEY) and guessed by nobody, so no text people write can hold it."""
    return "csrf-" + salted_hmac("ybiyri.views.csrf_placeholder", "fragment", algorithm="sha256").hexdigest()


def render_fragment(template: str, context: dict[str, Any]) -> str:
    """A template rendered without the request, for a cache: its forms carry `csrf_placeholder`."""
    return render_to_string(template, {**context, "csrf_token": csrf_placeholder()})


def cached_fragment(
    request: HttpRequest, versioned: VersionedCache, name: str, *, viewer: str, build: Callable[[], str]
) -> SafeString:
    """The HTML `build` renders (`render_fragment`) for this request (`request_digest`) and `viewer`
    (`incidents.access.viewer_key`), from `versioned` while the data under it has not changed.
    Nothing of one visit can be served on another: `build` renders without the request, and the
    forms get this request's CSRF token as the fragment is served."""
    html = versioned.remember([name, viewer, request_digest(request)], build)
    placeholder = csrf_placeholder()
    if placeholder in html:
        html = html.replace(placeholder, get_token(request))
    return mark_safe(html)  # noqa: S308 — HTML rendered by a template


def personal_fragment(
    request: SignedInRequest,
    versioned: VersionedCache,
    name: str,
    template: str,
    context: Callable[[], dict[str, Any]],
) -> SafeString:
    """`template` as the person signed in sees it (`cached_fragment`): what each person may do on a
    page, and their own work, are theirs, so the entry is the person's, never shared by what they
    may see. `context` is made only when the entry is."""
    return cached_fragment(
        request,
        versioned,
        name,
        viewer=f"user-{request.user.pk}",
        build=lambda: render_fragment(template, context()),
    )


def fragment_with_errors(request: HttpRequest, template: str, context: dict[str, Any]) -> SafeString:
    """`template` for this request alone, its forms holding what was typed and their errors: never
    cached."""
    return mark_safe(render_to_string(template, context, request))  # noqa: S308 — HTML rendered by a template


def cached_filters(
    request: HttpRequest, versioned: VersionedCache, filters: forms.Form, *, viewer: str
) -> SafeString:
    """A list page's filter fields as `filters` renders them for this request, from `versioned`:
    a filter listing every team or service of the organisation costs more to render than the
    list's page of rows. `viewer`: whose choices they are (`cached_fragment`)."""
    return cached_fragment(
        request,
        versioned,
        "filters",
        viewer=viewer,
        build=lambda: render_fragment("filter_fields.html", {"filters": filters}),
    )
