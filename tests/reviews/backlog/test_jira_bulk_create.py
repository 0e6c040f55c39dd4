"""First pushes of a batch created through Jira's bulk create, and the emulator's bulk create answering
as Jira does: each issue created or failed on its own, a failed action retried without duplicates."""

import requests

from reviews.backlog import PermanentTrackerError, RemoteItem
from reviews.backlog.jira import BULK_CREATE_MAX, JiraTracker
from reviews.backlog.tasks import action_push_task
from reviews.models import ImprovementAction
from reviews.services.actions import ACTION_PUSHES, action_retry_sync
from tests.reviews.backlog.pending import raise_pending
from tests.ybiyri.retries import deliver_scheduled_retries

SyncState = ImprovementAction.SyncState
CREATE = r"/rest/api/\d/issue/?$"
BULK = r"/rest/api/\d/issue/bulk$"
SEARCH = r"/search(/jql)?$"


def push(actions):
    action_push_task.apply(args=[[action.pk for action in actions]])
    return {row.pk: row for row in ImprovementAction.objects.order_by("pk")}


def test_a_batch_of_first_pushes_creates_its_issues_in_one_bulk_request(
    fake_jira, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    actions = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=3)
    rows = push(actions)
    assert len(fake_jira.requests_to("POST", BULK)) == 1
    assert fake_jira.requests_to("POST", CREATE) == []
    assert fake_jira.requests_to("GET", SEARCH) == []
    for action, key in zip(actions, ["PAY-1", "PAY-2", "PAY-3"], strict=True):
        row = rows[action.pk]
        assert (row.sync_state, row.external_key) == (SyncState.SYNCED, key)
        assert row.external_url == f"{fake_jira.url}/browse/{key}"
        assert fake_jira.issues[key]["fields"]["summary"] == action.title
        assert action.idempotency_label in fake_jira.issues[key]["fields"]["labels"]


def test_a_single_first_push_takes_the_plain_create(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    rows = push(raise_pending(incident, pm, django_capture_on_commit_callbacks))
    assert len(fake_jira_cloud.requests_to("POST", CREATE)) == 1
    assert fake_jira_cloud.requests_to("POST", BULK) == []
    assert [row.sync_state for row in rows.values()] == [SyncState.SYNCED]


def test_an_issue_jira_refuses_in_a_bulk_create_fails_its_action_alone_and_its_retry_creates_it_once(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    jira_team.jira_priority_map = {"high": "Urgent"}
    jira_team.save()
    first, refused, third = (
        raise_pending(incident, pm, django_capture_on_commit_callbacks, priority=priority)[0]
        for priority in ("medium", "high", "medium")
    )
    rows = push([first, refused, third])
    assert (rows[first.pk].sync_state, rows[first.pk].external_key) == (SyncState.SYNCED, "PAY-1")
    assert (rows[third.pk].sync_state, rows[third.pk].external_key) == (SyncState.SYNCED, "PAY-2")
    assert (rows[refused.pk].sync_state, rows[refused.pk].external_key) == (SyncState.FAILED, "")
    assert rows[refused.pk].sync_error == "Jira (HTTP 400): priority: Priority name 'Urgent' is not valid"
    jira_team.jira_priority_map = {}
    jira_team.save()
    with django_capture_on_commit_callbacks(execute=True):
        action_retry_sync(action=rows[refused.pk], by=pm)
    refused.refresh_from_db()
    assert (refused.sync_state, refused.external_key) == (SyncState.SYNCED, "PAY-3")
    assert len(fake_jira_cloud.issues) == 3
    for action in (first, refused, third):
        assert len(fake_jira_cloud.issues_with_label(action.idempotency_label)) == 1
    assert len(fake_jira_cloud.requests_to("POST", BULK)) == 1


def test_a_bulk_create_whose_answer_is_lost_is_adopted_on_retry_not_created_again(
    fake_jira, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    # Jira creates every issue, then the connection dies before the keys reach the worker.
    actions = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=3)
    fake_jira.drop_after_next(method="POST", path=BULK)
    rows = push(actions)
    assert {(row.sync_state, row.sync_attempts, row.external_key) for row in rows.values()} == {
        (SyncState.PENDING, 1, "")
    }
    deliver_scheduled_retries(ACTION_PUSHES)
    rows = {row.pk: row for row in ImprovementAction.objects.all()}
    assert {row.sync_state for row in rows.values()} == {SyncState.SYNCED}
    assert len(fake_jira.issues) == 3
    for action in actions:
        (issue,) = fake_jira.issues_with_label(action.idempotency_label)
        assert rows[action.pk].external_key == issue["key"]
    assert len(fake_jira.requests_to("POST", BULK)) == 1
    assert fake_jira.requests_to("POST", CREATE) == []


def test_a_bulk_create_refused_as_a_whole_retries_every_action_in_it(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    actions = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=3)
    fake_jira_cloud.fail_next(1, status=503, method="POST", path=BULK)
    rows = push(actions)
    assert {(row.sync_state, row.sync_attempts) for row in rows.values()} == {(SyncState.PENDING, 1)}
    assert {row.sync_error for row in rows.values()} == {"Will retry: Jira (HTTP 503): no details given"}
    deliver_scheduled_retries(ACTION_PUSHES)
    assert set(ImprovementAction.objects.values_list("sync_state", flat=True)) == {SyncState.SYNCED}
    assert len(fake_jira_cloud.issues) == 3


def test_a_bulk_create_jira_refuses_for_every_issue_fails_each_action_with_its_message(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    jira_team.jira_project_key = "NOPE"
    jira_team.save()
    rows = push(raise_pending(incident, pm, django_capture_on_commit_callbacks, count=2))
    assert {row.sync_state for row in rows.values()} == {SyncState.FAILED}
    assert {row.sync_error for row in rows.values()} == {
        "Jira (HTTP 400): project: valid project is required"
    }
    assert fake_jira_cloud.issues == {}


def test_more_actions_than_one_bulk_request_takes_are_created_in_several(
    fake_jira_cloud, jira_team, incident, pm, django_capture_on_commit_callbacks
):
    actions = raise_pending(incident, pm, django_capture_on_commit_callbacks, count=BULK_CREATE_MAX + 2)
    created = JiraTracker.for_team(jira_team).create_many(actions)
    assert [item.key for item in created if isinstance(item, RemoteItem)] == [
        f"PAY-{n}" for n in range(1, BULK_CREATE_MAX + 3)
    ]
    assert [len(request.body) > 0 for request in fake_jira_cloud.requests_to("POST", BULK)] == [True, True]
    assert not any(isinstance(item, PermanentTrackerError) for item in created)


def test_the_emulators_bulk_create_answers_as_jira_does(fake_jira):
    session = requests.Session()
    session.auth = (fake_jira.user, fake_jira.token)
    valid = {"project": {"key": "PAY"}, "issuetype": {"name": "Task"}, "summary": "Fine"}
    url = f"{fake_jira.url}/rest/api/2/issue/bulk"
    mixed = session.post(
        url, json={"issueUpdates": [{"fields": valid}, {"fields": {**valid, "summary": ""}}]}
    )
    assert mixed.status_code == 201
    issue = fake_jira.issues["PAY-1"]
    assert mixed.json() == {
        "issues": [
            {"id": issue["id"], "key": "PAY-1", "self": f"{fake_jira.url}/rest/api/2/issue/{issue['id']}"}
        ],
        "errors": [
            {
                "status": 400,
                "elementErrors": {
                    "errorMessages": [],
                    "errors": {"summary": "You must specify a summary of the issue."},
                },
                "failedElementNumber": 1,
            }
        ],
    }
    none = session.post(url, json={"issueUpdates": [{"fields": {**valid, "project": {"key": "NOPE"}}}]})
    assert none.status_code == 400
    assert none.json()["issues"] == []
    assert none.json()["errors"][0]["failedElementNumber"] == 0
    too_many = session.post(url, json={"issueUpdates": [{"fields": valid}] * (BULK_CREATE_MAX + 1)})
    assert too_many.status_code == 400
    assert len(fake_jira.issues) == 1
