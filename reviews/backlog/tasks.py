"""Celery tasks that push improvement actions to the backlog and follow their status back.

Thin adapters: they take ids, claim rows with conditional updates (`reviews.services.actions`), call
the tracker through `reviews.backlog`, record the outcome; the retry policy is the outbox's
(`ybiyri.outbox`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from celery import shared_task
from django.db import transaction

from incidents.models import Team
from reviews.backlog import (
    PermanentTrackerError,
    RemoteItem,
    TrackerError,
    TransientTrackerError,
    tracker_for,
    tracker_push_many,
)
from reviews.models import ImprovementAction
from reviews.services.actions import (
    ACTION_PUSHES,
    ClaimedPush,
    action_apply_tracker_item,
    action_sync_claim,
    action_sync_deferred,
    action_sync_failed,
    action_sync_will_retry,
    action_syncs_succeeded,
    sync_fingerprint,
)
from ybiyri.outbox import attempts_exhausted, retry_delay

logger = logging.getLogger(__name__)

KEYS_PER_QUERY = 500
INTERRUPTED = "The batch stopped before reaching this action."


@shared_task(acks_late=True, ignore_result=True)
def action_push_task(action_ids: list[int] | int) -> None:
    """Create or update each action's issue or card; actions another delivery claimed are skipped.

    One claim and one read for the batch, one tracker per team, the first pushes of a team's
    actions created together (`tracker_push_many`: one bulk request where the tracker has one), and
    one commit for the outcomes, written once the batch is done (also when it is interrupted): a
    worker that dies before that leaves its claims to the reconciler, and the label lookup of their
    next attempt adopts whatever the tracker created. When the tracker fails transiently (down, 429,
    5xx), the batch's remaining actions on that tracker are not tried: they wait with the failed
    one, so a tracker that is down costs one timeout per batch, not one per action. A message
    enqueued before pushes were batched carries a single id.
    """
    ids = [action_ids] if isinstance(action_ids, int) else action_ids
    claimed = action_sync_claim(action_ids=ids)
    batch = _PushBatch(claimed)
    try:
        for pushes in _by_team(claimed):
            batch.push_team(pushes)
    finally:
        batch.record()


def _by_team(claimed: list[ClaimedPush]) -> list[list[ClaimedPush]]:
    """The claimed pushes grouped by team, teams in the order of their first push."""
    teams: dict[int, list[ClaimedPush]] = {}
    for push in claimed:
        teams.setdefault(push.action.incident.team_id, []).append(push)
    return list(teams.values())


class _PushBatch:
    """The outcomes of one message's pushes, kept in memory until `record` writes them at once."""

    def __init__(self, claimed: list[ClaimedPush]) -> None:
        self.claimed = claimed
        # What each push was built from, read before any of them went out.
        self.pushed = {push.action.pk: sync_fingerprint(push.action) for push in claimed}
        self.paused: dict[str, tuple[TransientTrackerError, int]] = {}
        self.deferred: dict[str, list[ImprovementAction]] = {}
        self.outcomes: list[Callable[[], object]] = []
        self.succeeded: list[tuple[ImprovementAction, RemoteItem, dict[str, Any]]] = []
        self.handled: set[int] = set()

    def push_team(self, pushes: list[ClaimedPush]) -> None:
        """Push one team's actions through its tracker; a tracker paused by an earlier transient
        failure defers them, and one failing transiently now defers those it did not reach."""
        team = pushes[0].action.incident.team
        try:
            tracker = tracker_for(team)
        except PermanentTrackerError as error:
            for push in pushes:
                self._outcome(push.action, error)
            return
        if tracker is None:
            gone = PermanentTrackerError(f"Team {team.name} no longer keeps a backlog tracker.")
            for push in pushes:
                self._outcome(push.action, gone)
            return
        if team.tracker not in self.paused:
            pairs = [(push.action, push.first_attempt) for push in pushes]
            for action, result in tracker_push_many(tracker, pairs):
                self._outcome(action, result)
        waiting = [push.action for push in pushes if push.action.pk not in self.handled]
        if waiting:
            self.deferred.setdefault(team.tracker, []).extend(waiting)
            self.handled.update(action.pk for action in waiting)

    def _outcome(self, action: ImprovementAction, result: RemoteItem | TrackerError) -> None:
        """Keep one action's item, or how to record its failure."""
        self.handled.add(action.pk)
        if isinstance(result, RemoteItem):
            self.succeeded.append((action, result, self.pushed[action.pk]))
        elif isinstance(result, TransientTrackerError):
            countdown = retry_delay(action.sync_attempts, result.retry_after)
            # The tracker's other actions in the batch wait with the first one that failed.
            self.paused.setdefault(action.incident.team.tracker, (result, countdown))
            if attempts_exhausted(action.sync_attempts):
                message = f"{result.message} (gave up after {action.sync_attempts} attempts)"
                self.outcomes.append(partial(action_sync_failed, action=action, message=message))
            else:
                logger.warning(
                    "Push of action %s failed (%s); retrying in %ss", action.pk, result.message, countdown
                )
                self.outcomes.append(
                    partial(
                        action_sync_will_retry, action=action, message=result.message, countdown=countdown
                    )
                )
        else:
            self.outcomes.append(partial(action_sync_failed, action=action, message=result.message))

    def record(self) -> None:
        """Write every outcome in one commit; claimed pushes never reached go back to pending."""
        with transaction.atomic():
            action_syncs_succeeded(pushes=self.succeeded)
            for record in self.outcomes:
                record()
            for tracker_name, actions in self.deferred.items():
                pause_error, countdown = self.paused[tracker_name]
                action_sync_deferred(actions=actions, message=pause_error.message, countdown=countdown)
            unreached = [push.action for push in self.claimed if push.action.pk not in self.handled]
            if unreached:
                action_sync_deferred(actions=unreached, message=INTERRUPTED, countdown=retry_delay(1))


@shared_task(ignore_result=True)
def actions_reconcile_task() -> int:
    """Beat: re-enqueue pushes left pending and reclaim pushes whose worker died mid-way."""
    return ACTION_PUSHES.reconcile()


@shared_task(ignore_result=True)
def backlog_status_reconcile_task() -> int:
    """Beat: ask each team's tracker what changed lately and follow it (catches missed webhooks)."""
    changed = 0
    for team in Team.objects.exclude(tracker=Team.Tracker.NONE):
        try:
            tracker = tracker_for(team)
            items = tracker.recently_changed(team) if tracker else []
        except TrackerError as error:
            logger.warning("Status reconcile for team %s skipped: %s", team.name, error.message)
            continue
        by_key = {item.key: item for item in items}
        keys = list(by_key)
        for start in range(0, len(keys), KEYS_PER_QUERY):
            actions = ImprovementAction.objects.filter(
                incident__team=team,
                tracker=team.tracker,
                external_key__in=keys[start : start + KEYS_PER_QUERY],
            ).select_related("incident__team", "owner")
            for action in actions:
                changed += action_apply_tracker_item(action=action, item=by_key[action.external_key])
    return changed
