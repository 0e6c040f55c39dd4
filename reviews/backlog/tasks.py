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
    Tracker,
    TrackerError,
    TransientTrackerError,
    tracker_for,
    tracker_push,
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

    One claim and one read for the batch, one tracker per team, and one commit for the outcomes,
    written once the batch is done (also when it is interrupted): a worker that dies before that
    leaves its claims to the reconciler, and the label lookup of their next attempt adopts whatever
    the tracker created. When the tracker fails transiently (down, 429, 5xx), the batch's remaining
    actions on that tracker are not tried: they wait with the failed one, so a tracker that is down
    costs one timeout per batch, not one per action. A message enqueued before pushes were batched
    carries a single id.
    """
    ids = [action_ids] if isinstance(action_ids, int) else action_ids
    trackers: dict[int, Tracker | PermanentTrackerError | None] = {}
    paused: dict[str, tuple[TransientTrackerError, int]] = {}
    deferred: dict[str, list[ImprovementAction]] = {}
    outcomes: list[Callable[[], object]] = []
    succeeded: list[tuple[ImprovementAction, RemoteItem, dict[str, Any]]] = []
    claimed = action_sync_claim(action_ids=ids)
    try:
        for push in claimed:
            team = push.action.incident.team
            if team.tracker in paused:
                deferred.setdefault(team.tracker, []).append(push.action)
                continue
            if team.pk not in trackers:
                try:
                    trackers[team.pk] = tracker_for(team)
                except PermanentTrackerError as error:
                    trackers[team.pk] = error
            pushed = sync_fingerprint(push.action)
            outcome, pause = _push(push, trackers[team.pk])
            if isinstance(outcome, RemoteItem):
                succeeded.append((push.action, outcome, pushed))
            else:
                outcomes.append(outcome)
            if pause is not None:
                paused[team.tracker] = pause
    finally:
        with transaction.atomic():
            action_syncs_succeeded(pushes=succeeded)
            for record in outcomes:
                record()
            for tracker_name, actions in deferred.items():
                pause_error, countdown = paused[tracker_name]
                action_sync_deferred(actions=actions, message=pause_error.message, countdown=countdown)
            reached = len(succeeded) + len(outcomes) + sum(len(actions) for actions in deferred.values())
            if reached < len(claimed):
                action_sync_deferred(
                    actions=[push.action for push in claimed[reached:]],
                    message=INTERRUPTED,
                    countdown=retry_delay(1),
                )


def _push(
    push: ClaimedPush, tracker: Tracker | PermanentTrackerError | None
) -> tuple[RemoteItem | Callable[[], object], tuple[TransientTrackerError, int] | None]:
    """Push one claimed action; return the tracker's item, or how to record the failure and, after
    a transient one, the error and the countdown of its retry."""
    action = push.action
    try:
        if isinstance(tracker, PermanentTrackerError):
            raise tracker
        if tracker is None:
            raise PermanentTrackerError(
                f"Team {action.incident.team.name} no longer keeps a backlog tracker."
            )
        return tracker_push(tracker, action, first_attempt=push.first_attempt), None
    except TransientTrackerError as error:
        countdown = retry_delay(action.sync_attempts, error.retry_after)
        if attempts_exhausted(action.sync_attempts):
            message = f"{error.message} (gave up after {action.sync_attempts} attempts)"
            return partial(action_sync_failed, action=action, message=message), (error, countdown)
        logger.warning("Push of action %s failed (%s); retrying in %ss", action.pk, error.message, countdown)
        record = partial(action_sync_will_retry, action=action, message=error.message, countdown=countdown)
        return record, (error, countdown)
    except PermanentTrackerError as error:
        return partial(action_sync_failed, action=action, message=error.message), None


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
