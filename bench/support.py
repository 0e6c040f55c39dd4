"""What the worker benchmarks share: a throw-away database and one Celery worker."""

import os
import tempfile
from contextlib import contextmanager


@contextmanager
def throwaway_database(name: str):
    """A fresh test database (PostgreSQL when DATABASE_URL says so, else SQLite), dropped afterwards."""
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3") and os.environ.get("REDIS_URL"):
        # The worker thread and this one both use the database: an in-memory SQLite database in
        # shared-cache mode fails at once on a lock ("table is locked"), a file waits its turn.
        database.setdefault("TEST", {})["NAME"] = os.path.join(tempfile.mkdtemp(), f"{name}.sqlite3")
    config = setup_databases(verbosity=0, interactive=False, keepdb=False)
    try:
        yield
    finally:
        teardown_databases(config, verbosity=0)


@contextmanager
def one_worker():
    """A real Celery worker (one process slot) on Redis when REDIS_URL is set; else eager mode."""
    from ybiyri.celery import app

    if not os.environ.get("REDIS_URL"):
        yield "eager, in-process (no REDIS_URL)"
        return
    from celery.contrib.testing.worker import start_worker

    app.control.purge()
    with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        yield "one Celery worker (solo pool) on Redis"
