"""Celery tasks that push improvement actions to the backlog and follow their status back.

Thin adapters: they take ids, claim rows with conditional updates (`reviews.services.actions`), call
the tracker through `reviews.backlog`, record the outcome and own the retry policy.
"""

from __future__ import annotations

import logging
import math
import random
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

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
    action_apply_tracker_status,
    action_sync_claim,
    action_sync_failed,
    action_sync_succeeded,
    action_sync_will_retry,
    action_syncs_overdue,
    action_syncs_reclaim_stuck,
    sync_fingerprint,
)
from ybiyri.celery import vet_database_connection

logger = logging.getLogger(__name__)

# Celery's own bound on retries of one message; the real cap is BACKLOG_SYNC_MAX_ATTEMPTS, counted
# on the row across messages (the reconciler's re-enqueues included).
MAX_CELERY_RETRIES = 50
# A pending push older than this has lost its message (broker down at commit, worker lost it).
PENDING_GRACE = timedelta(minutes=1)
KEYS_PER_QUERY = 500


def retry_countdown(attempt: int, retry_after: int | None = None, *, rng: random.Random | None = None) -> int:
    """Seconds before retry number `attempt` (1-based): exponential, capped, with jitter.

    "Equal jitter": half the backoff for sure plus a random half, so workers that failed together
    spread out without ever retrying at once. The tracker's Retry-After is a floor, never shortened.
    """
    base, cap = settings.BACKLOG_RETRY_BASE_SECONDS, settings.BACKLOG_RETRY_CAP_SECONDS
    backoff = min(cap, base * 2 ** max(attempt - 1, 0))
    jittered = backoff / 2 + (rng or random).uniform(0, backoff / 2)
    return max(math.ceil(jittered), retry_after or 0)


@shared_task(bind=True, max_retries=MAX_CELERY_RETRIES, acks_late=True, ignore_result=True)
def action_push_task(self, action_id: int) -> None:
    """Create or update the action's issue or card. A delivery that cannot claim the row does nothing."""
    vet_database_connection(self)
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
        if action.sync_attempts >= settings.BACKLOG_SYNC_MAX_ATTEMPTS:
            action_sync_failed(
                action=action, message=f"{error.message} (gave up after {action.sync_attempts} attempts)"
            )
            return
        countdown = retry_countdown(action.sync_attempts, error.retry_after)
        logger.warning("Push of action %s failed (%s); retrying in %ss", action_id, error.message, countdown)
        if action_sync_will_retry(action=action, message=error.message, countdown=countdown):
            raise self.retry(countdown=countdown, exc=error) from error
        return
    except PermanentTrackerError as error:
        action_sync_failed(action=action, message=error.message)
        return
    action_sync_succeeded(action=action, item=item, pushed=pushed)


def _enqueue(action_ids: list[int]) -> int:
    sent = 0
    for action_id in action_ids:
        try:
            action_push_task.delay(action_id)
        except Exception:
            # The broker is still down: the rows stay pending and the next run tries again.
            logger.exception(
                "Could not enqueue action pushes; %s left for the next run", len(action_ids) - sent
            )
            break
        sent += 1
    return sent


@shared_task(ignore_result=True)
def actions_reconcile_task() -> int:
    """Beat: re-enqueue pushes left pending and reclaim pushes whose worker died mid-way."""
    now = timezone.now()
    stuck = action_syncs_reclaim_stuck(
        claimed_before=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    )
    overdue = action_syncs_overdue(requested_before=now - PENDING_GRACE)
    return _enqueue(sorted(set(stuck) | set(overdue)))


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
            ).select_related("incident__team")
            for action in actions:
                changed += action_apply_tracker_status(action=action, item=by_key[action.external_key])
    return changed
