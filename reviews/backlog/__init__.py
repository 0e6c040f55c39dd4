"""The team's product backlog: one small interface over Jira and Trello.

Every tracker module implements `Tracker`; the tasks only ever talk to this interface, so adding a
tracker means adding a module and a branch in `tracker_for`. Trackers do I/O only: they build their
payloads with pure functions beside them and never touch the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from reviews.backlog.errors import PermanentTrackerError, TrackerError, TransientTrackerError

if TYPE_CHECKING:
    from incidents.models import Team
    from reviews.models import ImprovementAction

__all__ = [
    "PermanentTrackerError",
    "RemoteItem",
    "Tracker",
    "TrackerError",
    "TransientTrackerError",
    "priority_from_tracker",
    "tracker_for",
    "tracker_push_many",
]


@dataclass(frozen=True)
class RemoteItem:
    """An issue or card as the tracker sees it.

    `done` is the tracker's verdict (Jira status category "done"; Trello card closed or in the done
    list), None when what was read says nothing about it (a Trello event about a label); `done_at`
    is when the tracker says it happened, when it says so at all. `tracker` names the tracker it
    lives in ("jira", "trello"), since one tracker's key means nothing in another.

    `priority` is the tracker's own word for the priority (a Jira priority name, a Trello label) and
    `assignee_email` the email of the person assigned, "" when the tracker gives none. Each comes
    with when the tracker last changed it (`priority_changed_at`, `assignee_changed_at`, from the
    item's history or the event that reported the change), None when what was read reports no
    change: a value that merely differs from the action's may be one that ybiyri has changed since.

    `effort_estimate_hours` and `effort_actual_hours` are the tracker's time tracking (Jira's
    original estimate and time spent), None when it keeps none or says nothing of it.
    """

    tracker: str
    key: str
    url: str
    done: bool | None = False
    done_at: datetime | None = None
    priority: str = ""
    priority_changed_at: datetime | None = None
    assignee_email: str = ""
    assignee_changed_at: datetime | None = None
    effort_estimate_hours: Decimal | None = None
    effort_actual_hours: Decimal | None = None


class Tracker(Protocol):
    """What the tasks need from a backlog tracker. Every method raises `TrackerError` subclasses only."""

    name: str

    def find_by_label(self, action: ImprovementAction) -> RemoteItem | None:
        """The item carrying the action's idempotency label (or marker), if the tracker has one."""

    def create(self, action: ImprovementAction) -> RemoteItem:
        """Create the item. Callers look the label up first: this call is not idempotent."""

    def create_many(self, actions: Sequence[ImprovementAction]) -> list[RemoteItem | TrackerError]:
        """Create one item per action, in order: each entry is that action's item or its own error.

        The list ends after an action whose creation failed transiently (those after it were not
        tried); a request that carried several actions and failed as a whole gives each of them the
        error. Not idempotent, as `create`.
        """

    def update(self, action: ImprovementAction, key: str) -> RemoteItem:
        """Bring the item's title, description and priority in line with the action."""

    def fetch_status(self, key: str) -> RemoteItem:
        """The item's current state."""

    def recently_changed(self, team: Team) -> list[RemoteItem]:
        """Items of ybiyri's for this team whose state may have changed lately (for the reconciler)."""


def tracker_push(tracker: Tracker, action: ImprovementAction, *, first_attempt: bool = False) -> RemoteItem:
    """Create or update the action's item, exactly once.

    The label lookup before creating is what makes a retry after a crash safe: a worker that died
    after the tracker created the item but before the key was saved finds it here and adopts it.
    On the first attempt ever (`first_attempt`: no worker had claimed the push before) there is no
    earlier request whose item could exist, so the lookup is skipped; any later attempt looks.
    """
    if action.external_key and action.tracker == tracker.name:
        return tracker.update(action, action.external_key)
    existing = None if first_attempt else tracker.find_by_label(action)
    if existing is not None:
        # Adopted after a crash: the item may predate a later edit of the action, so refresh it.
        return tracker.update(action, existing.key)
    return tracker.create(action)


def tracker_push_many(
    tracker: Tracker, pushes: Sequence[tuple[ImprovementAction, bool]]
) -> Iterator[tuple[ImprovementAction, RemoteItem | TrackerError]]:
    """`tracker_push` for (action, first_attempt) pairs, yielding each action's item or its own
    error as soon as it is known.

    The first attempts of actions without an item need no lookup and no update: they are created
    together (`Tracker.create_many`), after the others. Stops after a transient error: the actions
    not yielded were not tried.
    """
    creations = []
    for action, first_attempt in pushes:
        if first_attempt and not (action.external_key and action.tracker == tracker.name):
            creations.append(action)
            continue
        try:
            yield action, tracker_push(tracker, action, first_attempt=first_attempt)
        except PermanentTrackerError as error:
            yield action, error
        except TransientTrackerError as error:
            yield action, error
            return
    if creations:
        yield from zip(creations, tracker.create_many(creations), strict=False)


def create_one_by_one(
    tracker: Tracker, actions: Sequence[ImprovementAction]
) -> list[RemoteItem | TrackerError]:
    """`Tracker.create_many` for a tracker that creates one item per request."""
    created: list[RemoteItem | TrackerError] = []
    for action in actions:
        try:
            created.append(tracker.create(action))
        except PermanentTrackerError as error:
            created.append(error)
        except TransientTrackerError as error:
            created.append(error)
            break
    return created


def tracker_for(team: Team) -> Tracker | None:
    """The tracker configured for the team, or None when the team keeps no tracker.

    Raises PermanentTrackerError naming the missing variable when the team chose a tracker that the
    deployment has not configured.
    """
    from incidents.models import Team

    if team.tracker == Team.Tracker.JIRA:
        from reviews.backlog.jira import JiraTracker

        return JiraTracker.for_team(team)
    if team.tracker == Team.Tracker.TRELLO:
        from reviews.backlog.trello import TrelloTracker

        return TrelloTracker.for_team(team)
    return None


def priority_from_tracker(team: Team, item: RemoteItem, *, current: str) -> str | None:
    """ybiyri's priority for the item's `priority` under the team's mapping, or None when the
    tracker's word maps to no priority of ybiyri's. `current` (the action's priority) is kept when
    it maps to the same word, since several priorities of ybiyri's may share one in the tracker."""
    if item.tracker == "jira":
        from reviews.backlog.jira import jira_priority_value

        return jira_priority_value(item.priority, current=current, priority_map=team.jira_priority_map or {})
    if item.tracker == "trello":
        from reviews.backlog.trello import trello_priority_value

        return trello_priority_value(item.priority)
    return None
