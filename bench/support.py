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
        end_other_sessions()
        teardown_databases(config, verbosity=0)


def end_other_sessions() -> None:
    """Close every other session on the benchmark's database, so that it can be dropped: a worker
    thread's connection outlives the worker (Django's connections belong to the thread that opened
    them) and PostgreSQL refuses to drop a database "being accessed by other users"."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


def worker_queues() -> list[str]:
    """Every queue the app routes tasks to (settings.CELERY_TASK_ROUTES) and the default one."""
    from django.conf import settings

    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    return sorted(routed | {"celery"})


@contextmanager
def one_worker():
    """A real Celery worker (one process slot) on Redis when REDIS_URL is set; else eager mode."""
    from ybiyri.celery import app

    if not os.environ.get("REDIS_URL"):
        yield "eager, in-process (no REDIS_URL)"
        return
    from celery.contrib.testing.worker import start_worker

    app.control.purge()
    # The worker that `make worker` starts consumes every queue; one started here without them
    # would wait for tasks routed elsewhere for ever.
    with start_worker(
        app, pool="solo", concurrency=1, perform_ping_check=False, loglevel="WARNING", queues=worker_queues()
    ):
        yield "one Celery worker (solo pool) on Redis"


def database_url() -> str:
    """The URL of the database Django uses now (the throw-away one inside `throwaway_database`)."""
    from urllib.parse import quote

    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    credentials = quote(database["USER"] or "")
    if database["PASSWORD"]:
        credentials += ":" + quote(database["PASSWORD"])
    port = f":{database['PORT']}" if database["PORT"] else ""
    return f"postgres://{credentials}@{database['HOST'] or 'localhost'}{port}/{database['NAME']}"


def load_average() -> str:
    """The machine's 1-minute load average and its number of cores, to read a figure against."""
    return f"load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


@contextmanager
def worker_processes(count: int, environment: dict[str, str]):
    """`count` Celery worker processes as `make worker` starts them (solo pool each), on the current
    database and REDIS_URL, with `environment` added (the settings the benchmark changed); returns
    once every one answers a ping. Without REDIS_URL there is no broker to share: yields None."""
    import signal
    import subprocess
    import sys
    import time

    from ybiyri.celery import app

    if not os.environ.get("REDIS_URL"):
        yield None
        return
    app.control.purge()
    env = {**os.environ, **environment, "DATABASE_URL": database_url()}
    processes = [
        subprocess.Popen(  # noqa: S603 — fixed arguments: this interpreter running Celery
            [
                sys.executable,
                "-m",
                "celery",
                "--app",
                "ybiyri",
                "worker",
                "--pool",
                "solo",
                "--queues",
                ",".join(worker_queues()),
                "--hostname",
                f"bench{number}@%h",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
            ],
            env=env,
            stdout=subprocess.DEVNULL,  # the start-up banner; warnings and errors go to stderr
        )
        for number in range(count)
    ]
    try:
        deadline = time.monotonic() + 60
        while len(app.control.ping(timeout=0.5)) < count:
            if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
                raise RuntimeError("the benchmark's Celery workers did not start")
        yield f"{count} Celery worker process{'es' if count > 1 else ''} (solo pool) on Redis"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
