"""Importing a Slack channel through the Web API with the official SDK (slack_sdk).

Calls, each documented by Slack:
- conversations.history https://api.slack.com/methods/conversations.history — a page of the
  channel's messages, newest first, `response_metadata.next_cursor` for the next page;
- conversations.replies https://api.slack.com/methods/conversations.replies — a thread's replies;
- users.info https://api.slack.com/methods/users.info — a user's name and email (users:read.email).

The SDK's own retries are off: a 429 or a 5xx ends the run with `TransientSlackError` (with the
server's Retry-After) and the job is retried by the outbox's policy, resuming from its saved cursor.
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from incidents.evidence.slack import SlackPeople, SlackPerson
from ybiyri.outbound import is_transient_status, parse_retry_after

# Slack allows up to 999 per history page; fewer, larger pages mean fewer rate-limited calls.
PAGE_SIZE = 999
# Errors that no retry can fix: the token or the channel must be changed first.
PERMANENT_ERRORS = {
    "invalid_auth",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_authed",
    "missing_scope",
    "channel_not_found",
    "not_in_channel",
    "invalid_cursor",
}


class SlackError(Exception):
    """`message` is Slack's own error code with what it means, fit to show people."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class TransientSlackError(SlackError):
    def __init__(self, message: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSlackError(SlackError):
    pass


def slack_client() -> WebClient:
    if not settings.SLACK_BOT_TOKEN:
        raise PermanentSlackError("Slack import is not configured (SLACK_BOT_TOKEN).")
    return WebClient(
        token=settings.SLACK_BOT_TOKEN, base_url=f"{settings.SLACK_API_URL}/", timeout=30, retry_handlers=[]
    )


def classified(error: Exception) -> SlackError:
    """A failed call as transient (connection, 429, 5xx) or permanent (Slack's refusal)."""
    if isinstance(error, SlackApiError):
        response = error.response
        status = getattr(response, "status_code", None)
        code = response.get("error", "") if hasattr(response, "get") else ""
        if status == 429 or code == "ratelimited":
            headers = getattr(response, "headers", {}) or {}
            retry_after = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
            return TransientSlackError(
                "Slack is rate limiting the import (ratelimited).", retry_after=retry_after
            )
        if code in PERMANENT_ERRORS or (status is not None and not is_transient_status(status)):
            return PermanentSlackError(f"Slack refused: {code or status}.")
        return TransientSlackError(f"Slack answered {status}: {code or 'server error'}.")
    return TransientSlackError(f"Slack could not be reached: {error}.")


def call(method: Any, **arguments: Any) -> dict[str, Any]:
    try:
        return method(**arguments).data
    except (SlackApiError, urllib.error.URLError, OSError) as error:
        raise classified(error) from error


def user_lookup(client: WebClient) -> Callable[[str], SlackPerson]:
    def lookup(user_id: str) -> SlackPerson:
        try:
            user = call(client.users_info, user=user_id).get("user") or {}
        except PermanentSlackError:
            # A deleted or foreign user: keep the id, the message still counts.
            return SlackPerson(name=user_id, email="")
        profile = user.get("profile") or {}
        name = profile.get("real_name") or user.get("real_name") or user.get("name") or user_id
        return SlackPerson(name=str(name), email=str(profile.get("email") or ""))

    return lookup


@dataclass(frozen=True)
class ChannelPage:
    messages: list[dict[str, Any]]
    next_cursor: str


def channel_pages(
    client: WebClient, *, channel: str, oldest: str | None, latest: str | None, cursor: str = ""
) -> Iterator[ChannelPage]:
    """Pages of the channel's messages from `cursor`, each with its threads' replies beside it.

    One page at a time, so memory stays flat whatever the channel's size.
    """
    while True:
        arguments = {"channel": channel, "limit": PAGE_SIZE, "inclusive": True}
        if oldest:
            arguments["oldest"] = oldest
        if latest:
            arguments["latest"] = latest
        if cursor:
            arguments["cursor"] = cursor
        page = call(client.conversations_history, **arguments)
        messages = list(page.get("messages") or [])
        for message in list(messages):
            if message.get("reply_count") and message.get("thread_ts") == message.get("ts"):
                messages.extend(thread_replies(client, channel=channel, ts=message["ts"]))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        yield ChannelPage(messages=messages, next_cursor=cursor if page.get("has_more") or cursor else "")
        if not cursor:
            return


def thread_replies(client: WebClient, *, channel: str, ts: str) -> list[dict[str, Any]]:
    """A thread's replies, without its parent (which the history page holds)."""
    replies: list[dict[str, Any]] = []
    cursor = ""
    while True:
        arguments = {"channel": channel, "ts": ts, "limit": PAGE_SIZE}
        if cursor:
            arguments["cursor"] = cursor
        page = call(client.conversations_replies, **arguments)
        replies.extend(message for message in page.get("messages") or [] if message.get("ts") != ts)
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return replies


def slack_people(client: WebClient) -> SlackPeople:
    return SlackPeople(lookup=user_lookup(client))
