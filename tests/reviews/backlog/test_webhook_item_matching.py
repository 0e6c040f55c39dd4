"""A tracker's event changes only the action pushed as that very issue or card, of a team using it.

Signed deliveries through the test client; actions pushed to the local Jira and Trello emulators.
"""

import json

import pytest
from django.test import Client

from incidents.models import Team
from reviews.backlog import RemoteItem
from reviews.backlog.tasks import backlog_status_reconcile_task
from reviews.backlog.views import trello_callback_url
from reviews.models import ImprovementAction
from reviews.services.actions import action_apply_tracker_item, action_raise
from tests.fakes.jira import FakeJira
from tests.fakes.trello import FakeTrello
from tests.reviews.backlog.conftest import JIRA_WEBHOOK_SECRET, TRELLO_API_SECRET

Status = ImprovementAction.Status
JIRA_WEBHOOK = "/integrations/jira/webhook/"
TRELLO_WEBHOOK = "/integrations/trello/webhook/"
DONE = {"name": "Done", "statusCategory": {"key": "done"}}


@pytest.fixture
def anonymous():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def jira_secret(settings):
    settings.JIRA_WEBHOOK_SECRET = JIRA_WEBHOOK_SECRET


@pytest.fixture
def trello_secret(settings):
    settings.TRELLO_API_SECRET = TRELLO_API_SECRET


def post_jira(client: Client, payload: dict) -> object:
    body = json.dumps(payload).encode()
    return client.post(
        JIRA_WEBHOOK,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature": FakeJira.signature(body, JIRA_WEBHOOK_SECRET)},
    )


def jira_done_event(key: str, *, labels: list[str]) -> dict:
    return {
        "timestamp": 1767225600000,
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": key, "fields": {"status": DONE, "resolutiondate": None, "labels": labels}},
    }


def post_trello(client: Client, payload: dict) -> object:
    body = json.dumps(payload).encode()
    return client.post(
        TRELLO_WEBHOOK,
        data=body,
        content_type="application/json",
        headers={"X-Trello-Webhook": FakeTrello.signature(body, trello_callback_url(), TRELLO_API_SECRET)},
    )


def trello_archived_event(card_id: str) -> dict:
    return {
        "action": {
            "type": "updateCard",
            "date": "2026-01-01T00:00:00.000Z",
            "data": {
                "card": {"id": card_id, "closed": True, "shortLink": "abcd1234"},
                "old": {"closed": False},
            },
        }
    }


def raise_unpushed(incident, pm, django_capture_on_commit_callbacks) -> ImprovementAction:
    """An action whose push never ran: no issue or card key recorded."""
    with django_capture_on_commit_callbacks(execute=False):
        return action_raise(
            incident=incident,
            review=None,
            by=pm,
            title="Alert on queue depth",
            description="",
            kind="technical",
            owner=None,
            priority="medium",
            due_date=None,
        )


def assert_unchanged(action: ImprovementAction) -> None:
    status, done_at = action.status, action.done_at
    action.refresh_from_db()
    assert (action.status, action.done_at) == (status, done_at)


# --- Jira ----------------------------------------------------------------------------------


@pytest.fixture
def jira_action(fake_jira_cloud, jira_team, raise_action):
    action = raise_action()
    assert action.external_key == "PAY-1", action.sync_error
    return action


def test_a_jira_event_for_the_issue_an_action_was_pushed_as_applies(fake_jira_cloud, jira_action, anonymous):
    fake_jira_cloud.set_status("PAY-1", "Done")
    response = fake_jira_cloud.deliver_webhook(anonymous, "PAY-1", secret=JIRA_WEBHOOK_SECRET)
    assert response.json() == {"result": "changed"}
    jira_action.refresh_from_db()
    assert jira_action.status == Status.DONE


def test_a_jira_event_for_another_issue_with_the_actions_label_is_ignored(
    fake_jira_cloud, jira_action, anonymous
):
    # The issue moved to another project: new key, same labels. Its stored key no longer matches.
    fake_jira_cloud.set_status("PAY-1", "Done")
    payload = json.loads(fake_jira_cloud.webhook_body("PAY-1"))
    payload["issue"]["key"] = "OPS-7"
    response = post_jira(anonymous, payload)
    assert response.status_code == 200
    assert response.json()["result"] == "ignored"
    assert_unchanged(jira_action)


def test_a_jira_event_for_a_never_pushed_action_is_ignored(
    jira_secret, jira_team, incident, pm, django_capture_on_commit_callbacks, anonymous
):
    action = raise_unpushed(incident, pm, django_capture_on_commit_callbacks)
    assert (action.tracker, action.external_key) == (Team.Tracker.JIRA, "")
    response = post_jira(anonymous, jira_done_event("PAY-9", labels=["ybiyri", action.idempotency_label]))
    assert response.json()["result"] == "ignored"
    assert_unchanged(action)


def test_a_jira_event_for_an_action_of_a_team_without_a_tracker_is_ignored(
    jira_secret, team, incident, pm, django_capture_on_commit_callbacks, anonymous
):
    action = raise_unpushed(incident, pm, django_capture_on_commit_callbacks)
    assert action.sync_state == ImprovementAction.SyncState.NOT_SYNCED
    response = post_jira(anonymous, jira_done_event("PAY-1", labels=[action.idempotency_label]))
    assert response.json()["result"] == "ignored"
    assert_unchanged(action)


def test_a_jira_event_naming_a_trello_teams_card_is_ignored(
    jira_secret, fake_trello, trello_team, raise_action, anonymous
):
    action = raise_action()
    assert action.tracker == Team.Tracker.TRELLO and action.external_key
    response = post_jira(anonymous, jira_done_event(action.external_key, labels=[action.idempotency_label]))
    assert response.json()["result"] == "ignored"
    assert_unchanged(action)


def test_a_jira_event_for_a_team_that_left_jira_is_ignored(fake_jira_cloud, jira_action, anonymous):
    team = jira_action.incident.team
    team.tracker = Team.Tracker.NONE
    team.save()
    fake_jira_cloud.set_status("PAY-1", "Done")
    response = fake_jira_cloud.deliver_webhook(anonymous, "PAY-1", secret=JIRA_WEBHOOK_SECRET)
    assert response.json()["result"] == "ignored"
    assert_unchanged(jira_action)


# --- Trello --------------------------------------------------------------------------------


@pytest.fixture
def carded(fake_trello, trello_team, raise_action):
    action = raise_action()
    assert action.sync_state == ImprovementAction.SyncState.SYNCED, action.sync_error
    return action


def test_a_trello_event_for_the_card_an_action_was_pushed_as_applies(fake_trello, carded, anonymous):
    fake_trello.archive(carded.external_key)
    body = fake_trello.webhook_body(carded.external_key, closed=True)
    response = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    assert response.json() == {"result": "changed"}
    carded.refresh_from_db()
    assert carded.status == Status.DONE


def test_a_trello_event_for_another_card_is_ignored(fake_trello, carded, raise_action, anonymous):
    other = raise_action(title="Write the runbook")
    ImprovementAction.objects.filter(pk=other.pk).delete()
    # A card on the same board that no action is tracked by any more.
    body = fake_trello.webhook_body(other.external_key, closed=True)
    response = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    assert response.json()["result"] == "ignored"
    assert_unchanged(carded)


def test_a_trello_event_for_a_never_pushed_action_is_ignored(
    trello_secret, trello_team, incident, pm, django_capture_on_commit_callbacks, anonymous
):
    action = raise_unpushed(incident, pm, django_capture_on_commit_callbacks)
    assert (action.tracker, action.external_key) == (Team.Tracker.TRELLO, "")
    response = post_trello(anonymous, trello_archived_event("5f0c" + "0" * 20))
    assert response.json()["result"] == "ignored"
    assert_unchanged(action)


def test_a_trello_event_naming_a_jira_teams_issue_is_ignored(trello_secret, jira_action, anonymous):
    response = post_trello(anonymous, trello_archived_event(jira_action.external_key))
    assert response.json()["result"] == "ignored"
    assert_unchanged(jira_action)


def test_a_trello_event_for_a_team_that_moved_to_jira_is_ignored(fake_trello, carded, anonymous):
    team = carded.incident.team
    team.tracker = Team.Tracker.JIRA
    team.save()
    body = fake_trello.webhook_body(carded.external_key, closed=True)
    response = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    assert response.json()["result"] == "ignored"
    assert_unchanged(carded)


# --- the reconciler, through the same rule -------------------------------------------------


def test_applying_another_trackers_item_with_the_same_key_changes_nothing(carded):
    item = RemoteItem(tracker=Team.Tracker.JIRA, key=carded.external_key, url="", done=True)
    assert action_apply_tracker_item(action=carded, item=item) is False
    assert_unchanged(carded)


def test_applying_an_item_to_an_action_pushed_as_another_changes_nothing(jira_action):
    item = RemoteItem(tracker=Team.Tracker.JIRA, key="PAY-2", url="", done=True)
    assert action_apply_tracker_item(action=jira_action, item=item) is False
    assert_unchanged(jira_action)


def test_the_reconciler_follows_the_issue_an_action_was_pushed_as(fake_jira_cloud, jira_action):
    fake_jira_cloud.set_status("PAY-1", "Done")
    assert backlog_status_reconcile_task.delay().get() == 1
    jira_action.refresh_from_db()
    assert jira_action.status == Status.DONE


def test_the_reconciler_leaves_an_action_whose_team_left_jira(fake_jira_cloud, jira_action, settings):
    # The team moved to Trello (not configured here): its old Jira issue no longer speaks for it.
    team = jira_action.incident.team
    team.tracker = Team.Tracker.TRELLO
    team.save()
    fake_jira_cloud.set_status("PAY-1", "Done")
    assert backlog_status_reconcile_task.delay().get() == 0
    assert_unchanged(jira_action)
