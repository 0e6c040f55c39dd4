"""Reading another system's webhook payload: its JSON checked value by value, before anything uses it.

A valid signature proves who sent a delivery, not that it has the documented shape: an upgrade at
the sender, a proxy or a hand-made delivery can put a string where an object belongs or a number
too large for a date. Each parser — the trackers' (`jira_webhook_issue`, `trello_webhook_event`),
the pagers' (`pagerduty_event`, `opsgenie_event`, `alertmanager_events`) — reads its payload
through these checks, which raise `MalformedPayload` naming the value at fault; the webhook
answers it with a 400. Text PostgreSQL cannot store or compare (NUL, lone surrogates) is refused
here as well, since a payload's key ends up in a query.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.utils.dateparse import parse_datetime


class MalformedPayload(ValueError):
    """The payload is not shaped as its sender documents it; the message names the value and why."""


def webhook_refusal(status: int, reason: str) -> JsonResponse:
    """A webhook's refusal, as every incoming webhook answers one: `{"error": reason}`."""
    return JsonResponse({"error": reason}, status=status)


def webhook_json(request: HttpRequest) -> Any:
    """The request's body read as JSON; MalformedPayload when it is not."""
    try:
        return json.loads(request.body)
    except (ValueError, RecursionError) as error:
        # RecursionError: nesting deeper than the parser's stack allows.
        raise MalformedPayload("The body must be JSON.") from error


def payload_object(value: Any, *, name: str) -> dict[str, Any]:
    """A JSON object; an absent value (null) reads as an empty one."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MalformedPayload(f"{name} must be an object.")
    return value


def payload_text(value: Any, *, name: str, max_length: int, required: bool = False) -> str:
    """A JSON string of at most `max_length` characters; absent reads as "" unless `required`."""
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise MalformedPayload(
            f"{name} must be a non-empty string." if required else f"{name} must be a string."
        )
    if len(value) > max_length:
        raise MalformedPayload(f"{name} must be at most {max_length} characters long.")
    if "\x00" in value:
        raise MalformedPayload(f"{name} must not contain NUL characters.")
    try:
        value.encode()
    except UnicodeEncodeError as error:
        raise MalformedPayload(f"{name} must be valid Unicode text.") from error
    return value


def payload_flag(value: Any, *, name: str) -> bool | None:
    """A JSON boolean, or None when absent (a payload that does not say)."""
    if value is None or isinstance(value, bool):
        return value
    raise MalformedPayload(f"{name} must be true or false.")


def payload_datetime(
    value: Any, *, name: str, parse: Callable[[str], datetime | None] = parse_datetime
) -> datetime | None:
    """An ISO 8601 date and time with its offset, in UTC; None when absent."""
    text = payload_text(value, name=name, max_length=64)
    if not text:
        return None
    try:
        moment = parse(text)
        # Offsets can push a date at the calendar's edges out of range once in UTC.
        in_utc = moment.astimezone(UTC) if moment is not None and moment.tzinfo is not None else None
    except (ValueError, OverflowError):
        in_utc = None
    if in_utc is None:
        raise MalformedPayload(f"{name} must be a date and time with its UTC offset.")
    return in_utc


def payload_epoch_millis(value: Any, *, name: str) -> datetime | None:
    """Milliseconds since the Unix epoch as a UTC datetime; None when absent."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedPayload(f"{name} must be a number of milliseconds since 1970.")
    try:
        if not math.isfinite(value):
            raise ValueError(value)
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (ValueError, OverflowError, OSError) as error:
        raise MalformedPayload(f"{name} is out of range.") from error
