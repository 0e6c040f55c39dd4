"""The beat reconcilers: lost pushes re-enqueued, dead workers' claims handed on, statuses polled."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from reviews.backlog import tracker_for
from reviews.backlog.tasks import actions_reconcile_task, backlog_status_reconcile_task
from reviews.models import ImprovementAction
from reviews.services.actions import action_raise
from ybiyri.celery import app as celery_app

SyncState = ImprovementAction.SyncState


def raise_without_enqueue(incident, pm, django_capture_on_commit_callbacks, title="Add a circuit breaker"):
    """Raise an action whose enqueue never reaches a worker (the broker lost it)."""
    with django_capture_on_commit_callbacks(execute=False):
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


def test_a_push_lost_at_commit_is_reconciled_a_minute_later(
    fake_jira, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    action = raise_without_enqueue(incident, pm, django_capture_on_commit_callbacks)
    assert actions_reconcile_task.delay().get() == 0  # not overdue yet: its message may be on its way
    later = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert actions_reconcile_task.delay().get() == 1
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_jira.issues) == 1


def test_broker_down_at_commit_leaves_the_push_pending_until_reconciled(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks, settings
):
    # A real publish to a broker nobody listens on: the enqueue fails after the commit, the outbox
    # row stays PENDING, and the reconciler (with the broker back) pushes it.
    celery_app.conf.task_always_eager = False
    previous_broker = celery_app.conf.broker_url
    celery_app.conf.broker_url = "redis://127.0.0.1:9/0"
    pool = celery_app._pool
    celery_app._pool = None
    try:
        with django_capture_on_commit_callbacks(execute=True):
            action = action_raise(
                incident=incident,
                review=None,
                by=pm,
                title="Add a circuit breaker",
                description="",
                kind="technical",
                owner=None,
                priority="medium",
                due_date=None,
            )
    finally:
        celery_app.conf.broker_url = previous_broker
        celery_app._pool = pool
        celery_app.conf.task_always_eager = True
    action.refresh_from_db()
    assert action.sync_state == SyncState.PENDING
    assert fake_jira_cloud.issues == {}
    later = timezone.now() + timedelta(minutes=2)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        actions_reconcile_task.delay()
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_jira_cloud.issues) == 1


def test_a_worker_that_died_after_jira_created_the_issue_is_not_duplicated(
    fake_jira, jira_team, incident, pm, django_capture_on_commit_callbacks, settings
):
    action = raise_without_enqueue(incident, pm, django_capture_on_commit_callbacks)
    # The worker claimed the row and Jira created the issue; then the worker died.
    ImprovementAction.objects.filter(pk=action.pk).update(
        sync_state=SyncState.SYNCING, sync_attempts=1, claimed_at=timezone.now()
    )
    tracker_for(jira_team).create(action)
    assert actions_reconcile_task.delay().get() == 0  # still within the task time limit
    later = timezone.now() + timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    with time_machine.travel(later), django_capture_on_commit_callbacks(execute=True):
        assert actions_reconcile_task.delay().get() == 1
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert action.external_key == "PAY-1"
    assert len(fake_jira.issues_with_label(action.idempotency_label)) == 1


def test_a_retry_waiting_for_its_countdown_is_not_enqueued_early(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    action = raise_without_enqueue(incident, pm, django_capture_on_commit_callbacks)
    due = timezone.now() + timedelta(minutes=10)
    ImprovementAction.objects.filter(pk=action.pk).update(sync_requested_at=due, sync_error="Will retry: 429")
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        assert actions_reconcile_task.delay().get() == 0
    with time_machine.travel(due + timedelta(minutes=2)), django_capture_on_commit_callbacks(execute=True):
        assert actions_reconcile_task.delay().get() == 1


def test_jira_statuses_are_polled_for_missed_webhooks(fake_jira, jira_team, raise_action):
    first = raise_action(title="Add a circuit breaker")
    second = raise_action(title="Write the runbook")
    fake_jira.set_status(first.external_key, "Done")
    assert backlog_status_reconcile_task.delay().get() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ImprovementAction.Status.DONE
    assert first.done_at is not None
    assert second.status == ImprovementAction.Status.OPEN
    assert backlog_status_reconcile_task.delay().get() == 0  # polling again changes nothing
    fake_jira.set_status(first.external_key, "To Do")
    assert backlog_status_reconcile_task.delay().get() == 1
    first.refresh_from_db()
    assert first.done_at is None


def test_status_polling_follows_every_page(fake_jira, jira_team, raise_action):
    actions = [raise_action(title=f"Action {n}") for n in range(3)]
    for action in actions:
        fake_jira.set_status(action.external_key, "Done")
    # Pages of one issue: the client must follow nextPageToken (Cloud) or startAt (Data Center).
    fake_jira.max_page_size = 1
    searches_before = len(fake_jira.requests_to("GET", r"/search"))
    assert backlog_status_reconcile_task.delay().get() == 3
    assert len(fake_jira.requests_to("GET", r"/search")) - searches_before == 3


def test_a_tracker_that_is_down_skips_the_team_without_failing_the_poll(fake_jira, jira_team, raise_action):
    raise_action()
    fake_jira.fail_next(5, status=503)
    assert backlog_status_reconcile_task.delay().get() == 0
