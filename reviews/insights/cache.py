"""The insights, computed once and served from Django's cache until the data under them changes.

Computing the page takes a few dozen aggregate queries over every incident of the period; serving
it from the cache costs two cache reads. An entry is keyed by:

- who is looking: ``all`` for those who see every incident (problem managers, superusers), else
  the member's own id, since what a member sees also depends on the incidents they responded to
  and the reviews they attend (`incidents.access.visible_incident_ids`); an entry is only ever
  served to the viewers it was computed for;
- the filters, as the form understands them (a filter that is not valid is its default);
- the current time zone (months are counted in it);
- the data version, a token replaced whenever a row of a table the insights read is written.

The version is replaced by a wrapper around every statement of the database connections
(`watch_writes`), not by the services that write, so that nothing can write around it: the
services' conditional updates, bulk writes, cascading deletes and the admin all run through it.
It is replaced once the transaction commits, so that a page computed meanwhile from what was
committed before is filed under a version nobody asks for any more; until then the writing
transaction reads under a token of its own, so that it sees its own writes. An entry also expires
after `CACHE_SECONDS`, since some figures move with the clock alone (the delay of open actions,
overdue sessions, the last N days); the page says when its figures were computed. A cache that
cannot be reached fails nothing: the figures are computed, and writes go on.

With `REDIS_URL` the cache, and so the version, is shared by every web process; without it
(one process, local use) each process keeps its own.
"""

import logging
import re
from collections.abc import Callable
from functools import cache as once
from typing import Any
from uuid import uuid4

from django.apps import apps
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from incidents.access import sees_everything
from incidents.models import User

logger = logging.getLogger(__name__)
CACHE_SECONDS = 60
VERSION_KEY = "insights:data-version"
# The models whose rows the figures are made of, or that decide who sees which incident. Not the
# users' own rows (every sign-in writes one): whether a viewer sees everything is read from the
# viewer at each request and is part of the key; team membership is a table of its own, below.
INPUT_MODELS = (
    "incidents.Team",
    "incidents.Service",
    "incidents.Incident",
    "incidents.Responder",
    "incidents.AnalysisSession",
    "incidents.LearningTheme",
    "reviews.Review",
    "reviews.ImprovementAction",
    "reviews.Narrative",
    "reviews.NarrativeRead",
    "reviews.Walkthrough",
    "reviews.Training",
)
WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+["`]?(\w+)', re.IGNORECASE)


@once
def input_tables() -> frozenset[str]:
    """The tables of `INPUT_MODELS` and of their many-to-many relations (attendees, members, themes)."""
    tables = set()
    for label in INPUT_MODELS:
        model = apps.get_model(label)
        tables.add(model._meta.db_table)
        tables.update(field.remote_field.through._meta.db_table for field in model._meta.local_many_to_many)
    return frozenset(tables)


def data_version() -> str:
    """The shared version, and within a transaction that has written, that transaction's own token:
    what it computes from its uncommitted writes is filed where no other connection looks."""
    version = cache.get(VERSION_KEY)
    if version is None:
        # First reader after a start (or an eviction): its token is the version from now on.
        cache.add(VERSION_KEY, uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.in_atomic_block and _commit_pending(connection):
        version = f"{version}-{getattr(connection, 'insights_written', '')}"
    return version


def data_changed() -> None:
    try:
        cache.set(VERSION_KEY, uuid4().hex, timeout=None)
    except Exception:
        # A write must not fail because the cache is down; entries still expire on their own.
        logger.warning("Could not replace the insights data version", exc_info=True)


def _commit_pending(connection: BaseDatabaseWrapper) -> bool:
    """Whether the current transaction has written a table of the insights (its commit will
    replace the version). A rolled-back transaction or savepoint takes its callback with it."""
    # Django keeps (savepoints, callback, robust) triples; the stubs still declare pairs.
    pending = connection.run_on_commit
    return any(callback is data_changed for _savepoints, callback, _robust in pending)  # type: ignore[misc]


def watch_writes(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A database execute wrapper: a write to a table the insights read replaces the version once
    it is committed; until then the writing transaction reads under a token of its own, new with
    each write, so that it sees its own writes."""
    result = execute(sql, params, many, context)
    if sql[:1] in "IUDiud " and (match := WRITE.match(sql)) and match.group(1) in input_tables():
        connection = context["connection"]
        if not connection.in_atomic_block:
            data_changed()
        else:
            if not _commit_pending(connection):
                transaction.on_commit(data_changed, using=connection.alias)
            connection.insights_written = uuid4().hex
    return result


def watch_connection(*, connection: BaseDatabaseWrapper, **_kwargs: Any) -> None:
    """Receiver of `connection_created`: a connection object reconnects, so add the wrapper once."""
    if watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(watch_writes)


def viewer_key(viewer: User) -> str:
    return "all" if sees_everything(viewer) else f"user-{viewer.pk}"


def remember[T](parts: list[str], build: Callable[[], T]) -> T:
    """What `build` makes, from the cache when it was made from the same data less than
    `CACHE_SECONDS` ago; `parts` name everything else it depends on. Without a cache, it is made."""
    try:
        key = ":".join(["insights", *parts, data_version()])
        value = cache.get(key)
    except Exception:
        logger.warning("The insights cache is not available", exc_info=True)
        return build()
    if value is None:
        value = build()
        try:
            cache.set(key, value, timeout=CACHE_SECONDS)
        except Exception:
            logger.warning("The insights cache is not available", exc_info=True)
    return value


def cached(*, kind: str, viewer: User, filters: str, build: Callable[[], str]) -> str:
    """The text `build` makes (the page's figures, the CSV) for this viewer and these filters."""
    return remember([kind, viewer_key(viewer), filters, timezone.get_current_timezone_name()], build)
