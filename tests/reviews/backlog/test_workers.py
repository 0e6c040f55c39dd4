"""With the real services: a Celery worker on Redis performs the push (retries through the broker),
and concurrent deliveries of the same task on PostgreSQL create one issue."""

import threading
import time

import pytest
from django.db import connection

from reviews.backlog.tasks import action_push_task
from reviews.models import ImprovementAction
from reviews.services.actions import action_raise
from tests.ybiyri.retries import published_messages

SyncState = ImprovementAction.SyncState
CREATE = r"/rest/api/\d/issue/?$"


def raise_committed(incident, pm, title="Add a circuit breaker"):
    """Raise an action in its own committed transaction (its push is enqueued on commit)."""
    return action_raise(
        incident=incident,
        review=None,
        by=pm,
        title=title,
        description="",
        kind="technical",
        owner=None,
        priority="medium",
        due_date=None,
    )


def wait_for_state(action, states, *, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        action.refresh_from_db()
        if action.sync_state in states:
            return action
        time.sleep(0.05)
    pytest.fail(f"action stayed {action.sync_state} ({action.sync_error})")


@pytest.mark.services
def test_a_real_worker_on_redis_pushes_the_action(
    celery_worker_on_redis, fake_jira_cloud, jira_team, incident, pm
):
    action = raise_committed(incident, pm)
    wait_for_state(action, {SyncState.SYNCED, SyncState.FAILED})
    assert action.sync_state == SyncState.SYNCED, action.sync_error
    assert len(fake_jira_cloud.issues_with_label(action.idempotency_label)) == 1


@pytest.mark.services
def test_a_real_worker_retries_through_the_broker_after_retry_after(
    celery_worker_on_redis, fake_jira_cloud, jira_team, incident, pm, settings
):
    settings.OUTBOX_RETRY_BASE_SECONDS = 1
    with published_messages() as published:
        fake_jira_cloud.fail_next(1, status=429, method="POST", path=CREATE, headers={"Retry-After": "2"})
        action = raise_committed(incident, pm)
        wait_for_state(action, {SyncState.SYNCED, SyncState.FAILED})
    assert action.sync_state == SyncState.SYNCED
    first, retry = [message for message in published if message.task == action_push_task.name]
    assert (first.queue, first.eta, retry.queue) == ("backlog", None, "backlog")
    assert retry.eta is not None
    assert len(fake_jira_cloud.issues) == 1
    creates = fake_jira_cloud.requests_to("POST", CREATE)
    assert [r.status for r in creates] == [429, 201]


@pytest.mark.services
def test_concurrent_deliveries_of_one_push_create_one_issue(
    postgres, transactional_db, fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        action = raise_committed(incident, pm)
    deliveries = 8
    barrier = threading.Barrier(deliveries)
    errors: list[BaseException] = []

    def deliver():
        try:
            barrier.wait(timeout=10)
            action_push_task.apply(args=[action.pk])
        except BaseException as error:  # surfaced in the main thread below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(deliveries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert action.sync_attempts == 1
    assert len(fake_jira_cloud.requests_to("POST", CREATE)) == 1
    assert len(fake_jira_cloud.issues) == 1
