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
    TrackerError,
    TransientTrackerError,
    tracker_for,
    tracker_push,
)
from reviews.models import ImprovementAction
from reviews.services.actions import (
    ACTION_PUSHES,
    action_apply_tracker_item,
    action_sync_claim,
    action_sync_failed,
    action_sync_succeeded,
    action_sync_will_retry,
    sync_fingerprint,
)
from ybiyri.outbox import attempts_exhausted, retry_delay

logger = logging.getLogger(__name__)

KEYS_PER_QUERY = 500


@shared_task(acks_late=True, ignore_result=True)
def action_push_task(action_id: int) -> None:
    """Create or update the action's issue or card. A delivery that cannot claim the row does nothing."""
    action = action_sync_claim(action_id=action_id)
    if action is None:
        return
    pushed = sync_fingerprint(action)
    try:
        tracker = tracker_for(action.incident.team)
        if tracker is None:
            raise PermanentTrackerError(
                f"Team {action.incident.team.name} no longer keeps a backlog tracker."
            )
        item = tracker_push(tracker, action)
    except TransientTrackerError as error:
        if attempts_exhausted(action.sync_attempts):
            action_sync_failed(
                action=action, message=f"{error.message} (gave up after {action.sync_attempts} attempts)"
            )
            return
        countdown = retry_delay(action.sync_attempts, error.retry_after)
        logger.warning("Push of action %s failed (%s); retrying in %ss", action_id, error.message, countdown)
        action_sync_will_retry(action=action, message=error.message, countdown=countdown)
        return
    except PermanentTrackerError as error:
        action_sync_failed(action=action, message=error.message)
        return
    action_sync_succeeded(action=action, item=item, pushed=pushed)


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
