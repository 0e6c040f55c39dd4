"""What a page computes from many rows, kept in Django's cache until a table it reads is written.

A `VersionedCache` names the models its entries are made of. Each entry is keyed by the parts its
caller names (who is looking, the filters, the page) and by the cache's data version, a token
replaced whenever a row of one of those tables (or of their many-to-many relations) is written.

The version is replaced by a wrapper around every statement of the database connections
(`watch_writes`), not by the services that write, so that nothing can write around it: the
services' conditional updates, bulk writes, cascading deletes and the admin all run through it.
It is replaced once the transaction commits, so that what is computed meanwhile from what was
committed before is filed under a version nobody asks for any more; until then the writing
transaction reads under a token of its own, so that it sees its own writes. A transaction
replaces the versions of every cache it wrote in one write to the cache (`PendingVersions`). An entry also expires
after the cache's `seconds`, since some of what pages show moves with the clock alone (overdue,
upcoming, the last N days). A cache that cannot be reached fails nothing: the value is computed,
and writes go on.

With `REDIS_URL` the cache, and so the versions, are shared by every web process; without it (one
process, local use) each process keeps its own.
"""

import functools
import logging
import re
import threading
from collections.abc import Callable, Collection, Sequence
from functools import cached_property
from typing import Any
from uuid import uuid4

from django.apps import apps
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

logger = logging.getLogger(__name__)
WRITE = re.compile(r'\s*(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+["`]?(\w+)', re.IGNORECASE)
REGISTRY: list["VersionedCache"] = []
# The versions a request has read, by cache name, while it is served: a page with several fragments
# of one cache reads its version once. A commit of the request's own replaces them here too.
_request = threading.local()
VERSION_KEY = "{name}:data-version"


class VersionedCache:
    def __init__(self, name: str, models: Sequence[str], *, seconds: int = 60) -> None:
        self.name = name
        self.models = tuple(models)
        self.seconds = seconds
        self.version_key = VERSION_KEY.format(name=name)
        REGISTRY.append(self)
        caches_of_table.cache_clear()

    def __repr__(self) -> str:
        return f"VersionedCache({self.name!r})"

    @cached_property
    def tables(self) -> frozenset[str]:
        """The tables of `models` and of their many-to-many relations (attendees, members, themes)."""
        tables = set()
        for label in self.models:
            model = apps.get_model(label)
            tables.add(model._meta.db_table)
            tables.update(
                field.remote_field.through._meta.db_table for field in model._meta.local_many_to_many
            )
        return frozenset(tables)

    def version(self) -> str:
        """The shared version, and within a transaction that has written, that transaction's own
        token: what it computes from its uncommitted writes is filed where no other connection looks."""
        seen = getattr(_request, "versions", None)
        version = seen.get(self.name) if seen is not None else None
        if version is None:
            version = cache.get(self.version_key)
        if version is None:
            # First reader after a start (or an eviction): its token is the version from now on.
            cache.add(self.version_key, uuid4().hex, timeout=None)
            version = cache.get(self.version_key)
        if seen is not None:
            seen[self.name] = version
        connection = connections[DEFAULT_DB_ALIAS]
        pending = PendingVersions.of(connection) if connection.in_atomic_block else None
        if pending is not None and self.name in pending.tokens:
            version = f"{version}-{pending.tokens[self.name]}"
        return version

    def remember[T](self, parts: Sequence[str], build: Callable[[], T]) -> T:
        """What `build` makes, from the cache when it was made from the same data less than
        `seconds` ago; `parts` name everything else it depends on. Without a cache, it is made."""
        try:
            key = ":".join([self.name, *parts, self.version()])
            value = cache.get(key)
        except Exception:
            logger.warning("The %s cache is not available", self.name, exc_info=True)
            return build()
        if value is None:
            value = build()
            try:
                cache.set(key, value, timeout=self.seconds)
            except Exception:
                logger.warning("The %s cache is not available", self.name, exc_info=True)
        return value


def replace_versions(names: Collection[str]) -> None:
    """New versions for the caches named, in one write."""
    seen: dict[str, str] = getattr(_request, "versions", {})
    for name in names:
        seen.pop(name, None)
    try:
        cache.set_many({VERSION_KEY.format(name=name): uuid4().hex for name in names}, timeout=None)
    except Exception:
        # A write must not fail because the cache is down; entries still expire on their own.
        logger.warning("Could not replace the data versions of %s", ", ".join(sorted(names)), exc_info=True)


class PendingVersions:
    """The on-commit callback of a transaction that wrote tables of versioned caches: it replaces
    their versions once the transaction commits. Until then, `tokens` are what the transaction
    reads those caches under, new with each write. Registered with the first such write; a
    savepoint rolled back takes it with it if it was registered there, and the next write
    registers another."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    def __call__(self) -> None:
        replace_versions(self.tokens)

    @staticmethod
    def of(connection: BaseDatabaseWrapper) -> "PendingVersions | None":
        # Django keeps (savepoints, callback, robust) triples; the stubs still declare pairs.
        pending = connection.run_on_commit
        for _savepoints, callback, _robust in pending:  # type: ignore[misc]
            if isinstance(callback, PendingVersions):
                return callback
        return None


@functools.cache
def caches_of_table(table: str) -> tuple[str, ...]:
    """The names of the caches that read `table`."""
    return tuple(versioned.name for versioned in REGISTRY if table in versioned.tables)


def watch_writes(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A database execute wrapper: a write to a table a cache reads replaces that cache's version
    once it is committed; until then the writing transaction reads under a token of its own, new
    with each write, so that it sees its own writes."""
    result = execute(sql, params, many, context)
    if sql[:1] in "IUDiud " and (match := WRITE.match(sql)) and (names := caches_of_table(match.group(1))):
        connection = context["connection"]
        if not connection.in_atomic_block:
            replace_versions(names)
            return result
        pending = PendingVersions.of(connection)
        if pending is None:
            pending = PendingVersions()
            transaction.on_commit(pending, using=connection.alias)
        token = uuid4().hex
        pending.tokens.update(dict.fromkeys(names, token))
    return result


def watch_connection(*, connection: BaseDatabaseWrapper, **_kwargs: Any) -> None:
    """Receiver of `connection_created`: a connection object reconnects, so add the wrapper once."""
    if watch_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(watch_writes)


def request_started(**_kwargs: Any) -> None:
    """Receiver of `request_started`: the request reads each version once (`_request`)."""
    _request.versions = {}


def request_finished(**_kwargs: Any) -> None:
    """Receiver of `request_finished`: what runs next on this thread (a task) reads afresh."""
    _request.__dict__.pop("versions", None)
