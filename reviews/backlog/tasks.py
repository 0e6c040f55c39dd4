"""Celery tasks that push improvement actions to the backlog and follow their status back.

Thin adapters: they take ids, claim rows with conditional updates (`reviews.services.actions`), call
the tracker through `reviews.backlog`, record the outcome; the retry policy is the outbox's
(`ybiyri.outbox`).
"""

from __future__ import annotations

import logging

from celery import shared_task

from incidents.models import Team
from reviews.backlog import (
    PermanentTrackerError,
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
    action_sync_succeeded,
    action_sync_will_retry,
    sync_fingerprint,
)
from ybiyri.outbox import attempts_exhausted, retry_delay

logger = logging.getLogger(__name__)

KEYS_PER_QUERY = 500


@shared_task(acks_late=True, ignore_result=True)
def action_push_task(action_ids: list[int] | int) -> None:
    """Create or update each action's issue or card; actions another delivery claimed are skipped.

    One claim and one read for the batch, one tracker per team. When the tracker fails transiently
    (down, 429, 5xx), the batch's remaining actions on that tracker are not tried: they wait with
    the failed one, so a tracker that is down costs one timeout per batch, not one per action.
    A message enqueued before pushes were batched carries a single id.
    """
    ids = [action_ids] if isinstance(action_ids, int) else action_ids
    trackers: dict[int, Tracker | PermanentTrackerError | None] = {}
    paused: dict[str, tuple[TransientTrackerError, int]] = {}
    deferred: dict[str, list[ImprovementAction]] = {}
    for push in action_sync_claim(action_ids=ids):
        team = push.action.incident.team
        if team.tracker in paused:
            deferred.setdefault(team.tracker, []).append(push.action)
            continue
        if team.pk not in trackers:
            try:
                trackers[team.pk] = tracker_for(team)
            except PermanentTrackerError as error:
                trackers[team.pk] = error
        pause = _push(push, trackers[team.pk])
        if pause is not None:
            paused[team.tracker] = pause
    for tracker_name, actions in deferred.items():
        error, countdown = paused[tracker_name]
        action_sync_deferred(actions=actions, message=error.message, countdown=countdown)


def _push(
    push: ClaimedPush, tracker: Tracker | PermanentTrackerError | None
) -> tuple[TransientTrackerError, int] | None:
    """Push one claimed action and record the outcome; on a transient failure, return the error
    and the countdown of its retry."""
    action = push.action
    pushed = sync_fingerprint(action)
    try:
        if isinstance(tracker, PermanentTrackerError):
            raise tracker
        if tracker is None:
            raise PermanentTrackerError(
                f"Team {action.incident.team.name} no longer keeps a backlog tracker."
            )
        item = tracker_push(tracker, action, first_attempt=push.first_attempt)
    except TransientTrackerError as error:
        countdown = retry_delay(action.sync_attempts, error.retry_after)
        if attempts_exhausted(action.sync_attempts):
            action_sync_failed(
                action=action, message=f"{error.message} (gave up after {action.sync_attempts} attempts)"
            )
        else:
            logger.warning(
                "Push of action %s failed (%s); retrying in %ss", action.pk, error.message, countdown
            )
            action_sync_will_retry(action=action, message=error.message, countdown=countdown)
        return error, countdown
    except PermanentTrackerError as error:
        action_sync_failed(action=action, message=error.message)
        return None
    action_sync_succeeded(action=action, item=item, pushed=pushed)
    return None


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
