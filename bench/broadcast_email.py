"""Benchmark: one narrative broadcast to 10,000 member mailboxes through a local SMTP server.

    .venv/bin/python -m bench.broadcast_email [--members 10000] [--workers 1 2]

Creates a throw-away test database (PostgreSQL when DATABASE_URL says so), 10,000 members and a
narrative, starts an aiosmtpd server on 127.0.0.1 in SINK_PROCESSES processes sharing its port (as
an MTA's smtpd processes do), then, for one worker and then two:

1. baseline: raw smtplib sends the same 10,000 prebuilt messages over one connection — the floor
   of the SMTP server and protocol alone;
2. ybiyri: publishes (writes the 10,000 delivery rows in one transaction) and lets Celery worker
   processes (solo pool, as `make worker` starts them; REDIS_URL required, else the eager
   in-process mode) send them until every row is DELIVERED: claim a batch of a thousand, render,
   send it over a few SMTP connections at once (BROADCAST_EMAIL_CONNECTIONS), record.

Reports messages per second for both, per worker, and the load average of the machine beside
each; the target is at least 1,000 messages/s per worker.
"""

import argparse
import logging
import multiprocessing
import os
import smtplib
import time
from contextlib import contextmanager
from datetime import timedelta

from bench.support import load_average, one_worker, throwaway_database, worker_processes

TARGET_PER_SECOND = 1000


# Processes of the SMTP sink, sharing its port (SO_REUSEPORT) as a real MTA's smtpd processes do: one
# asyncio process takes about as many messages as one worker sends, so two workers would measure it.
SINK_PROCESSES = 2


def smtp_server_process(port_out, received, stop, port: int) -> None:
    """A counting SMTP sink: accepts everything, keeps nothing but the number of messages."""
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.ERROR)

    class Counter:
        async def handle_DATA(self, server, session, envelope):  # aiosmtpd hook
            with received.get_lock():
                received.value += 1
            return "250 OK"

    class SharedPortController(Controller):
        def _create_server(self):
            return self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port, reuse_port=True
            )

        def _trigger_server(self):
            # Learn the port the OS chose; the connection that would check readiness may reach
            # another process of the sink, so none is made.
            self.port = self.server.sockets[0].getsockname()[1]
            self.smtpd = self.factory()
            self._factory_invoked.set()

    controller = SharedPortController(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    port_out.send(controller.port)
    stop.wait()
    controller.stop()


@contextmanager
def smtp_server():
    context = multiprocessing.get_context("spawn")
    received = context.Value("i", 0)
    stop = context.Event()
    processes = []
    port = 0
    for _ in range(SINK_PROCESSES):
        parent, child = context.Pipe()
        process = context.Process(target=smtp_server_process, args=(child, received, stop, port), daemon=True)
        process.start()
        processes.append(process)
        port = parent.recv()
    try:
        yield port, received
    finally:
        stop.set()
        for process in processes:
            process.join(timeout=10)


def create_organisation(members: int):
    from django.utils import timezone

    from incidents.models import Incident, Service, Team, User
    from reviews.models import Narrative

    pm = User.objects.create(username="bench-pm", email="pm@bench.example.org")
    User.objects.bulk_create(
        [
            User(username=f"member{n}", email=f"member{n}@bench.example.org", password="!")
            for n in range(members - 1)
        ],
        batch_size=2000,
    )
    team = Team.objects.create(name="Payments")
    team.members.add(pm)
    service = Service.objects.create(team=team, name="checkout-api")
    now = timezone.now()
    incident = Incident.objects.create(
        title="Checkout timeouts",
        summary="Customers could not pay for their orders for 40 minutes.",
        severity=Incident.Severity.SEV2,
        team=team,
        service=service,
        started_at=now - timedelta(days=2),
        resolved_at=now - timedelta(days=2) + timedelta(hours=1),
        declared_by=pm,
    )
    body = (
        "## What happened\n\nThe payment provider slowed down and our **retries** piled up.\n\n"
        "## What we learned\n\n- Timeouts must be shorter than the caller's.\n- Retries need a budget.\n\n"
    ) * 4
    return Narrative.objects.create(incident=incident, title=incident.title, body=body, created_by=pm)


def prebuilt_messages(narrative) -> list[tuple[str, str, bytes]]:
    """The same messages ybiyri sends (one per member, with its unsubscribe link), built untimed."""
    import email.policy
    import uuid

    from incidents.models import User
    from reviews.broadcast.content import broadcast_content
    from reviews.broadcast.email import EmailComposer, EmailRecipient
    from reviews.broadcast.unsubscribe import member_unsubscribe_url

    composer = EmailComposer(broadcast_content(narrative))
    messages = []
    for user_id, address in User.objects.order_by("pk").values_list("pk", "email"):
        recipient = EmailRecipient(
            delivery_uuid=uuid.uuid4(),
            address=address,
            unsubscribe_url=member_unsubscribe_url(user_id=user_id),
        )
        message = composer.message(recipient)
        messages.append((message.from_email, address, message.message(policy=email.policy.SMTP).as_bytes()))
    return messages


def wait_for(received, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while received.value < expected and time.monotonic() < deadline:
        time.sleep(0.01)


def run_baseline(port: int, received, messages) -> float:
    start_count = received.value
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as connection:
        for from_email, address, data in messages:
            connection.sendmail(from_email, [address], data)
    wait_for(received, start_count + len(messages), timeout=60)
    return time.perf_counter() - start


def run_ybiyri(narrative, members: int) -> tuple[float, float]:
    from django.db import transaction
    from django.utils import timezone

    from reviews.broadcast.services import broadcast_publication
    from reviews.models import Delivery, Narrative

    start = time.perf_counter()
    with transaction.atomic():
        narrative.status = Narrative.Status.PUBLISHED
        narrative.published_at = timezone.now()
        narrative.publication += 1
        narrative.save()
        broadcast_publication(narrative=narrative)
        published = time.perf_counter() - start
    # In eager mode the batches were sent on commit, above; with a worker, wait for it.
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        done = Delivery.objects.filter(narrative=narrative, publication=narrative.publication).exclude(
            state__in=[Delivery.State.PENDING, Delivery.State.SENDING]
        )
        if done.count() >= members:
            break
        time.sleep(0.05)
    return time.perf_counter() - start, published


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from reviews.models import Delivery

    logging.getLogger("reviews.broadcast").setLevel(logging.ERROR)
    logging.getLogger("celery").setLevel(logging.WARNING)
    rows = []
    problems = []
    with smtp_server() as (port, received), throwaway_database("broadcast_email"):
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 30},
            }
        }
        settings.BROADCAST_EMAIL_TO = []
        settings.BROADCAST_EMAIL_MEMBERS = True
        settings.SLACK_WEBHOOK_URL = settings.TEAMS_WEBHOOK_URL = ""
        settings.BROADCAST_WEBHOOK_URLS = []
        environment = {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "BROADCAST_EMAIL_TO": "",
            "BROADCAST_EMAIL_MEMBERS": "1",
            "SLACK_WEBHOOK_URL": "",
            "TEAMS_WEBHOOK_URL": "",
            "BROADCAST_WEBHOOK_URLS": "",
            "CONFLUENCE_URL": "",
        }
        narrative = create_organisation(args.members)
        messages = prebuilt_messages(narrative)
        workers = args.workers if os.environ.get("REDIS_URL") else [1]
        for count in workers:
            baseline_rate = len(messages) / run_baseline(port, received, messages)
            baseline_load = load_average()
            before = received.value
            with worker_processes(count, environment) as worker:
                if worker is None:
                    worker = "eager, in-process (no REDIS_URL)"
                    with one_worker():
                        seconds, publish_seconds = run_ybiyri(narrative, args.members)
                else:
                    seconds, publish_seconds = run_ybiyri(narrative, args.members)
                wait_for(received, before + args.members, timeout=60)
                load = load_average()
            sent = received.value - before
            delivered = Delivery.objects.filter(
                narrative=narrative, publication=narrative.publication, state=Delivery.State.DELIVERED
            ).count()
            if sent != args.members or delivered != args.members:
                problems.append(
                    f"{worker}: {sent} received, {delivered} DELIVERED for {args.members} members"
                )
            rate = delivered / seconds
            rows.append((worker, count, rate, seconds, publish_seconds, baseline_rate, baseline_load, load))

    print(
        f"database: {connection.vendor}; members: {args.members}; "
        f"SMTP server: aiosmtpd, {SINK_PROCESSES} processes sharing its port"
    )
    print("baseline: raw smtplib, one connection, prebuilt messages (same run)")
    print(
        "messages/s: from publishing (writing the rows) to the last one DELIVERED; sending: after publishing"
    )
    print(
        f"{'workers':<50} {'messages/s':>10} {'per worker':>11} {'sending/s':>10} {'baseline/s':>11} {'ratio':>6}"
    )
    for worker, count, rate, seconds, publish_seconds, baseline_rate, baseline_load, load in rows:
        sending = rate * seconds / (seconds - publish_seconds)
        print(
            f"{worker:<50} {rate:>10,.0f} {rate / count:>11,.0f} {sending:>10,.0f} {baseline_rate:>11,.0f} "
            f"{rate / count / baseline_rate:>6.2f}   ({seconds:.1f} s, publishing {publish_seconds:.2f} s; "
            f"{load}; baseline at {baseline_load})"
        )
    single = max(rate for _, count, rate, *_ in rows if count == 1)
    verdict = "meets" if single >= TARGET_PER_SECOND else "MISSES"
    print(f"target: at least {TARGET_PER_SECOND} messages/s with one worker — {verdict} it")
    if problems:
        raise SystemExit("not every member received exactly one message: " + "; ".join(problems))


if __name__ == "__main__":
    main()
