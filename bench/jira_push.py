"""Benchmark: 1,000 improvement actions pushed by one worker into the local Jira emulator.

    .venv/bin/python -m bench.jira_push [--actions 1000]

Creates a throw-away test database (PostgreSQL when DATABASE_URL says so, else SQLite), a team on
Jira and 1,000 actions whose push is pending (the outbox state `action_raise` leaves), and starts the
Jira emulator (tests/fakes/jira.py, speaking as Jira Cloud) in its own process on 127.0.0.1. Then:

1. baseline: raw `requests` calls doing the same HTTP work per action — the label lookup on
   /rest/api/2/search/jql and the create-issue POST with the same fields — over one keep-alive
   connection: the floor of the emulator and HTTP alone;
2. ybiyri: enqueues the 1,000 pushes and lets ONE worker run them — a real Celery worker (solo
   pool) on Redis when REDIS_URL is set, else the eager in-process mode — until every action is
   SYNCED: claim the row, look the label up through the `jira` client, create, record the key.

Reports actions per second for both and their ratio; the target is at least 100 actions/s.
"""

import argparse
import logging
import multiprocessing
import os
import time
from contextlib import contextmanager
from datetime import timedelta

from bench.support import one_worker, throwaway_database

TARGET_PER_SECOND = 100


def jira_emulator_process(connection) -> None:
    """The emulator in its own process (its HTTP threads must not share the worker's GIL).

    Answers commands on the pipe: "count" → issues created, "reset" → forget every issue, "stop".
    """
    from tests.fakes.jira import FakeJira

    fake = FakeJira(deployment="Cloud", projects=("PAY",)).start()
    fake.record_requests = False
    connection.send((fake.url, fake.user, fake.token))
    while True:
        command = connection.recv()
        if command == "count":
            with fake.lock:
                connection.send(len(fake.issues))
        elif command == "reset":
            with fake.lock:
                fake.issues.clear()
            connection.send(True)
        else:
            fake.stop()
            connection.send(True)
            return


@contextmanager
def jira_emulator():
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=jira_emulator_process, args=(child,), daemon=True)
    process.start()
    try:
        yield parent.recv(), parent
    finally:
        parent.send("stop")
        parent.recv()
        process.join(timeout=10)


def create_pending_actions(count: int):
    """A team on Jira and `count` actions in the state `action_raise` leaves them: PENDING."""
    from django.utils import timezone

    from incidents.models import Incident, Service, Team, User
    from reviews.models import ImprovementAction

    pm = User.objects.create(username="bench-pm", email="pm@bench.example.org", first_name="Priya")
    team = Team.objects.create(name="Payments", tracker=Team.Tracker.JIRA, jira_project_key="PAY")
    service = Service.objects.create(team=team, name="checkout-api")
    now = timezone.now()
    incident = Incident.objects.create(
        title="Checkout timeouts",
        severity=Incident.Severity.SEV2,
        team=team,
        service=service,
        started_at=now - timedelta(days=2),
        declared_by=pm,
    )
    ImprovementAction.objects.bulk_create(
        [
            ImprovementAction(
                incident=incident,
                title=f"Add a circuit breaker to client {n}",
                description="Stop the retry storm at the source: open the breaker after five timeouts.",
                kind=ImprovementAction.Kind.TECHNICAL,
                priority=ImprovementAction.Priority.HIGH,
                owner=pm,
                raised_by=pm,
                raised_at=now,
                tracker=Team.Tracker.JIRA,
                sync_state=ImprovementAction.SyncState.PENDING,
                sync_requested_at=now,
            )
            for n in range(count)
        ],
        batch_size=500,
    )
    return team


def prebuilt_requests(team) -> list[tuple[str, dict]]:
    """The label query and create-issue body ybiyri sends for each action, built untimed."""
    from reviews.backlog.jira import JiraTracker, jira_issue_fields, jira_label_jql
    from reviews.models import ImprovementAction

    tracker = JiraTracker.for_team(team)
    built = []
    for action in ImprovementAction.objects.select_related("incident__team", "owner").order_by("pk"):
        fields = jira_issue_fields(
            action,
            project_key=tracker.project_key,
            issue_type=tracker.issue_type,
            priority_map=tracker.priority_map,
            extra_fields=tracker.extra_fields,
            site_url=tracker.site_url,
        )
        built.append(
            (jira_label_jql(project_key=tracker.project_key, label=action.idempotency_label), fields)
        )
    return built


def run_baseline(url: str, user: str, token: str, built: list[tuple[str, dict]]) -> float:
    import requests

    session = requests.Session()
    session.auth = (user, token)
    start = time.perf_counter()
    for jql, fields in built:
        found = session.get(
            f"{url}/rest/api/2/search/jql", params={"jql": jql, "fields": "status"}, timeout=10
        )
        found.raise_for_status()
        created = session.post(f"{url}/rest/api/2/issue", json={"fields": fields}, timeout=10)
        created.raise_for_status()
    return time.perf_counter() - start


def run_ybiyri(count: int) -> float:
    from reviews.backlog.tasks import action_push_task
    from reviews.models import ImprovementAction

    ids = list(ImprovementAction.objects.order_by("pk").values_list("pk", flat=True))
    start = time.perf_counter()
    for action_id in ids:
        action_push_task.delay(action_id)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        settled = ImprovementAction.objects.filter(
            sync_state__in=[ImprovementAction.SyncState.SYNCED, ImprovementAction.SyncState.FAILED]
        ).count()
        if settled >= count:
            break
        time.sleep(0.1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1000)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from reviews.backlog.jira import jira_clients_reset
    from reviews.models import ImprovementAction

    logging.getLogger("reviews.backlog").setLevel(logging.ERROR)
    logging.getLogger("celery").setLevel(logging.WARNING)  # no "received"/"succeeded" line per task
    with jira_emulator() as ((url, user, token), emulator), throwaway_database("jira_push"):
        settings.JIRA_URL, settings.JIRA_USER, settings.JIRA_API_TOKEN = url, user, token
        jira_clients_reset()
        team = create_pending_actions(args.actions)

        built = prebuilt_requests(team)
        baseline_seconds = run_baseline(url, user, token, built)
        emulator.send("reset")
        emulator.recv()

        with one_worker() as worker:
            ybiyri_seconds = run_ybiyri(args.actions)
        emulator.send("count")
        issues = emulator.recv()
        synced = ImprovementAction.objects.filter(sync_state=ImprovementAction.SyncState.SYNCED).count()
        failed = ImprovementAction.objects.filter(sync_state=ImprovementAction.SyncState.FAILED).count()

    baseline_rate = args.actions / baseline_seconds
    rate = synced / ybiyri_seconds
    print(f"database: {connection.vendor}; worker: {worker}; Jira emulator: Cloud, separate process")
    print(f"actions: {args.actions}; SYNCED: {synced}; FAILED: {failed}; issues in Jira: {issues}")
    print(f"baseline (raw requests: label search + create, one connection): {baseline_rate:,.0f} actions/s")
    print(
        f"ybiyri push (claim, label lookup and create through the jira client, record): "
        f"{rate:,.0f} actions/s in {ybiyri_seconds:.1f} s"
    )
    print(f"ratio ybiyri / baseline: {rate / baseline_rate:.2f}")
    verdict = "meets" if rate >= TARGET_PER_SECOND else "MISSES"
    print(f"target: at least {TARGET_PER_SECOND} actions/s — {verdict} it")
    if synced != args.actions or issues != args.actions:
        raise SystemExit("not every action was pushed exactly once")


if __name__ == "__main__":
    main()
