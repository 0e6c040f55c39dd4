"""Failures of outbound calls, classified once for trackers, channels and mail."""

import smtplib
from datetime import UTC, datetime

import pytest

from ybiyri.outbound import (
    MAX_RETRY_AFTER_SECONDS,
    is_transient_mail_error,
    is_transient_status,
    parse_retry_after,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120),
        (" 7 ", 7),
        ("Mon, 02 Mar 2026 12:01:30 GMT", 90),
        ("Mon, 02 Mar 2026 11:00:00 GMT", 0),  # already past: retry now, never a negative wait
        ("999999", MAX_RETRY_AFTER_SECONDS),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_is_read_as_seconds_or_a_date_and_capped(header, seconds):
    assert parse_retry_after(header, now=NOW) == seconds


@pytest.mark.parametrize(("status", "transient"), [(None, True), (408, True), (429, True), (500, True),
                                                   (503, True), (400, False), (401, False), (404, False),
                                                   (422, False)])  # fmt: skip
def test_only_timeouts_rate_limits_and_server_errors_are_transient(status, transient):
    assert is_transient_status(status) is transient


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (smtplib.SMTPResponseException(451, b"Greylisted"), True),
        (smtplib.SMTPResponseException(550, b"User unknown"), False),
        (
            smtplib.SMTPRecipientsRefused({"a@example.org": (452, b"Full"), "b@example.org": (421, b"Busy")}),
            True,
        ),
        (
            smtplib.SMTPRecipientsRefused({"a@example.org": (452, b"Full"), "b@example.org": (550, b"No")}),
            False,
        ),
        (smtplib.SMTPServerDisconnected("gone"), True),
        (ConnectionRefusedError("refused"), True),
        (TimeoutError(), True),
        (ValueError("bad address"), False),
    ],
)
def test_mail_errors_are_transient_only_when_the_server_may_take_it_later(error, transient):
    assert is_transient_mail_error(error) is transient
