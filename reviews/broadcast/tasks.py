"""Celery tasks for the broadcast: thin adapters over reviews.broadcast.dispatch."""

from celery import shared_task

from reviews.broadcast.dispatch import DELIVERIES, deliveries_send


@shared_task(acks_late=True)
def deliveries_send_task(delivery_ids: list[int]) -> dict[str, int]:
    """Send a batch of deliveries. Safe to run twice: rows already claimed are skipped."""
    report = deliveries_send(delivery_ids=delivery_ids)
    return {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}


@shared_task
def deliveries_reconcile_task() -> int:
    """Beat: requeue deliveries whose task was lost, whose backoff passed unsent, or whose worker died."""
    return DELIVERIES.reconcile()
