"""How the API reports errors: the services' exceptions turned into DRF responses.

- ``django.core.exceptions.ValidationError`` (raised by services and model ``clean()``) → 400 with
  the same shape as DRF's own validation errors: ``{"field": ["message", ...]}``, and
  ``{"non_field_errors": [...]}`` for errors not tied to a field;
- ``ybiyri.errors.Conflict`` → 409 ``{"detail": ..., **details}``: a stale version
  (``{"current_version": N}``), a narrative published while the loop is open
  (``{"missing": ["analyses", "review"]}``);
- ``Http404`` → 404 ``{"detail": "Not found."}`` whatever raised it, so that a row the requester
  may not see and a row that does not exist answer alike (the ``access_*`` functions and
  ``get_object_or_404`` word their messages differently);
- everything else as DRF does it (401/403/404/405/...), never a 500 for bad input.
"""

from typing import Any, Literal

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.openapi import AutoSchema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from ybiyri.errors import Conflict


def validation_error_body(error: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ValidationError as DRF's field → messages mapping."""
    if hasattr(error, "error_dict"):
        body: dict[str, list[str]] = {}
        for field, errors in error.message_dict.items():
            key = api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field
            body.setdefault(key, []).extend(errors)
        return body
    return {api_settings.NON_FIELD_ERRORS_KEY: list(error.messages)}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        return Response(validation_error_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Conflict):
        return Response({"detail": str(exc), **exc.details()}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    return exception_handler(exc, context)


# --- The errors in the OpenAPI schema ------------------------------------------------------

ERROR_BODY = {
    "type": "object",
    "description": "`detail` for request-wide errors; otherwise field name → list of messages.",
    "properties": {"detail": {"type": "string"}},
    "additionalProperties": True,
}
CONFLICT_BODY = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "current_version": {"type": "integer"}},
    "required": ["detail", "current_version"],
}


class ErrorDocumentingSchema(AutoSchema):
    """Every operation documents the errors the API can answer with, so clients (and schemathesis)
    can rely on the schema: 400 bad input, 401 not signed in, 403 not allowed, 404 not found or
    not yours to see, and 409 for stale writes on views that declare ``versioned_writes``."""

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        errors = {
            "400": "Bad input",
            "401": "Not signed in",
            "403": "Not allowed",
            "404": "Not found, not visible to you, or no such page of results",
        }
        if self.method in {"PUT", "PATCH"} and getattr(self.view, "versioned_writes", False):
            errors["409"] = "Saved over a newer version"
        for code, description in errors.items():
            body = CONFLICT_BODY if code == "409" else ERROR_BODY
            responses.setdefault(
                code, {"description": description, "content": {"application/json": {"schema": body}}}
            )
        return responses


@csrf_exempt
@login_not_required
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under /api/: a JSON 404 like the API's own, never the HTML error page."""
    return JsonResponse({"detail": "Not found."}, status=404)
