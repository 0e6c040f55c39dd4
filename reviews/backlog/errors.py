"""How a tracker call failed, classified so the task knows whether to retry."""

from __future__ import annotations


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
