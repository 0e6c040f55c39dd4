"""Benchmark: a 50,000-message Slack channel imported by one worker from the local Slack emulator.

    .venv/bin/python -m bench.slack_import [--messages 50000]

Creates a throw-away test database (PostgreSQL when DATABASE_URL says so, else SQLite) and starts
the Slack Web API emulator (tests/fakes/slack.py) in its own process on 127.0.0.1, holding a
channel of N messages from 200 people, one in 50 the parent of a 3-reply thread. Then imports it as
the job does (conversations.history pages through the official SDK, conversations.replies per
thread, users.info per person, bulk inserts per page) — in a real Celery worker (solo pool) on
Redis when REDIS_URL is set, else eagerly in-process — and reports messages per second (wall clock,
and per CPU-second of this process, so other work on a shared machine does not count) and the
peak memory: the process's peak resident set (getrusage) and, in a second import with tracemalloc
on, the peak of Python allocations made by the import itself. Targets: 2,000 messages/s, 300 MB.

Where the wall clock went: the CPU seconds the import cost this process (the worker), the Slack
emulator's process and, on PostgreSQL, the database's server processes (read from /proc), beside
the load average while it ran — on a shared machine, time waiting for a core counts in none.
"""

import argparse
import logging
import multiprocessing
import os
import resource
import time
import tracemalloc
from contextlib import contextmanager
from pathlib import Path

from bench.support import one_worker, throwaway_database

TARGET_PER_SECOND = 2000
TARGET_PEAK_MB = 300
CHANNEL = "C0BENCH"
PEOPLE = 200
THREAD_EVERY = 50
REPLIES = 3


def slack_emulator_process(connection, messages: int) -> None:
    from tests.fakes.slack import FakeSlack

    fake = FakeSlack().start()
    fake.record_requests = False
    for person in range(PEOPLE):
        fake.add_user(f"U{person:05d}", name=f"Person {person}", email=f"person{person}@example.org")
    start = 1_700_000_000.0
    top_level = 0
    count = 0
    while count < messages:
        ts = f"{start + top_level * 10:.6f}"
        user = f"U{top_level % PEOPLE:05d}"
        fake.add_message(
            CHANNEL,
            ts,
            user=user,
            text=f"message {top_level} <https://grafana.example.org/d/{top_level}|graph>",
        )
        count += 1
        if top_level % THREAD_EVERY == 0:
            for reply in range(min(REPLIES, messages - count)):
                fake.add_reply(
                    CHANNEL,
                    ts,
                    f"{start + top_level * 10 + reply + 1:.6f}",
                    user=f"U{reply:05d}",
                    text=f"reply {reply}",
                )
                count += 1
        top_level += 1
    connection.send((fake.url, fake.token, count))
    # "cpu": how many CPU seconds this process has used so far; anything else: stop.
    while connection.recv() == "cpu":
        connection.send(time.process_time())
    fake.stop()


@contextmanager
def slack_emulator(messages: int):
    """(url, token, messages in the channel, a function giving the emulator's CPU seconds so far)."""
    parent, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=slack_emulator_process, args=(child, messages), daemon=True)
    process.start()

    def cpu_seconds() -> float:
        parent.send("cpu")
        return parent.recv()

    try:
        yield (*parent.recv(), cpu_seconds)
    finally:
        parent.send("stop")
        process.join(10)


def database_cpu_seconds() -> dict[int, float] | None:
    """CPU seconds of each PostgreSQL server process serving this database (None elsewhere)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        pids = [pid for (pid,) in cursor.fetchall()]
    ticks = os.sysconf("SC_CLK_TCK")
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        seconds[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return seconds


def create_incident():
    from tests.factories import IncidentFactory, ServiceFactory, TeamFactory, UserFactory

    team = TeamFactory(name="Bench")
    pm = UserFactory(username="bench-pm")
    team.product_managers.add(pm)
    incident = IncidentFactory(team=team, service=ServiceFactory(team=team), declared_by=pm)
    return incident, pm


def run_import(incident, pm) -> tuple[float, object]:
    from incidents.evidence.imports import slack_import_request
    from incidents.evidence.models import SlackImport

    start = time.perf_counter()
    job = slack_import_request(incident=incident, by=pm, channel=CHANNEL)
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.state in (SlackImport.State.DONE, SlackImport.State.FAILED):
            break
        time.sleep(0.05)
    return time.perf_counter() - start, job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    logging.getLogger("celery").setLevel(logging.WARNING)
    with (
        slack_emulator(args.messages) as (url, token, total, emulator_cpu),
        throwaway_database("slack_import"),
    ):
        settings.SLACK_API_URL, settings.SLACK_BOT_TOKEN = f"{url}/api", token
        incident, pm = create_incident()
        with one_worker() as worker:
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            load_before = os.getloadavg()[0]
            emulator_before, database_before = emulator_cpu(), database_cpu_seconds()
            cpu_before = time.process_time()
            seconds, job = run_import(incident, pm)
            cpu_seconds = time.process_time() - cpu_before
            emulator_seconds = emulator_cpu() - emulator_before
            database_after = database_cpu_seconds()
            load_after = os.getloadavg()[0]
            rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            stored = incident.evidence.count()
            traced_incident = type(incident).objects.create(
                title="traced",
                team=incident.team,
                service=incident.service,
                started_at=incident.started_at,
                declared_by=pm,
            )
            tracemalloc.start()
            _, traced_job = run_import(traced_incident, pm)
            traced_peak = tracemalloc.get_traced_memory()[1] / 1024 / 1024
            tracemalloc.stop()

    rate = job.messages_seen / seconds
    print(f"database: {connection.vendor}; worker: {worker}; Slack emulator: separate process")
    print(f"channel: {total} messages; job: {job.state}, read {job.messages_seen}, stored {stored}")
    print(f"import: {rate:,.0f} messages/s in {seconds:.1f} s (wall clock, whatever else the machine runs)")
    print(
        f"import's own CPU: {cpu_seconds:.1f} s in this process, {job.messages_seen / cpu_seconds:,.0f} messages per "
        "CPU-second (the database server and the emulator run in processes of their own)"
    )
    if database_before is None or database_after is None:
        database = "the database runs in this process"
    else:
        spent = sum(after - database_before.get(pid, 0.0) for pid, after in database_after.items())
        database = f"{spent:.1f} s in the database server"
    print(
        f"CPU per import: {cpu_seconds:.1f} s in this process, {emulator_seconds:.1f} s in the Slack emulator, "
        f"{database}; load average (1 min) {load_before:.2f} before, {load_after:.2f} after, "
        f"on {os.cpu_count()} cores"
    )
    print(f"peak resident set of this process: {rss_peak:,.0f} MB (before the import: {rss_before:,.0f} MB)")
    print(f"peak Python allocations during an import (tracemalloc, second run): {traced_peak:,.1f} MB")
    print(
        f"target: {TARGET_PER_SECOND} messages/s — {'meets' if rate >= TARGET_PER_SECOND else 'MISSES'} it; "
        f"peak under {TARGET_PEAK_MB} MB — {'meets' if rss_peak < TARGET_PEAK_MB else 'MISSES'} it"
    )
    if job.state != "done" or stored != total or traced_job.state != "done":
        raise SystemExit("the channel was not imported completely")


if __name__ == "__main__":
    main()
