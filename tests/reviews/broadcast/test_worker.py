"""With PostgreSQL and Redis present: a real Celery worker sends the broadcast, and concurrent
workers racing for the same rows still send each message once."""

import threading
import time

import pytest
from django.db import connection

from reviews.broadcast.dispatch import deliveries_send
from reviews.models import Delivery
from tests.reviews.broadcast.conftest import LIST_ADDRESS, publish_narrative
from tests.ybiyri.retries import published_messages

pytestmark = pytest.mark.services


def wait_until_settled(expected: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == expected:
            return
        time.sleep(0.1)
    pytest.fail(f"deliveries did not settle: {list(Delivery.objects.values_list('recipient', 'state'))}")


def test_a_real_worker_on_redis_sends_every_channel(
    postgres, celery_worker_on_redis, channels, smtp_server, sink, narrative
):
    deliveries = publish_narrative(narrative)  # commits for real: the tasks go through Redis

    wait_until_settled(len(deliveries))
    assert sorted(address for message in smtp_server.messages for address in message.rcpt_tos) == sorted(
        [LIST_ADDRESS, "pm@example.org", "responder@example.org"]
    )
    assert len(sink.requests) == 3


def test_workers_racing_for_the_same_batch_send_each_message_once(
    postgres, transactional_db, channels, smtp_server, sink, narrative
):
    ids = [delivery.pk for delivery in publish_narrative(narrative)]
    start = threading.Barrier(4)
    errors = []

    def worker():
        try:
            start.wait()
            deliveries_send(delivery_ids=ids)
        except Exception as exc:  # reported below, not lost in the thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(smtp_server.messages) == 3
    assert len(sink.requests) == 3
    assert set(Delivery.objects.values_list("state", "attempts")) == {(Delivery.State.DELIVERED, 1)}


def test_a_real_worker_retries_a_failed_chat_delivery_at_its_backoff_without_the_reconciler(
    postgres, celery_worker_on_redis, channels, sink, narrative, settings
):
    settings.OUTBOX_RETRY_BASE_SECONDS = 1  # the first retry is due one second after the failure
    sink.respond("/slack", (503, "Service Unavailable"))
    with published_messages() as published:
        deliveries = publish_narrative(narrative)  # no beat runs here: only the scheduled retry can send it

        wait_until_settled(len(deliveries), timeout=20)
    slack = Delivery.objects.get(channel=Delivery.Channel.SLACK)
    assert slack.attempts == 2
    [retry] = [message for message in published if message.eta is not None]
    assert (retry.queue, retry.args) == ("broadcast", [[slack.pk]])
    assert len(sink.requests_to("/slack")) == 2
