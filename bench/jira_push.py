"""Benchmark: 1,000 improvement actions pushed into the local Jira emulator by one and two workers.

    .venv/bin/python -m bench.jira_push [--actions 1000]

Creates a throw-away test database (PostgreSQL when DATABASE_URL says so, else SQLite), a team on
Jira and 1,000 actions whose push is pending (the outbox state `action_raise` leaves), and starts the
Jira emulator (tests/fakes/jira.py, speaking as Jira Cloud) in its own process on 127.0.0.1. Then:

1. baselines: raw `requests` doing the HTTP work of a first push with the same fields, over one
   keep-alive connection — the floor of the emulator and HTTP alone: one create-issue POST per
   issue (the baseline the target is stated against), and for reference one bulk-create POST per
   ACTIONS_PER_TASK issues (what ybiyri sends for a batch of first pushes);
2. ybiyri: enqueues the 1,000 pushes and lets Celery worker processes (solo pool, as `make worker`
   starts them; REDIS_URL required, else the eager in-process mode) run them until every action is
   SYNCED — claim, create through the `jira` client, record — with one worker, then two, each time
   from the same pending state and an empty emulator; once as the outbox enqueues a burst (batches
   of ACTIONS_PER_TASK ids per message, e.g. the reconciler: one bulk create per message) and once
   with a message per action (as actions raised one at a time enqueue them: one plain create each).

Reports actions per second, per worker beside both baselines of the same run (ratio to the
per-issue baseline, then to the bulk one) and the load average of the machine; the target is at
least 100 actions/s and half of the per-issue baseline per worker.
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


def prebuilt_requests(team) -> list[dict]:
    """The create-issue fields ybiyri sends for each action, built untimed."""
    from reviews.backlog.jira import JiraTracker, jira_issue_fields
    from reviews.models import ImprovementAction

    tracker = JiraTracker.for_team(team)
    return [
        jira_issue_fields(
            action,
            project_key=tracker.project_key,
            issue_type=tracker.issue_type,
            priority_map=tracker.priority_map,
            extra_fields=tracker.extra_fields,
            site_url=tracker.site_url,
        )
        for action in ImprovementAction.objects.select_related("incident__team", "owner").order_by("pk")
    ]


def run_baseline(url: str, user: str, token: str, built: list[dict]) -> float:
    import requests

    session = requests.Session()
    session.auth = (user, token)
    start = time.perf_counter()
    for fields in built:
        created = session.post(f"{url}/rest/api/2/issue", json={"fields": fields}, timeout=10)
        created.raise_for_status()
    return time.perf_counter() - start


def run_bulk_baseline(url: str, user: str, token: str, built: list[dict], *, per_request: int) -> float:
    import requests

    session = requests.Session()
    session.auth = (user, token)
    start = time.perf_counter()
    for first in range(0, len(built), per_request):
        updates = [{"fields": fields} for fields in built[first : first + per_request]]
        created = session.post(f"{url}/rest/api/2/issue/bulk", json={"issueUpdates": updates}, timeout=10)
        created.raise_for_status()
    return time.perf_counter() - start


def reset_pushes() -> None:
    """Every action back to the state `action_raise` leaves: pending, never claimed, no issue."""
    from reviews.models import ImprovementAction

    ImprovementAction.objects.update(
        sync_state=ImprovementAction.SyncState.PENDING,
        sync_attempts=0,
        claimed_at=None,
        next_attempt_at=None,
        synced_at=None,
        sync_error="",
        external_key="",
        external_url="",
    )


def run_ybiyri(count: int, *, batched: bool) -> float:
    from reviews.backlog.tasks import action_push_task
    from reviews.models import ImprovementAction
    from reviews.services.actions import ACTION_PUSHES
    from ybiyri.outbox import enqueue

    ids = list(ImprovementAction.objects.order_by("pk").values_list("pk", flat=True))
    messages = ACTION_PUSHES.arguments(ids) if batched else [(action_id,) for action_id in ids]
    start = time.perf_counter()
    enqueue(action_push_task, messages)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        settled = ImprovementAction.objects.filter(
            sync_state__in=[ImprovementAction.SyncState.SYNCED, ImprovementAction.SyncState.FAILED]
        ).count()
        if settled >= count:
            break
        time.sleep(0.05)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=1000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from bench.support import load_average, worker_processes
    from reviews.backlog.jira import jira_clients_reset
    from reviews.models import ImprovementAction
    from reviews.services.actions import ACTIONS_PER_TASK

    logging.getLogger("reviews.backlog").setLevel(logging.ERROR)
    logging.getLogger("celery").setLevel(logging.WARNING)  # no "received"/"succeeded" line per task
    rows = []
    problems = []
    with jira_emulator() as ((url, user, token), emulator), throwaway_database("jira_push"):
        settings.JIRA_URL, settings.JIRA_USER, settings.JIRA_API_TOKEN = url, user, token
        jira_clients_reset()
        team = create_pending_actions(args.actions)
        built = prebuilt_requests(team)
        environment = {"JIRA_URL": url, "JIRA_USER": user, "JIRA_API_TOKEN": token}
        workers = args.workers if os.environ.get("REDIS_URL") else [1]
        for count in workers:
            for batched in (True, False):
                emulator.send("reset")
                emulator.recv()
                baseline_rate = args.actions / run_baseline(url, user, token, built)
                emulator.send("reset")
                emulator.recv()
                bulk_rate = args.actions / run_bulk_baseline(
                    url, user, token, built, per_request=ACTIONS_PER_TASK
                )
                baseline_load = load_average()
                emulator.send("reset")
                emulator.recv()
                reset_pushes()
                with worker_processes(count, environment) as worker:
                    if worker is None:
                        worker = "eager, in-process (no REDIS_URL)"
                        with one_worker():
                            seconds = run_ybiyri(args.actions, batched=batched)
                    else:
                        seconds = run_ybiyri(args.actions, batched=batched)
                    load = load_average()
                emulator.send("count")
                issues = emulator.recv()
                synced = ImprovementAction.objects.filter(
                    sync_state=ImprovementAction.SyncState.SYNCED
                ).count()
                if synced != args.actions or issues != args.actions:
                    problems.append(f"{worker}: {synced} SYNCED, {issues} issues for {args.actions} actions")
                rate = synced / seconds
                rows.append(
                    (worker, batched, count, rate, seconds, baseline_rate, bulk_rate, baseline_load, load)
                )

    print(f"database: {connection.vendor}; Jira emulator: Cloud, separate process; actions: {args.actions}")
    print(
        "baselines (same run): raw requests over one keep-alive connection; 'per issue' is one "
        f"create-issue POST per issue, 'bulk' one bulk-create POST per {ACTIONS_PER_TASK} issues"
    )
    print(
        f"{'workers':<50} {'enqueued as':<16} {'actions/s':>10} {'per worker':>11} "
        f"{'per issue/s':>12} {'ratio':>6} {'bulk/s':>8} {'ratio':>6}"
    )
    for worker, batched, count, rate, seconds, baseline_rate, bulk_rate, baseline_load, load in rows:
        enqueued = f"{ACTIONS_PER_TASK} per message" if batched else "1 per message"
        per_worker = rate / count
        print(
            f"{worker:<50} {enqueued:<16} {rate:>10,.0f} {per_worker:>11,.0f} {baseline_rate:>12,.0f} "
            f"{per_worker / baseline_rate:>6.2f} {bulk_rate:>8,.0f} {per_worker / bulk_rate:>6.2f}"
            f"   ({seconds:.1f} s; {load}; baselines at {baseline_load})"
        )
    print("ratio: actions/s per worker over the baseline's; the target is at least 0.5 of the per-issue one")
    best_single = max(rate for _, _, count, rate, *_ in rows if count == 1)
    verdict = "meets" if best_single >= TARGET_PER_SECOND else "MISSES"
    print(f"target: at least {TARGET_PER_SECOND} actions/s with one worker — {verdict} it")
    if problems:
        raise SystemExit("not every action was pushed exactly once: " + "; ".join(problems))


if __name__ == "__main__":
    main()
