"""The outbox: side effects recorded as rows in the transaction that caused them, sent by Celery tasks.

Every kind of outbox row (notification emails, backlog pushes, broadcast deliveries) follows the
same rules, stated here once:

- **Rows.** A row has a state field with a pending, a claimed and a failed value, an attempt
  counter, `claimed_at` (when a worker claimed it) and `next_attempt_at` (when a retry is due;
  NULL while the row's first message is on its way).
- **Enqueue on commit.** The task is enqueued only once the transaction that wrote the row has
  committed. A broker error is logged, never raised: the row is committed, so the outage only
  delays it until the reconciler finds it.
- **Claim.** A worker owns a row only if one conditional UPDATE moved it from pending to claimed,
  and only once it is due; a duplicate or early message finds nothing to claim and does nothing.
- **Retry.** A transient failure puts the row back to pending with `next_attempt_at` after an
  exponential backoff with equal jitter, capped, never sooner than the server's Retry-After, and
  enqueues the task with that ETA. After OUTBOX_MAX_ATTEMPTS attempts the row fails for good.
- **Reconcile** (Celery beat, a safety net only). A row claimed longer ago than the task time
  limit belongs to a worker that died: it goes back to pending (or fails, out of attempts). A
  pending row due for longer than ENQUEUE_GRACE lost its message (broker down at commit): it is
  enqueued again, and its due time moved to now so that a long queue is not enqueued every tick.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery import Task
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# A row due this long ago and still pending has lost its message; within it, the message may
# simply be queued behind others.
ENQUEUE_GRACE = timedelta(minutes=1)
# How many rows one reconcile run enqueues per kind; the rest wait for the next run.
RECONCILE_LIMIT = 20_000
WORKER_LOST = "The worker stopped before recording the outcome."


def retry_delay(attempts: int, retry_after: int | None = None, *, rng: random.Random | None = None) -> int:
    """Seconds before the retry that follows attempt number `attempts` (1-based).

    Exponential from OUTBOX_RETRY_BASE_SECONDS, capped at OUTBOX_RETRY_CAP_SECONDS, with "equal
    jitter": half the backoff for sure plus a random half, so rows that failed together spread out
    without ever retrying at once. The server's Retry-After is a floor, never shortened.
    """
    base, cap = settings.OUTBOX_RETRY_BASE_SECONDS, settings.OUTBOX_RETRY_CAP_SECONDS
    backoff = min(cap, base * 2 ** max(attempts - 1, 0))
    jittered = backoff / 2 + (rng or random).uniform(0, backoff / 2)
    return max(math.ceil(jittered), retry_after or 0)


def attempts_exhausted(attempts: int) -> bool:
    return attempts >= settings.OUTBOX_MAX_ATTEMPTS


def stuck_before(now: datetime) -> datetime:
    """Claims older than this belong to a worker that died: Celery has killed the task by then."""
    return now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def enqueue(task: Task, arguments: Sequence[tuple[Any, ...]], *, eta: datetime | None = None) -> int:
    """Send one message of `task` per argument tuple; return how many the broker took.

    Stops at the first broker error and logs it: the rows stay pending for the reconciler.
    """
    for sent, args in enumerate(arguments):
        try:
            # Celery takes eta=None for "now"; its stubs type the argument as a datetime only.
            task.apply_async(args, eta=eta)  # type: ignore[arg-type]
        except (OperationalError, OSError) as exc:
            logger.warning(
                "Broker unavailable, %d %s messages left for the reconciler: %s",
                len(arguments) - sent,
                task.name,
                exc,
            )
            return sent
    return len(arguments)


def enqueue_on_commit(
    task: Task, arguments: Sequence[tuple[Any, ...]], *, eta: datetime | None = None
) -> None:
    """`enqueue` once the current transaction commits (at once outside a transaction)."""
    if arguments:
        transaction.on_commit(lambda: enqueue(task, arguments, eta=eta))


@dataclass(frozen=True)
class Outbox:
    """One kind of outbox row and the task that sends it; see the module docstring for the rules.

    `task_path` is the dotted path of the Celery task, imported when first needed so that the modules
    that define rows and the tasks that send them may import each other's outbox. `batch` groups
    row ids into the tasks' arguments (default: one id per message).
    """

    model: type[models.Model]
    task_path: str
    pending: str
    claimed: str
    failed: str
    state_field: str = "state"
    attempts_field: str = "attempts"
    error_field: str = "last_error"
    # When a row without `next_attempt_at` became due.
    since_field: str = "created_at"
    batch: Callable[[list[int]], list[tuple[Any, ...]]] | None = None

    def task(self) -> Task:
        return import_string(self.task_path)

    def arguments(self, ids: list[int]) -> list[tuple[Any, ...]]:
        """The task's argument tuples for these rows, one per message."""
        if self.batch is not None:
            return self.batch(ids)
        return [(pk,) for pk in ids]

    def _rows(self) -> models.QuerySet:
        return self.model._default_manager.all()

    def _in_state(self, state: str) -> models.QuerySet:
        return self._rows().filter(**{self.state_field: state})

    def send_on_commit(self, ids: Iterable[int], *, eta: datetime | None = None) -> None:
        """Enqueue the task for these rows once the current transaction commits.

        A retry's message carries the row's due time as its ETA: a worker holds it until its own
        clock reaches it, so the claim's due check passes whatever two workers' clocks say.
        """
        enqueue_on_commit(self.task(), self.arguments(sorted(set(ids))), eta=eta)

    def claim(self, ids: Iterable[int], *, now: datetime | None = None) -> list[int]:
        """Move the due pending rows among `ids` to claimed and return the ids this caller now owns.

        One conditional UPDATE ... RETURNING (PostgreSQL and SQLite both have it): the database
        decides each row's single winner, so a concurrent or duplicate claimer gets only the rows
        nobody else took. The ORM's update() returns a count, not the ids.
        """
        return self._claim(sorted(set(ids)), now=now or timezone.now())

    def claim_telling_first(
        self, ids: Iterable[int], *, now: datetime | None = None
    ) -> tuple[list[int], list[int]]:
        """`claim`, returning the rows claimed for the first time ever apart from the others.

        A row whose `claimed_at` is still NULL was never claimed, so no worker ever started sending
        it: nothing it would have sent can exist anywhere. Nothing ever sets `claimed_at` back to
        NULL. Two conditional UPDATEs, each atomic on its own: the first takes only never-claimed
        rows, the second whatever else is due, so a row that changes in between can only err
        towards "claimed before" (the cautious side). When the first takes every id, the second is
        not sent.
        """
        ids = sorted(set(ids))
        now = now or timezone.now()
        first = self._claim(ids, now=now, never_claimed=True)
        again = self._claim(sorted(set(ids) - set(first)), now=now)
        return first, again

    def _claim(self, ids: list[int], *, now: datetime, never_claimed: bool = False) -> list[int]:
        if not ids:
            return []
        meta = self.model._meta
        quote = connection.ops.quote_name

        def column(name: str) -> str:
            field = meta.get_field(name)
            if not isinstance(field, models.Field) or field.column is None:
                raise ImproperlyConfigured(f"{meta.label}.{name} is not a column of its table")
            return quote(field.column)

        state, attempts = column(self.state_field), column(self.attempts_field)
        due, claimed_at = column("next_attempt_at"), column("claimed_at")
        when = connection.ops.adapt_datetimefield_value(now)
        first_only = f" AND {claimed_at} IS NULL" if never_claimed else ""
        # Only identifiers from the model's own metadata are interpolated; every value is a parameter.
        sql = (
            f"UPDATE {quote(meta.db_table)} SET {state} = %s, {attempts} = {attempts} + 1, "  # noqa: S608
            f"{claimed_at} = %s WHERE {column(meta.pk.name)} IN ({', '.join(['%s'] * len(ids))}) "
            f"AND {state} = %s AND ({due} IS NULL OR {due} <= %s){first_only} RETURNING {column(meta.pk.name)}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.claimed, when, *ids, self.pending, when])
            return sorted(row[0] for row in cursor.fetchall())

    def release(self, ids: Sequence[int], *, due: datetime, error: str, **fields: Any) -> list[int]:
        """Put claimed rows back to pending, due at `due`; return those that were still claimed."""
        claimed = self._in_state(self.claimed).filter(pk__in=ids)
        released = list(claimed.values_list("pk", flat=True))
        claimed.filter(pk__in=released).update(
            **{self.state_field: self.pending, self.error_field: error[:2000]}, next_attempt_at=due, **fields
        )
        return released

    def retry_later(
        self, ids: Sequence[int], *, delay: int, error: str, now: datetime | None = None, **fields: Any
    ) -> datetime | None:
        """Release claimed rows for a retry in `delay` seconds and schedule their task then.

        Returns the due time, or None if none of the rows was still claimed (someone took them over).
        """
        due = (now or timezone.now()) + timedelta(seconds=delay)
        released = self.release(ids, due=due, error=error, **fields)
        if not released:
            return None
        self.send_on_commit(released, eta=due)
        return due

    def fail(self, ids: Sequence[int], *, error: str, **fields: Any) -> int:
        """Stop claimed rows for good, keeping the server's own words for people to read."""
        return (
            self._in_state(self.claimed)
            .filter(pk__in=ids)
            .update(
                **{self.state_field: self.failed, self.error_field: error[:2000]},
                next_attempt_at=None,
                **fields,
            )
        )

    def reconcile(self, *, now: datetime | None = None) -> int:
        """Beat: hand stuck claims back, enqueue rows whose message was lost; return the messages sent."""
        now = now or timezone.now()
        cutoff = now - ENQUEUE_GRACE
        stuck = self._in_state(self.claimed).filter(claimed_at__lt=stuck_before(now))
        due = self._in_state(self.pending).filter(
            Q(next_attempt_at__lte=cutoff)
            | Q(next_attempt_at__isnull=True, **{f"{self.since_field}__lte": cutoff})
        )
        with transaction.atomic():
            stuck.filter(**{f"{self.attempts_field}__gte": settings.OUTBOX_MAX_ATTEMPTS}).update(
                **{
                    self.state_field: self.failed,
                    self.error_field: f"Gave up after {settings.OUTBOX_MAX_ATTEMPTS} attempts: {WORKER_LOST}",
                },
                next_attempt_at=None,
            )
            handed_back = list(stuck.values_list("pk", flat=True)[:RECONCILE_LIMIT])
            stuck.filter(pk__in=handed_back).update(
                **{self.state_field: self.pending, self.error_field: WORKER_LOST}, next_attempt_at=now
            )
            overdue = list(
                due.order_by(F("next_attempt_at").asc(nulls_first=True), "pk").values_list("pk", flat=True)[
                    :RECONCILE_LIMIT
                ]
            )
            self._in_state(self.pending).filter(pk__in=overdue).update(next_attempt_at=now)
        # Not on commit: the reconciler runs outside any transaction, and tests run it eagerly.
        return enqueue(self.task(), self.arguments(sorted({*handed_back, *overdue})), eta=now)
