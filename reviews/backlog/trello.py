"""Trello, through a small client over `requests`.

A card carries the action's idempotency marker on the last line of its description, so a retry
after a crash finds the card it created instead of adding a second one. Authentication goes in the
`Authorization: OAuth ...` header rather than the query string, so tokens stay out of access logs.

Trello has no priority field: a team that wants priorities to come back labels its cards with
ybiyri's priority names ("High", or "Priority: High"; `trello_priority_value`). ybiyri writes no
labels, so a card's labels say nothing about whether they are older or newer than a change made in
ybiyri: only the webhook's `addLabelToCard` event (someone labelled the card just now) changes the
action's priority; the status reconciler's snapshot of a card does not. Card members are not
matched to owners: Trello shows a member's email to that member alone, never to the token ybiyri
uses, so there is nothing to match them by.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from reviews.backlog import RemoteItem, create_one_by_one
from reviews.backlog.errors import PermanentTrackerError, TrackerError, TransientTrackerError
from ybiyri.outbound import is_transient_status, parse_retry_after
from ybiyri.payload import payload_datetime, payload_flag, payload_object, payload_text

if TYPE_CHECKING:
    from incidents.models import Team
    from reviews.models import ImprovementAction

TRACKER_NAME = "trello"
# Trello's ids are 24 hexadecimal digits and its short links 8 characters: longer text is no id.
ID_MAX_LENGTH = 64
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
CARD_FIELDS = "name,desc,closed,idList,shortUrl,url,dateLastActivity"
MARKER_PREFIX = "ybiyri:"


# --- pure payload builders -------------------------------------------------------------------


def trello_marker(action: ImprovementAction) -> str:
    return f"{MARKER_PREFIX} {action.idempotency_label}"


def trello_card_description(action: ImprovementAction, *, site_url: str) -> str:
    """The card description in Markdown (Trello renders it), ending with the idempotency marker."""
    incident = action.incident
    lines = [action.description.strip(), "", "---"] if action.description.strip() else ["---"]
    lines.append(
        f"Improvement action from incident [{incident.title}]({site_url}{incident.get_absolute_url()}) "
        f"({incident.get_severity_display()})."
    )
    narrative = getattr(incident, "narrative", None)
    if narrative is not None:
        lines.append(f"Narrative: [{narrative.title}]({site_url}{narrative.get_absolute_url()})")
    details = [f"Kind: {action.get_kind_display()}", f"Priority: {action.get_priority_display()}"]
    if action.owner is not None:
        details.append(f"Owner: {action.owner.display_name}")
    lines.append(" · ".join(details))
    lines.append("")
    lines.append(trello_marker(action))
    return "\n".join(lines)


def trello_card_params(action: ImprovementAction, *, list_id: str | None, site_url: str) -> dict[str, str]:
    """Query parameters of create-card (with `list_id`) and update-card (without)."""
    params = {"name": action.title[:16384], "desc": trello_card_description(action, site_url=site_url)}
    if action.due_date:
        params["due"] = action.due_date.isoformat()
    if list_id:
        params["idList"] = list_id
        params["pos"] = "bottom"
    return params


PRIORITY_LABEL_PREFIX = "priority:"


def trello_priority_value(label: str) -> str | None:
    """ybiyri's priority named by a card label ("High", "priority: high"), or None for other labels."""
    from reviews.models import ImprovementAction

    name = label.strip().casefold()
    if name.startswith(PRIORITY_LABEL_PREFIX):
        name = name[len(PRIORITY_LABEL_PREFIX) :].strip()
    by_label = {str(label).casefold(): value for value, label in ImprovementAction.Priority.choices}
    return by_label.get(name)


def trello_remote_item(card: dict[str, Any], *, done_list_id: str = "") -> RemoteItem:
    done = bool(card.get("closed")) or bool(done_list_id and card.get("idList") == done_list_id)
    done_at: datetime | None = None
    if done and card.get("dateLastActivity"):
        done_at = parse_datetime(card["dateLastActivity"])
    return RemoteItem(
        tracker=TRACKER_NAME,
        key=card["id"],
        url=card.get("shortUrl") or card.get("url") or "",
        done=done,
        done_at=done_at,
    )


def trello_signature(*, body: bytes, callback_url: str, secret: str) -> str:
    """Trello's webhook signature: base64 of HMAC-SHA1 over the raw body followed by the callback URL.

    https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/#webhook-signatures
    """
    digest = hmac.new(secret.encode(), body + callback_url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def trello_error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()[:500]
    else:
        text = str(body.get("message") or body.get("error") or body) if isinstance(body, dict) else str(body)
    return f"Trello (HTTP {response.status_code}): {text or response.reason}"


# --- I/O --------------------------------------------------------------------------------------


class TrelloClient:
    """The few Trello REST calls ybiyri makes, raising TrackerError subclasses only."""

    def __init__(self, *, base_url: str, api_key: str, token: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f'OAuth oauth_consumer_key="{api_key}", oauth_token="{token}"'
        self.session.headers["Accept"] = "application/json"

    def request(self, method: str, path: str, **params: str) -> Any:
        try:
            response = self.session.request(
                method,
                f"{self.base_url}/1/{path}",
                params=params,
                timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            )
        except requests.RequestException as error:
            raise TransientTrackerError(f"Trello could not be reached: {error.__class__.__name__}") from error
        if not response.ok:
            message = trello_error_message(response)
            if is_transient_status(response.status_code):
                raise TransientTrackerError(
                    message, retry_after=parse_retry_after(response.headers.get("Retry-After"))
                )
            raise PermanentTrackerError(message)
        try:
            return response.json()
        except ValueError as error:
            raise TransientTrackerError("Trello sent an unreadable answer") from error

    def list_cards(self, list_id: str, *, include_closed: bool) -> list[dict[str, Any]]:
        # GET /1/lists/{id}/cards
        # https://developer.atlassian.com/cloud/trello/rest/api-group-lists/#api-lists-id-cards-get
        return self.request(
            "GET", f"lists/{list_id}/cards", filter="all" if include_closed else "open", fields=CARD_FIELDS
        )

    def get_card(self, card_id: str) -> dict[str, Any]:
        # GET /1/cards/{id}
        # https://developer.atlassian.com/cloud/trello/rest/api-group-cards/#api-cards-id-get
        return self.request("GET", f"cards/{card_id}", fields=CARD_FIELDS)

    def create_card(self, params: dict[str, str]) -> dict[str, Any]:
        # POST /1/cards
        # https://developer.atlassian.com/cloud/trello/rest/api-group-cards/#api-cards-post
        return self.request("POST", "cards", **params)

    def update_card(self, card_id: str, params: dict[str, str]) -> dict[str, Any]:
        # PUT /1/cards/{id}
        # https://developer.atlassian.com/cloud/trello/rest/api-group-cards/#api-cards-id-put
        return self.request("PUT", f"cards/{card_id}", **params)

    def create_webhook(self, *, model_id: str, callback_url: str, description: str) -> dict[str, Any]:
        # POST /1/webhooks (Trello first sends HEAD to the callback URL and expects 200)
        # https://developer.atlassian.com/cloud/trello/rest/api-group-webhooks/#api-webhooks-post
        return self.request(
            "POST", "webhooks", idModel=model_id, callbackURL=callback_url, description=description
        )


_client: tuple[tuple[str, str, str], TrelloClient] | None = None
_client_lock = threading.Lock()


def trello_client() -> TrelloClient:
    """One client per process for the current settings, so that its keep-alive connection serves
    every push of a worker instead of one per task. Settings that changed (another token) get a new
    client and the old one's connections are closed."""
    global _client
    key = (settings.TRELLO_API_URL, settings.TRELLO_API_KEY, settings.TRELLO_TOKEN)
    with _client_lock:
        if _client is not None and _client[0] == key:
            return _client[1]
        if _client is not None:
            _client[1].session.close()
        client = TrelloClient(base_url=key[0], api_key=key[1], token=key[2])
        _client = (key, client)
        return client


class TrelloTracker:
    """Trello behind the `Tracker` interface, for one team's lists."""

    name = TRACKER_NAME

    def __init__(self, *, client: TrelloClient, list_id: str, done_list_id: str, site_url: str) -> None:
        self.client = client
        self.list_id = list_id
        self.done_list_id = done_list_id
        self.site_url = site_url

    @classmethod
    def for_team(cls, team: Team) -> TrelloTracker:
        if not (settings.TRELLO_API_KEY and settings.TRELLO_TOKEN):
            raise PermanentTrackerError("Trello is not configured: set TRELLO_API_KEY and TRELLO_TOKEN.")
        list_id = team.trello_list_id or settings.TRELLO_LIST_ID
        if not list_id:
            raise PermanentTrackerError(
                f"No Trello list for team {team.name}: set its list id or TRELLO_LIST_ID."
            )
        return cls(
            client=trello_client(),
            list_id=list_id,
            done_list_id=team.trello_done_list_id,
            site_url=settings.SITE_URL,
        )

    def _item(self, card: dict[str, Any]) -> RemoteItem:
        return trello_remote_item(card, done_list_id=self.done_list_id)

    def find_by_label(self, action: ImprovementAction) -> RemoteItem | None:
        # The backlog list, closed cards included, is where a crashed attempt left its card. Reading
        # the list is consistent at once, unlike Trello's search index.
        marker = trello_marker(action)
        lists = [self.list_id] + ([self.done_list_id] if self.done_list_id else [])
        for list_id in lists:
            for card in self.client.list_cards(list_id, include_closed=True):
                if marker in (card.get("desc") or ""):
                    return self._item(card)
        return None

    def create(self, action: ImprovementAction) -> RemoteItem:
        card = self.client.create_card(
            trello_card_params(action, list_id=self.list_id, site_url=self.site_url)
        )
        return self._item(card)

    def create_many(self, actions: Sequence[ImprovementAction]) -> list[RemoteItem | TrackerError]:
        # Trello has no bulk create: one POST /1/cards per card.
        return create_one_by_one(self, actions)

    def update(self, action: ImprovementAction, key: str) -> RemoteItem:
        card = self.client.update_card(key, trello_card_params(action, list_id=None, site_url=self.site_url))
        return self._item(card)

    def fetch_status(self, key: str) -> RemoteItem:
        return self._item(self.client.get_card(key))

    def recently_changed(self, team: Team) -> list[RemoteItem]:
        cards = self.client.list_cards(self.list_id, include_closed=True)
        if self.done_list_id:
            cards += self.client.list_cards(self.done_list_id, include_closed=True)
        return [self._item(card) for card in cards]


@dataclass(frozen=True)
class TrelloCardEvent:
    """What one Trello webhook delivery says about a card: (un)archived, moved between lists, a label
    added, when."""

    card_id: str
    url: str
    closed: bool | None
    list_before: str
    list_after: str
    when: datetime | None
    label_added: str = ""

    def item(self, *, done_list_id: str) -> RemoteItem | None:
        """The card's completion or priority, or None when the event says nothing about either.

        Done: the card was archived or moved into the done list. Reopened: it was unarchived, or
        moved out of the done list. A label naming a priority added: the priority changed now.
        """
        if self.closed is True or (done_list_id and self.list_after == done_list_id):
            return RemoteItem(
                tracker=TRACKER_NAME, key=self.card_id, url=self.url, done=True, done_at=self.when
            )
        if self.closed is False or (done_list_id and self.list_before == done_list_id):
            return RemoteItem(tracker=TRACKER_NAME, key=self.card_id, url=self.url, done=False)
        if self.label_added and trello_priority_value(self.label_added):
            return RemoteItem(
                tracker=TRACKER_NAME,
                key=self.card_id,
                url=self.url,
                done=None,
                priority=self.label_added,
                priority_changed_at=self.when or timezone.now(),
            )
        return None


def trello_webhook_event(payload: Any) -> TrelloCardEvent | None:
    """The card event in a Trello webhook's payload, or None for events about no card.

    https://developer.atlassian.com/cloud/trello/guides/rest-api/webhooks/
    Raises MalformedPayload when a value the card's state is read from has the wrong type.
    """
    body = payload_object(payload, name="the payload")
    action = payload_object(body.get("action"), name="action")
    data = payload_object(action.get("data"), name="action.data")
    card = payload_object(data.get("card"), name="action.data.card")
    card_id = payload_text(card.get("id"), name="action.data.card.id", max_length=ID_MAX_LENGTH)
    short_link = payload_text(
        card.get("shortLink"), name="action.data.card.shortLink", max_length=ID_MAX_LENGTH
    )
    closed = payload_flag(card.get("closed"), name="action.data.card.closed")
    list_before = payload_object(data.get("listBefore"), name="action.data.listBefore")
    list_after = payload_object(data.get("listAfter"), name="action.data.listAfter")
    label = payload_object(data.get("label"), name="action.data.label")
    action_type = payload_text(action.get("type"), name="action.type", max_length=64)
    event = TrelloCardEvent(
        card_id=card_id,
        url=f"https://trello.com/c/{short_link}" if short_link else "",
        closed=closed,
        list_before=payload_text(
            list_before.get("id"), name="action.data.listBefore.id", max_length=ID_MAX_LENGTH
        ),
        list_after=payload_text(
            list_after.get("id"), name="action.data.listAfter.id", max_length=ID_MAX_LENGTH
        ),
        when=payload_datetime(action.get("date"), name="action.date"),
        # https://developer.atlassian.com/cloud/trello/guides/rest-api/action-types/ (addLabelToCard)
        label_added=payload_text(label.get("name"), name="action.data.label.name", max_length=16384)
        if action_type == "addLabelToCard"
        else "",
    )
    return event if card_id else None


def trello_register_webhook(*, team: Team, callback_url: str) -> dict[str, Any]:
    """Ask Trello to call `callback_url` for changes on the board that holds the team's list.

    Trello sends a HEAD to the callback URL first and only registers the webhook if it answers
    200, so the site must be reachable from Trello. Returns Trello's webhook object.
    """
    tracker = TrelloTracker.for_team(team)
    # GET /1/lists/{id} → its board
    # https://developer.atlassian.com/cloud/trello/rest/api-group-lists/#api-lists-id-get
    board_id = tracker.client.request("GET", f"lists/{tracker.list_id}", fields="idBoard")["idBoard"]
    return tracker.client.create_webhook(
        model_id=board_id, callback_url=callback_url, description=f"ybiyri: {team.name} backlog"
    )
