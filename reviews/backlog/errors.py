"""How a tracker call failed, classified so the task knows whether to retry."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.utils import timezone

# A Retry-After beyond this is treated as this: a tracker asking for hours is better retried by
# the reconciler than parked on the broker.
MAX_RETRY_AFTER_SECONDS = 3600


class TrackerError(Exception):
    """Base class: `message` is the tracker's own wording, fit to show people."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class TransientTrackerError(TrackerError):
    """Connection errors, timeouts, 429 and 5xx: worth retrying, after `retry_after` seconds if given."""

    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentTrackerError(TrackerError):
    """Validation errors, bad credentials, unknown project: retrying cannot help until someone fixes it."""


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> int | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None.

    RFC 9110 §10.2.3 allows both forms; Jira and Trello send seconds, proxies sometimes a date.
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value), MAX_RETRY_AFTER_SECONDS)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = int((when - (now or timezone.now())).total_seconds())
    return min(max(seconds, 0), MAX_RETRY_AFTER_SECONDS)


def is_transient_status(status: int | None) -> bool:
    """429, 408 and every 5xx are worth retrying; other 4xx are the caller's fault."""
    return status is None or status in (408, 429) or status >= 500
