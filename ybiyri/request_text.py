"""Refuse a request whose text the database cannot take, before any view sees it.

PostgreSQL cannot store or compare text holding NUL ("A string literal cannot contain NUL (0x00)
characters"), and text with lone surrogates cannot even be encoded to send to it. A filter value,
a form field or a URL segment reaching a query would otherwise be a 500, on every page that
forgot to check. So one middleware checks the path, every query parameter and every form field
(names too) of every request: NUL, lone surrogates and, in parameters and fields, bytes that are
not UTF-8 (Django would quietly turn them into U+FFFD) are answered with a 400 — the JSON error
body of the API under /api/, the error page elsewhere.

JSON bodies are the serializers' and webhook parsers' to check: DRF's CharField refuses NUL and
surrogates itself, and each webhook parser refuses them in the values it reads.
"""

from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _fit_for_storage(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _strict_pairs(encoded: str) -> list[tuple[str, str]] | None:
    """The name/value pairs of a urlencoded string decoded strictly as UTF-8; None if they are not."""
    try:
        return parse_qsl(encoded, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def _all_fit(pairs: Iterable[tuple[str, str]]) -> bool:
    return all(_fit_for_storage(name) and _fit_for_storage(value) for name, value in pairs)


def unfit_text_problem(request: HttpRequest) -> str:
    """What is wrong with the request's text, or "" when the database can take all of it."""
    # A path that is not UTF-8 needs no check of ours: Django percent-encodes its stray bytes again.
    if not _fit_for_storage(request.path):
        return "The address contains characters that cannot be stored (NUL or lone surrogates)."
    query = _strict_pairs(request.META.get("QUERY_STRING", ""))
    if query is None:
        return "The query string is not valid UTF-8."
    if not _all_fit(query):
        return "A query parameter contains characters that cannot be stored (NUL or lone surrogates)."
    if request.method == "POST" and request.content_type in FORM_CONTENT_TYPES:
        if request.content_type == FORM_CONTENT_TYPES[0]:
            # Django decodes the body leniently; decode it strictly to see whether it was UTF-8.
            fields = _strict_pairs(request.body.decode("latin-1"))
            if fields is None:
                return "The form is not valid UTF-8."
        if not _all_fit((name, value) for name, values in request.POST.lists() for value in values):
            return "A form field contains characters that cannot be stored (NUL or lone surrogates)."
    return ""


def bad_request(request: HttpRequest, reason: str) -> HttpResponse:
    """400 with `reason`: JSON like the API's own errors under /api/, the error page elsewhere."""
    if request.path_info.startswith("/api/"):
        return JsonResponse({"detail": reason}, status=400)
    return render(request, "400.html", {"reason": reason}, status=400)


class UnfitTextMiddleware:
    """Answer 400 to a request whose path, query parameters or form fields the database cannot take."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            problem = unfit_text_problem(request)
        except SuspiciousOperation as refused:  # too many fields, too big a body: Django's limits
            problem = str(refused)
        if problem:
            return bad_request(request, problem)
        return self.get_response(request)
