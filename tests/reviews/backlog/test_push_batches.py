"""Pushes claimed and sent in batches, and the label lookup only where an earlier attempt could have
left an issue behind."""

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reviews.backlog.jira import JiraTracker
from reviews.backlog.tasks import action_push_task
from reviews.models import ImprovementAction
from reviews.services.actions import (
    ACTION_PUSHES,
    ACTIONS_PER_TASK,
    action_retry_sync,
    action_update,
)
from tests.reviews.backlog.pending import claimed_before, raise_pending
from tests.ybiyri.retries import deliver_scheduled_retries

SyncState = ImprovementAction.SyncState
CREATE = r"/rest/api/\d/issue/?$"
SEARCH = r"/search(/jql)?$"


def test_a_first_push_creates_without_looking_the_label_up(fake_jira, jira_team, raise_action):
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert fake_jira.requests_to("GET", SEARCH) == []
    assert len(fake_jira.requests_to("POST", CREATE)) == 1


def test_an_edit_after_a_lost_create_adopts_the_issue_instead_of_creating_another(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    # Jira creates the issue but the answer is lost; the retry waits. Then someone edits the
    # action, which resets its attempts: the push that follows must still look the label up.
    fake_jira_cloud.drop_after_next(method="POST", path=CREATE)
    (action,) = raise_pending(incident, pm, django_capture_on_commit_callbacks)
    action_push_task.apply(args=[[action.pk]])
    action.refresh_from_db()
    assert (action.sync_state, action.external_key) == (SyncState.PENDING, "")
    with django_capture_on_commit_callbacks(execute=True):
        action_update(action=action, by=pm, changes={"title": "Renamed while waiting"})
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_jira_cloud.issues) == 1
    assert fake_jira_cloud.issues[action.external_key]["fields"]["summary"] == "Renamed while waiting"
    assert len(fake_jira_cloud.requests_to("POST", CREATE)) == 1


def test_retrying_a_failed_push_adopts_the_issue_its_lost_create_left(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = 1
    fake_jira_cloud.drop_after_next(method="POST", path=CREATE)
    (action,) = raise_pending(incident, pm, django_capture_on_commit_callbacks)
    action_push_task.apply(args=[[action.pk]])
    action.refresh_from_db()
    assert action.sync_state == SyncState.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        action_retry_sync(action=action, by=pm)
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_jira_cloud.issues_with_label(action.idempotency_label)) == 1


def test_a_burst_of_pushes_is_claimed_in_batches_and_all_pushed(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    actions = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=ACTIONS_PER_TASK + 3)
    ids = [action.pk for action in actions]
    arguments = ACTION_PUSHES.arguments(ids)
    assert [len(batch) for (batch,) in arguments] == [ACTIONS_PER_TASK, 3]
    with CaptureQueriesContext(connection) as queries:
        action_push_task.apply(args=arguments[0])
    claims = [query for query in queries if query["sql"].startswith("UPDATE") and "RETURNING" in query["sql"]]
    assert len(claims) == 1  # one statement claims the batch (none of it was ever claimed before)
    action_push_task.apply(args=arguments[1])
    assert set(ImprovementAction.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}
    assert len(fake_jira_cloud.issues) == len(ids)


def test_a_transient_failure_defers_the_rest_of_the_batch_without_counting_an_attempt(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    # Retried pushes go one by one (each looks its label up first): the first lookup is refused.
    first, second, third = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=3)
    claimed_before([first, second, third])
    fake_jira_cloud.fail_next(1, status=429, method="GET", path=SEARCH, headers={"Retry-After": "30"})
    action_push_task.apply(args=[[first.pk, second.pk, third.pk]])
    assert len(fake_jira_cloud.requests_to("GET", SEARCH)) == 1  # the others were not tried
    rows = {row.pk: row for row in ImprovementAction.objects.all()}
    assert {row.sync_state for row in rows.values()} == {SyncState.PENDING}
    assert [rows[pk].sync_attempts for pk in (first.pk, second.pk, third.pk)] == [1, 0, 0]
    assert rows[second.pk].next_attempt_at >= rows[first.pk].next_attempt_at
    assert rows[first.pk].next_attempt_at >= timezone.now() + timezone.timedelta(seconds=29)
    assert "Will retry" in rows[second.pk].sync_error
    deliver_scheduled_retries(ACTION_PUSHES)
    assert set(ImprovementAction.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}
    assert len(fake_jira_cloud.issues) == 3


def test_a_batch_skips_the_actions_another_worker_claimed(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    mine, taken = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=2)
    ACTION_PUSHES.claim([taken.pk])
    action_push_task.apply(args=[[mine.pk, taken.pk]])
    taken.refresh_from_db()
    assert taken.sync_state == SyncState.SYNCING
    assert len(fake_jira_cloud.issues) == 1


def test_a_message_carrying_a_single_id_still_pushes(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    (action,) = raise_pending(incident, pm, django_capture_on_commit_callbacks)
    action_push_task.apply(args=[action.pk])
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED


def test_pushes_requested_before_claims_were_stamped_count_as_claimed(incident, pm, jira_team):
    from importlib import import_module

    migration = import_module("reviews.migrations.0012_action_pushes_requested_count_as_claimed")
    requested, untracked = (
        ImprovementAction.objects.create(
            incident=incident, title=title, kind="technical", raised_by=pm, tracker=tracker
        )
        for title, tracker in (("Pushed once", "jira"), ("Never tracked", ""))
    )
    migration.mark_possibly_attempted_pushes(apps, None)
    requested.refresh_from_db()
    untracked.refresh_from_db()
    assert requested.claimed_at == requested.raised_at
    assert untracked.claimed_at is None


def test_an_interrupted_batch_records_what_was_pushed_and_puts_the_rest_back(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks, monkeypatch
):
    # Retried pushes are created one by one, each after its label lookup.
    first, second, third = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=3)
    claimed_before([first, second, third])
    create = JiraTracker.create
    calls = []

    def create_until_the_time_limit(self, action):
        calls.append(action.pk)
        if len(calls) == 2:
            raise SoftTimeLimitExceeded
        return create(self, action)

    monkeypatch.setattr(JiraTracker, "create", create_until_the_time_limit)
    with pytest.raises(SoftTimeLimitExceeded):
        action_push_task.run([first.pk, second.pk, third.pk])
    rows = {row.pk: row for row in ImprovementAction.objects.all()}
    assert rows[first.pk].sync_state == SyncState.SYNCED
    assert rows[first.pk].external_key == "PAY-1"
    for pk in (second.pk, third.pk):
        assert (rows[pk].sync_state, rows[pk].sync_attempts) == (SyncState.PENDING, 0)
        assert "The batch stopped before reaching this action." in rows[pk].sync_error
    assert len(fake_jira_cloud.issues) == 1


def test_a_batch_records_its_successes_in_one_update(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    actions = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=3)
    with CaptureQueriesContext(connection) as queries:
        action_push_task.apply(args=[[action.pk for action in actions]])
    recorded = [
        query for query in queries if query["sql"].startswith("UPDATE") and "synced_at" in query["sql"]
    ]
    assert len(recorded) == 1
    keys = dict(ImprovementAction.objects.values_list("pk", "external_key"))
    assert sorted(keys.values()) == ["PAY-1", "PAY-2", "PAY-3"]
    for action in actions:
        assert fake_jira_cloud.issues[keys[action.pk]]["fields"]["summary"] == action.title


def test_an_action_edited_while_its_batch_is_created_is_pushed_again_and_the_others_recorded(
    transactional_db, fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    # Pending as `action_raise` leaves them, without the pushes it would run at once outside a test
    # transaction.
    actions = [
        ImprovementAction.objects.create(
            incident=incident,
            title=f"Add a circuit breaker {n}",
            kind="technical",
            raised_by=pm,
            tracker=jira_team.tracker,
            sync_state=SyncState.PENDING,
            sync_requested_at=timezone.now(),
        )
        for n in range(3)
    ]
    edited = actions[1]

    def edit_during_create(method, path):
        if method == "POST" and path.endswith("/issue/bulk"):
            fake_jira_cloud.on_request = None
            # Someone renames one action while the worker waits for Jira.
            action_update(action=edited, by=pm, changes={"title": "Renamed mid-push"})

    fake_jira_cloud.on_request = edit_during_create
    with django_capture_on_commit_callbacks(execute=True):
        action_push_task.apply(args=[[action.pk for action in actions]])
    rows = {row.pk: row for row in ImprovementAction.objects.all()}
    assert {row.sync_state for row in rows.values()} == {SyncState.SYNCED}
    assert [rows[action.pk].external_key for action in actions] == ["PAY-1", "PAY-2", "PAY-3"]
    assert fake_jira_cloud.issues["PAY-2"]["fields"]["summary"] == "Renamed mid-push"
    assert len(fake_jira_cloud.issues) == 3
    assert len(fake_jira_cloud.requests_to("PUT", r"/issue/")) == 1  # the edited one, brought in line
