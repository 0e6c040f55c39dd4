"""Celery tasks for the broadcast: thin adapters over reviews.broadcast.dispatch."""

import logging

from celery import shared_task
from kombu.exceptions import OperationalError

from reviews.broadcast.dispatch import deliveries_reconcile, deliveries_send

logger = logging.getLogger(__name__)


def deliveries_enqueue(batches: list[list[int]]) -> int:
    """Queue one send task per batch; return how many were queued.

    With the broker down the rows simply stay PENDING: the publish has committed, and the beat
    reconciler queues them once the broker is back. So a failure here is logged, never raised.
    """
    for queued, batch in enumerate(batches):
        try:
            deliveries_send_task.delay(batch)
        except (OperationalError, OSError) as exc:
            logger.warning(
                "Broker unavailable, %d broadcast batches left for the reconciler: %s",
                len(batches) - queued,
                exc,
            )
            return queued
    return len(batches)


@shared_task(acks_late=True)
def deliveries_send_task(delivery_ids: list[int]) -> dict[str, int]:
    """Send a batch of deliveries. Safe to run twice: rows already claimed are skipped."""
    report = deliveries_send(delivery_ids=delivery_ids)
    return {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}


@shared_task
def deliveries_reconcile_task() -> int:
    """Beat: requeue deliveries whose backoff has passed, whose task was lost, or whose worker died."""
    return deliveries_enqueue(deliveries_reconcile())
