"""Row locks and race-safe inserts, shared by the services of every app."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction


def lock_row[M: models.Model](source: type[M] | models.QuerySet[M], pk: Any) -> M:
    """Re-read one row under a lock held until the caller's transaction ends, and return it.

    Work on the returned instance, not on the one the caller was handed: that copy was read
    before the lock and may be stale. `source` is a model or a queryset (to join what the caller
    reads next); only the row itself is locked, never the rows joined to it. Raises the model's
    DoesNotExist if the row is gone. SQLite ignores the lock (it serialises writers anyway).
    """
    queryset = source if isinstance(source, models.QuerySet) else source._default_manager.all()
    return queryset.select_for_update(of=("self",)).get(pk=pk)


def insert_or_refuse[M](insert: Callable[[], M], *, refusal: ValidationError) -> M:
    """Run `insert` in a savepoint; a unique constraint it breaks (someone inserted the same row
    since the caller checked) raises `refusal` instead of an IntegrityError, and the caller's
    transaction stays usable."""
    try:
        with transaction.atomic():
            return insert()
    except IntegrityError as error:
        raise refusal from error


def narrowed[M: models.Model](rows: models.QuerySet[M], **lookups: Any) -> models.QuerySet[M]:
    """`rows` filtered by each lookup that is given a value (not None, not ""): a list's optional
    filters, where one left empty narrows nothing."""
    given = {lookup: value for lookup, value in lookups.items() if value is not None and value != ""}
    return rows.filter(**given) if given else rows
