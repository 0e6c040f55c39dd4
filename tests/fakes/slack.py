"""A local Slack Web API emulator, real HTTP on 127.0.0.1: enough for importing a channel.

Methods: auth.test, conversations.history (newest first, `oldest`/`latest`/`inclusive`, `limit`,
cursor pagination with `response_metadata.next_cursor`), conversations.replies (the parent first,
then the replies, paginated the same way), users.info (with `profile.email`). Fails as Slack does:
HTTP 200 with `{"ok": false, "error": "invalid_auth"}` for an unknown token and `token_revoked`
once `revoke()` is called; `fail_next(status=429, headers={"Retry-After": "3"})` for rate limits.
"""

from __future__ import annotations

import base64
import bisect
import json
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.backlog_http import Emulator, Reply, first

MAX_LIMIT = 999


def cursor_for(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def offset_of(cursor: str) -> int | None:
    try:
        kind, _, value = base64.b64decode(cursor.encode()).decode().partition(":")
        return int(value) if kind == "offset" else None
    except (ValueError, UnicodeDecodeError):
        return None


class FakeSlack(Emulator):
    def __init__(self, *, token: str = "xoxb-test-token") -> None:  # noqa: S107 (the emulator's test credential)
        super().__init__()
        self.token = token
        self.revoked = False
        self.channels: dict[str, list[dict[str, Any]]] = {}  # channel → top-level messages, any order
        self.threads: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (channel, parent ts) → replies
        self.users: dict[str, dict[str, Any]] = {}
        self._sorted: dict[str, list[dict[str, Any]]] = {}
        # Per channel, minus each message's ts, ascending (newest first), to find a window by bisection.
        self._sort_keys: dict[str, list[float]] = {}
        self._by_ts: dict[tuple[str, str], dict[str, Any]] = {}

    # --- test helpers -------------------------------------------------------------------------

    def add_user(self, user_id: str, *, name: str, email: str = "") -> None:
        with self.lock:
            self.users[user_id] = {
                "id": user_id,
                "name": name.lower().replace(" ", "."),
                "real_name": name,
                "profile": {"real_name": name, "email": email} if email else {"real_name": name},
            }

    def add_message(self, channel: str, ts: str, *, user: str, text: str, **extra: Any) -> dict[str, Any]:
        message = {"type": "message", "ts": ts, "user": user, "text": text, **extra}
        with self.lock:
            self.channels.setdefault(channel, []).append(message)
            self._by_ts[(channel, ts)] = message
            self._sorted.pop(channel, None)
        return message

    def add_reply(self, channel: str, parent_ts: str, ts: str, *, user: str, text: str) -> dict[str, Any]:
        reply = {"type": "message", "ts": ts, "user": user, "text": text, "thread_ts": parent_ts}
        with self.lock:
            parent = self._by_ts[(channel, parent_ts)]
            parent["thread_ts"] = parent_ts
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            self.threads.setdefault((channel, parent_ts), []).append(reply)
        return reply

    def revoke(self) -> None:
        self.revoked = True

    # --- the API ------------------------------------------------------------------------------

    def _newest_first(self, channel: str) -> tuple[list[dict[str, Any]], list[float]]:
        with self.lock:
            if channel not in self._sorted:
                self._sorted[channel] = sorted(
                    self.channels.get(channel, []), key=lambda m: float(m["ts"]), reverse=True
                )
                self._sort_keys[channel] = [-float(m["ts"]) for m in self._sorted[channel]]
            return self._sorted[channel], self._sort_keys[channel]

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> Reply:
        params = {**query}
        if body and "json" not in headers.get("Content-Type", ""):
            params.update(parse_qs(body.decode(), keep_blank_values=True))
        api_method = path.rsplit("/", 1)[-1]
        given = headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not given:
            return Reply(200, {"ok": False, "error": "not_authed"})
        if given != self.token:
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if self.revoked:
            return Reply(200, {"ok": False, "error": "token_revoked"})
        handler = {
            "auth.test": self.auth_test,
            "conversations.history": self.history,
            "conversations.replies": self.replies,
            "users.info": self.user_info,
        }.get(api_method)
        if handler is None:
            return Reply(404, {"ok": False, "error": "unknown_method"})
        return Reply(200, handler(params))

    def auth_test(self, params: dict[str, list[str]]) -> dict[str, Any]:
        return {"ok": True, "team": "Example", "user": "ybiyri", "bot_id": "B1"}

    def _page(
        self,
        items: list[dict[str, Any]],
        params: dict[str, list[str]],
        *,
        start: int = 0,
        end: int | None = None,
    ) -> dict[str, Any]:
        """The page of `items[start:end]` that the request's cursor and limit ask for."""
        end = len(items) if end is None else end
        try:
            limit = min(int(first(params, "limit", "100")), MAX_LIMIT)
        except ValueError:
            return {"ok": False, "error": "invalid_arguments"}
        cursor = first(params, "cursor")
        offset = offset_of(cursor) if cursor else 0
        if offset is None:
            return {"ok": False, "error": "invalid_cursor"}
        page = items[start + offset : min(start + offset + limit, end)]
        more = start + offset + limit < end
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": cursor_for(offset + limit) if more else ""},
        }

    def history(self, params: dict[str, list[str]]) -> dict[str, Any]:
        channel = first(params, "channel")
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        oldest, latest = float(first(params, "oldest", "0") or 0), first(params, "latest")
        inclusive = first(params, "inclusive") in ("true", "1", "True")
        newest = float(latest) if latest else float("inf")
        messages, keys = self._newest_first(channel)
        # The window [oldest, latest] (or open), found by bisection: a long channel's every page
        # must not cost a pass over all of it.
        if inclusive:
            start, end = bisect.bisect_left(keys, -newest), bisect.bisect_right(keys, -oldest)
        else:
            start, end = bisect.bisect_right(keys, -newest), bisect.bisect_left(keys, -oldest)
        return self._page(messages, params, start=start, end=end)

    def replies(self, params: dict[str, list[str]]) -> dict[str, Any]:
        channel, ts = first(params, "channel"), first(params, "ts")
        with self.lock:
            parent = self._by_ts.get((channel, ts))
            replies = sorted(self.threads.get((channel, ts), []), key=lambda m: float(m["ts"]))
        if parent is None:
            return {"ok": False, "error": "thread_not_found"}
        return self._page([parent, *replies], params)

    def user_info(self, params: dict[str, list[str]]) -> dict[str, Any]:
        user = self.users.get(first(params, "user"))
        if user is None:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": json.loads(json.dumps(user))}
