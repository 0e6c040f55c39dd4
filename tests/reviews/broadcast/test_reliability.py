"""Retries, permanent failures, lost tasks and duplicate deliveries: one message per recipient per
publication, whatever happens on the way."""

import socket
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from reviews.broadcast.dispatch import DELIVERIES, deliveries_send
from reviews.broadcast.tasks import deliveries_reconcile_task, deliveries_send_task
from reviews.models import Delivery
from tests.reviews.broadcast.conftest import LIST_ADDRESS, publish_narrative
from tests.ybiyri.retries import deliver_scheduled_retries, in_memory_broker, published_messages
from ybiyri.celery import app as celery_app


def reconcile_later(minutes: int = 60) -> int:
    """Run the beat reconciler (eagerly) as if `minutes` had passed."""
    with time_machine.travel(timezone.now() + timedelta(minutes=minutes), tick=True):
        return deliveries_reconcile_task.delay().get()


def states() -> dict[str, str]:
    return dict(Delivery.objects.values_list("recipient", "state"))


def test_smtp_refusing_some_recipients_retries_only_those(channels, smtp_server, narrative, publish):
    smtp_server.refuse("responder@example.org", code=451, text="4.7.1 Greylisted, try again", times=1)

    publish(narrative)

    waiting = Delivery.objects.get(recipient="responder@example.org")
    assert waiting.state == Delivery.State.PENDING
    assert waiting.attempts == 1
    assert waiting.last_error == "451 4.7.1 Greylisted, try again"
    assert waiting.next_attempt_at is not None
    assert Delivery.objects.get(recipient="pm@example.org").state == Delivery.State.DELIVERED

    assert reconcile_later() == 1

    assert set(states().values()) == {Delivery.State.DELIVERED}
    for address in (LIST_ADDRESS, "pm@example.org", "responder@example.org"):
        assert len(smtp_server.messages_to(address)) == 1
    assert smtp_server.refused == [("responder@example.org", 451)]


def test_permanent_smtp_refusal_is_recorded_with_the_server_reason_and_not_retried(
    channels, smtp_server, narrative, publish
):
    smtp_server.refuse("responder@example.org", code=550, text="5.1.1 User unknown")

    publish(narrative)
    reconcile_later()

    failed = Delivery.objects.get(recipient="responder@example.org")
    assert failed.state == Delivery.State.FAILED
    assert failed.last_error == "550 5.1.1 User unknown"
    assert failed.attempts == 1
    assert smtp_server.refused == [("responder@example.org", 550)]


def test_transient_refusals_give_up_after_the_last_attempt(
    channels, smtp_server, narrative, publish, settings
):
    MAX_ATTEMPTS = settings.OUTBOX_MAX_ATTEMPTS
    smtp_server.refuse("responder@example.org", code=421, text="4.3.2 Service not available")

    publish(narrative)
    for hours in range(1, MAX_ATTEMPTS + 2):
        reconcile_later(minutes=60 * hours)

    failed = Delivery.objects.get(recipient="responder@example.org")
    assert failed.state == Delivery.State.FAILED
    assert failed.attempts == MAX_ATTEMPTS
    assert failed.last_error == f"Gave up after {MAX_ATTEMPTS} attempts: 421 4.3.2 Service not available"
    assert len(smtp_server.refused) == MAX_ATTEMPTS


def test_mail_server_down_leaves_every_email_pending_for_later(channels, smtp_server, narrative, publish):
    smtp_server.stop()

    publish(narrative)

    emails = Delivery.objects.filter(channel=Delivery.Channel.EMAIL)
    assert {delivery.state for delivery in emails} == {Delivery.State.PENDING}
    assert all("Could not connect to the mail server" in delivery.last_error for delivery in emails)


def test_rate_limited_chat_is_retried_no_earlier_than_retry_after(channels, sink, narrative, publish):
    sink.respond("/slack", (429, "rate_limited", {"Retry-After": "120"}))
    before = timezone.now()

    publish(narrative)

    slack = Delivery.objects.get(channel=Delivery.Channel.SLACK)
    assert slack.state == Delivery.State.PENDING
    assert slack.last_error == "HTTP 429: rate_limited"
    assert slack.next_attempt_at >= before + timedelta(seconds=120)
    assert reconcile_later(minutes=1) == 0  # not due yet

    reconcile_later(minutes=5)

    slack.refresh_from_db()
    assert slack.state == Delivery.State.DELIVERED
    assert len(sink.requests_to("/slack")) == 2


def test_server_errors_and_unreachable_endpoints_are_retried(channels, sink, narrative, publish):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}/hook"
    channels.BROADCAST_WEBHOOK_URLS = [sink.url("/hook"), closed]
    sink.respond("/teams", (503, "Service Unavailable"))

    publish(narrative)

    teams = Delivery.objects.get(channel=Delivery.Channel.TEAMS)
    unreachable = Delivery.objects.get(recipient=closed)
    assert (teams.state, teams.last_error) == (Delivery.State.PENDING, "HTTP 503: Service Unavailable")
    assert unreachable.state == Delivery.State.PENDING
    assert unreachable.last_error.startswith("Could not reach the endpoint")

    reconcile_later()

    teams.refresh_from_db()
    assert teams.state == Delivery.State.DELIVERED
    assert len(sink.requests_to("/teams")) == 2


def test_client_errors_fail_for_good_with_the_endpoint_message(channels, sink, narrative, publish):
    sink.respond("/hook", (422, "unknown event"))

    publish(narrative)
    reconcile_later()

    hook = Delivery.objects.get(channel=Delivery.Channel.WEBHOOK)
    assert (hook.state, hook.last_error) == (Delivery.State.FAILED, "HTTP 422: unknown event")
    assert len(sink.requests_to("/hook")) == 1


def test_duplicate_task_delivery_sends_nothing_twice(
    channels, smtp_server, sink, narrative, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        deliveries = publish_narrative(narrative)
    [enqueue] = callbacks

    enqueue()
    enqueue()  # the broker delivers every task a second time
    for delivery in deliveries:
        deliveries_send_task.delay([delivery.pk])
    reconcile_later()

    assert len(smtp_server.messages) == 3
    assert {address for message in smtp_server.messages for address in message.rcpt_tos} == {
        LIST_ADDRESS,
        "pm@example.org",
        "responder@example.org",
    }
    assert len(sink.requests) == 3
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


def test_a_delivery_waiting_for_its_backoff_is_not_sent_early(channels, sink, narrative, publish):
    sink.respond("/slack", (500, "oops"))
    publish(narrative)
    slack = Delivery.objects.get(channel=Delivery.Channel.SLACK)
    slack.next_attempt_at = timezone.now() + timedelta(minutes=10)
    slack.save()

    report = deliveries_send(delivery_ids=[slack.pk])

    assert report.delivered == 0
    assert len(sink.requests_to("/slack")) == 1


@pytest.fixture
def broker_down():
    """Celery publishes to a Redis port where nothing listens, as when the broker is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    def reset_producer_pools():
        # The app caches its broker connection pools; forget them so the URL below is used.
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    celery_app.conf.broker_write_url = f"redis://127.0.0.1:{port}/0"
    celery_app.conf.task_always_eager = False
    reset_producer_pools()
    yield
    celery_app.conf.broker_write_url = None
    celery_app.conf.task_always_eager = True
    reset_producer_pools()


def test_broker_down_during_publishing_still_ends_with_everything_delivered(
    channels, smtp_server, sink, narrative, broker_down, publish
):
    deliveries = publish(narrative)  # the commit's enqueue fails, and is only logged

    assert Delivery.objects.filter(state=Delivery.State.PENDING).count() == len(deliveries) == 6
    assert smtp_server.messages == []
    assert sink.requests == []

    celery_app.conf.task_always_eager = True  # the broker is back
    reconcile_later(minutes=5)

    assert set(states().values()) == {Delivery.State.DELIVERED}
    assert len(smtp_server.messages) == 3
    assert len(sink.requests) == 3


def test_worker_that_died_mid_send_is_picked_up_by_the_reconciler(channels, sink, narrative):
    deliveries = publish_narrative(narrative)  # not committed in this test: nothing is enqueued
    Delivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        state=Delivery.State.SENDING, attempts=1, claimed_at=timezone.now()
    )

    assert reconcile_later(minutes=1) == 0  # still within the task time limit: maybe still sending
    reconcile_later(minutes=30)

    assert set(states().values()) == {Delivery.State.DELIVERED}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {2}


def test_rows_of_a_superseded_publication_are_not_sent(
    channels, smtp_server, sink, narrative, publish, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as first_publication:
        publish_narrative(narrative)
    publish(narrative)  # re-broadcast before the first one left

    for callback in first_publication:
        callback()

    assert len(smtp_server.messages) == 3
    assert len(sink.requests) == 3
    superseded = Delivery.objects.filter(publication=1)
    assert {d.state for d in superseded} == {Delivery.State.FAILED}
    assert {d.last_error for d in superseded} == {"Superseded by publication 2 of the narrative."}


def test_chat_rows_are_not_sent_once_the_incident_became_confidential(
    channels, sink, narrative, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        publish_narrative(narrative)
    narrative.incident.confidential = True
    narrative.incident.save()

    for callback in callbacks:
        callback()

    assert sink.requests == []
    assert Delivery.objects.get(recipient=LIST_ADDRESS).state == Delivery.State.FAILED
    assert Delivery.objects.get(recipient="pm@example.org").state == Delivery.State.DELIVERED


def test_a_failed_chat_delivery_is_scheduled_at_its_backoff_not_left_to_the_reconciler(
    channels, sink, narrative, publish, django_capture_on_commit_callbacks
):
    sink.respond("/slack", (503, "Service Unavailable"))
    with in_memory_broker(), published_messages() as published:
        publish(narrative)  # the send tasks are queued for real: run the Slack one as a worker would
        [send] = [message for message in published if message.args == [[slack_delivery().pk]]]
        queued = len(published)
        with django_capture_on_commit_callbacks(execute=True):
            deliveries_send_task.apply(send.args)

    slack = slack_delivery()
    assert (slack.state, slack.attempts) == (Delivery.State.PENDING, 1)
    [retry] = published[queued:]
    assert send.eta is None
    assert (retry.task, retry.queue, retry.args) == (send.task, "broadcast", send.args)
    assert retry.eta == slack.next_attempt_at
    assert 5 <= (slack.next_attempt_at - slack.claimed_at).total_seconds() <= 11
    # The reconciler is a safety net: while the retry's message waits for its time, it leaves it be.
    with time_machine.travel(slack.next_attempt_at + timedelta(seconds=30)):
        assert deliveries_reconcile_task.delay().get() == 0

    assert deliver_scheduled_retries(DELIVERIES) == [round((retry.eta - slack.claimed_at).total_seconds())]
    assert slack_delivery().state == Delivery.State.DELIVERED
    assert len(sink.requests_to("/slack")) == 2


def slack_delivery() -> Delivery:
    return Delivery.objects.get(channel=Delivery.Channel.SLACK)
