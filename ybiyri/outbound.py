"""How an outbound call to another system failed: worth retrying, and after how long.

Shared by everything that talks to the outside — the backlog trackers, the broadcast channels, the
notification emails, the evidence imports — so that all of them classify failures alike: connection
errors, timeouts, HTTP 408/429/5xx and SMTP 4xx are transient; other answers are permanent.
"""

from __future__ import annotations

import smtplib
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.utils import timezone

# A Retry-After beyond this is treated as this: a server asking for hours is better retried by
# the reconciler than parked on the broker.
MAX_RETRY_AFTER_SECONDS = 3600


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> int | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None.

    RFC 9110 §10.2.3 allows both forms; Jira, Trello and Slack send seconds, proxies sometimes a date.
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
    """No answer, 408, 429 and every 5xx are worth retrying; other 4xx are the caller's fault."""
    return status is None or status in (408, 429) or status >= 500


def is_transient_mail_error(exc: Exception) -> bool:
    """SMTP 4xx answers (greylisting, a full queue) and lost connections are worth retrying."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    return isinstance(
        exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.error, TimeoutError)
    )
