"""A local Trello REST emulator (API 1), real HTTP on 127.0.0.1.

Endpoints: POST /1/cards, GET/PUT /1/cards/{id}, GET /1/lists/{id}, GET /1/lists/{id}/cards
(filter=open|closed|all), GET /1/search (cards whose name or description contain the query),
POST /1/webhooks. Authentication as Trello accepts it: `Authorization: OAuth oauth_consumer_key=...,
oauth_token=...` or `key`/`token` query parameters; otherwise 401 "invalid key" as plain text, the
way Trello answers. Plus helpers to archive or move cards as people do, and to deliver signed
webhooks (base64 HMAC-SHA1 of body + callback URL) to the app.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from tests.fakes.backlog_http import Emulator, Reply, first

CARD_FIELDS = ("id", "name", "desc", "closed", "idList", "idBoard", "shortLink", "shortUrl", "url", "due")
CARD_FIELDS += ("dateLastActivity", "idShort")


def trello_id() -> str:
    return secrets.token_hex(12)


def trello_time(moment: datetime | None = None) -> str:
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeTrello(Emulator):
    def __init__(self, *, api_key: str = "trello-key", token: str = "trello-token") -> None:  # noqa: S107
        super().__init__()
        self.api_key, self.token = api_key, token
        self.board_id = trello_id()
        self.backlog_list_id = trello_id()
        self.done_list_id = trello_id()
        self.lists = {
            self.backlog_list_id: {"id": self.backlog_list_id, "name": "Backlog", "idBoard": self.board_id},
            self.done_list_id: {"id": self.done_list_id, "name": "Done", "idBoard": self.board_id},
        }
        self.cards: dict[str, dict[str, Any]] = {}
        self.webhooks: list[dict[str, Any]] = []
        self._short_ids = itertools.count(1)

    # --- test helpers -------------------------------------------------------------------------

    def cards_with(self, text: str) -> list[dict[str, Any]]:
        with self.lock:
            return [card for card in self.cards.values() if text in card["desc"]]

    def _touch(self, card: dict[str, Any]) -> None:
        card["dateLastActivity"] = trello_time()

    def archive(self, card_id: str, closed: bool = True) -> dict[str, Any]:
        with self.lock:
            card = self.cards[card_id]
            card["closed"] = closed
            self._touch(card)
            return dict(card)

    def move(self, card_id: str, list_id: str) -> dict[str, Any]:
        with self.lock:
            card = self.cards[card_id]
            card["idList"] = list_id
            self._touch(card)
            return dict(card)

    def webhook_body(
        self, card_id: str, *, closed: bool | None = None, list_before: str = "", list_after: str = ""
    ) -> bytes:
        """An `updateCard` action as Trello sends it after an archive/unarchive or a move."""
        with self.lock:
            card = self.cards[card_id]
            data: dict[str, Any] = {
                "card": {
                    "id": card["id"],
                    "name": card["name"],
                    "idShort": card["idShort"],
                    "shortLink": card["shortLink"],
                },
                "board": {"id": self.board_id, "name": "Payments"},
            }
            if closed is not None:
                data["card"]["closed"] = closed
                data["old"] = {"closed": not closed}
            if list_after:
                data["card"]["idList"] = list_after
                data["listBefore"] = {
                    "id": list_before,
                    "name": self.lists.get(list_before, {}).get("name", ""),
                }
                data["listAfter"] = {"id": list_after, "name": self.lists.get(list_after, {}).get("name", "")}
                data["old"] = {"idList": list_before}
        payload = {
            "action": {
                "id": trello_id(),
                "type": "updateCard",
                "date": trello_time(),
                "data": data,
                "memberCreator": {"username": "someone"},
            },
            "model": {"id": self.board_id, "name": "Payments"},
        }
        return json.dumps(payload).encode()

    def label_webhook_body(self, card_id: str, label: str) -> bytes:
        """An `addLabelToCard` action as Trello sends it when someone labels a card."""
        with self.lock:
            card = self.cards[card_id]
            card.setdefault("labels", []).append({"id": trello_id(), "name": label, "color": "red"})
            self._touch(card)
            data = {
                "card": {"id": card["id"], "name": card["name"], "shortLink": card["shortLink"]},
                "label": {"id": card["labels"][-1]["id"], "name": label, "color": "red"},
                "board": {"id": self.board_id, "name": "Payments"},
            }
        payload = {
            "action": {"id": trello_id(), "type": "addLabelToCard", "date": trello_time(), "data": data},
            "model": {"id": self.board_id, "name": "Payments"},
        }
        return json.dumps(payload).encode()

    @staticmethod
    def signature(body: bytes, callback_url: str, secret: str) -> str:
        return base64.b64encode(
            hmac.new(secret.encode(), body + callback_url.encode(), hashlib.sha1).digest()
        ).decode()

    def deliver_webhook(
        self,
        client: Any,
        body: bytes,
        *,
        secret: str | None,
        callback_url: str,
        url: str = "/integrations/trello/webhook/",
    ) -> Any:
        headers = {"X-Trello-Webhook": self.signature(body, callback_url, secret)} if secret else {}
        return client.post(url, data=body, content_type="application/json", headers=headers)

    # --- HTTP ---------------------------------------------------------------------------------

    def _authorised(self, query: dict[str, list[str]], headers: dict[str, str]) -> bool:
        auth = headers.get("Authorization", "")
        if auth.startswith("OAuth "):
            params = dict(re.findall(r'(\w+)="([^"]*)"', auth))
            return (
                params.get("oauth_consumer_key") == self.api_key and params.get("oauth_token") == self.token
            )
        return first(query, "key") == self.api_key and first(query, "token") == self.token

    def _card_json(self, card: dict[str, Any], fields: str = "") -> dict[str, Any]:
        names = [name for name in fields.split(",") if name] or list(CARD_FIELDS)
        return {"id": card["id"], **{name: card[name] for name in names if name in card}}

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> Reply:
        if not self._authorised(query, headers):
            return Reply(401, "invalid key", {"Content-Type": "text/plain"})
        params = {name: values[0] for name, values in query.items()}
        if body:
            params.update(json.loads(body))
        with self.lock:
            return self._route(method, path.rstrip("/"), params)

    def _route(self, method: str, path: str, params: dict[str, Any]) -> Reply:
        if path == "/1/cards" and method == "POST":
            return self._create(params)
        card_match = re.fullmatch(r"/1/cards/([0-9a-zA-Z]+)", path)
        if card_match:
            card = self.cards.get(card_match.group(1)) or next(
                (c for c in self.cards.values() if c["shortLink"] == card_match.group(1)), None
            )
            if card is None:
                return Reply(404, "The requested resource was not found.", {"Content-Type": "text/plain"})
            if method == "GET":
                return Reply(200, self._card_json(card, params.get("fields", "")))
            if method == "PUT":
                return self._update(card, params)
        list_match = re.fullmatch(r"/1/lists/([0-9a-f]+)(/cards)?", path)
        if list_match and method == "GET":
            trello_list = self.lists.get(list_match.group(1))
            if trello_list is None:
                return Reply(400, "invalid id", {"Content-Type": "text/plain"})
            if not list_match.group(2):
                fields = [name for name in params.get("fields", "").split(",") if name]
                return Reply(
                    200, {k: v for k, v in trello_list.items() if not fields or k in fields or k == "id"}
                )
            wanted = params.get("filter", "open")
            cards = [
                card
                for card in self.cards.values()
                if card["idList"] == trello_list["id"]
                and (wanted == "all" or (wanted == "closed") == bool(card["closed"]))
            ]
            return Reply(200, [self._card_json(card, params.get("fields", "")) for card in cards])
        if path == "/1/search" and method == "GET":
            text = params.get("query", "").strip('"')
            cards = [c for c in self.cards.values() if text and (text in c["desc"] or text in c["name"])]
            return Reply(200, {"cards": [self._card_json(card) for card in cards], "boards": []})
        if path == "/1/webhooks" and method == "POST":
            hook = {
                "id": trello_id(),
                "idModel": params.get("idModel"),
                "callbackURL": params.get("callbackURL"),
                "description": params.get("description", ""),
                "active": True,
            }
            self.webhooks.append(hook)
            return Reply(200, hook)
        return Reply(404, f"Cannot {method} {path}", {"Content-Type": "text/plain"})

    def _create(self, params: dict[str, Any]) -> Reply:
        if params.get("idList") not in self.lists:
            return Reply(400, "invalid value for idList", {"Content-Type": "text/plain"})
        if not params.get("name"):
            return Reply(400, "invalid value for name", {"Content-Type": "text/plain"})
        card_id, short_link = trello_id(), secrets.token_urlsafe(6)[:8]
        card = {
            "id": card_id,
            "idShort": next(self._short_ids),
            "shortLink": short_link,
            "shortUrl": f"https://trello.com/c/{short_link}",
            "url": f"https://trello.com/c/{short_link}/card",
            "name": params["name"],
            "desc": params.get("desc", ""),
            "closed": False,
            "idList": params["idList"],
            "idBoard": self.board_id,
            "due": params.get("due") or None,
            "dateLastActivity": trello_time(),
        }
        self.cards[card_id] = card
        return Reply(200, self._card_json(card))

    def _update(self, card: dict[str, Any], params: dict[str, Any]) -> Reply:
        if "idList" in params and params["idList"] not in self.lists:
            return Reply(400, "invalid value for idList", {"Content-Type": "text/plain"})
        for name in ("name", "desc", "idList", "due"):
            if name in params:
                card[name] = params[name]
        if "closed" in params:
            card["closed"] = str(params["closed"]).lower() == "true"
        self._touch(card)
        return Reply(200, self._card_json(card))


__all__ = ["FakeTrello"]
