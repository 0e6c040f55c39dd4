"""Outbox helpers for tests: run scheduled retries at their due time, see what reaches the broker.

An eager task cannot wait for its message's ETA: the retry it enqueues runs at once, finds its row
not yet due and does nothing. Tests step time to each due time instead and send the row's message
then, which is what the worker does when the ETA arrives.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import time_machine
from celery.signals import before_task_publish

from ybiyri.outbox import Outbox


def deliver_scheduled_retries(outbox: Outbox, *, limit: int = 50) -> list[int]:
    """Run each scheduled retry at its due time, until none is left; return the delays in seconds.

    A delay is measured from the claim of the attempt that failed to the retry's due time.
    """
    delays: list[int] = []
    task = outbox.task()
    for _ in range(limit):
        row = (
            outbox.model._default_manager.filter(**{outbox.state_field: outbox.pending})
            .exclude(next_attempt_at=None)
            .order_by("next_attempt_at", "pk")
            .first()
        )
        if row is None:
            return delays
        delays.append(round((row.next_attempt_at - row.claimed_at).total_seconds()))
        with time_machine.travel(row.next_attempt_at, tick=False):
            for args in outbox.arguments([row.pk]):
                task.apply(args)
    raise AssertionError(f"still retrying after {limit} retries")


@dataclass
class Published:
    task: str
    queue: str
    args: list
    eta: datetime | None


@contextmanager
def published_messages() -> Iterator[list[Published]]:
    """Record every task message handed to the broker (Celery's own before_task_publish signal)."""
    seen: list[Published] = []

    def record(sender: str, body: tuple, routing_key: str, headers: dict, **kwargs: object) -> None:
        eta = headers.get("eta")
        seen.append(
            Published(sender, routing_key, list(body[0]), datetime.fromisoformat(eta) if eta else None)
        )

    before_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        before_task_publish.disconnect(record)


@contextmanager
def in_memory_broker() -> Iterator[None]:
    """Publish for real to kombu's in-memory transport, where nobody consumes: messages just wait."""
    from ybiyri.celery import app

    def reset_producer_pools() -> None:
        # The app caches its broker connection pools; forget them so the URL below is used.
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_write_url = "memory://"
    app.conf.task_always_eager = False
    reset_producer_pools()
    try:
        yield
    finally:
        app.conf.broker_write_url = None
        app.conf.task_always_eager = True
        reset_producer_pools()
