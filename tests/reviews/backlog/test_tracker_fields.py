"""Priority and assignee changed in the tracker come back to the action, through the webhooks and the
status reconciler, and are never pushed back."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import AuditEntry
from reviews.backlog.tasks import backlog_status_reconcile_task
from reviews.backlog.views import trello_callback_url
from reviews.models import ImprovementAction
from reviews.services.actions import action_update
from tests.factories import UserFactory
from tests.reviews.backlog.conftest import JIRA_WEBHOOK_SECRET, TRELLO_API_SECRET

SyncState = ImprovementAction.SyncState


@pytest.fixture
def anonymous():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def synced(fake_jira_cloud, jira_team, raise_action):
    action = raise_action(priority="high")
    assert action.sync_state == SyncState.SYNCED
    return action


def deliver(fake, client, key, *changed):
    body = fake.webhook_body(key, changed=changed)
    return fake.deliver_webhook(client, key, secret=JIRA_WEBHOOK_SECRET, body=body)


def test_a_priority_changed_in_jira_comes_back_without_a_push(
    fake_jira_cloud, synced, anonymous, django_capture_on_commit_callbacks
):
    fake_jira_cloud.set_priority(synced.external_key, "Lowest")
    with django_capture_on_commit_callbacks() as callbacks:
        response = deliver(fake_jira_cloud, anonymous, synced.external_key, "priority")
    assert response.json() == {"result": "changed"}
    synced.refresh_from_db()
    assert synced.priority == ImprovementAction.Priority.LOWEST
    # Not pushed back: no sync requested, nothing enqueued.
    assert synced.sync_state == SyncState.SYNCED
    assert callbacks == []
    entry = AuditEntry.objects.get(verb="action.updated_in_tracker")
    assert entry.actor is None
    assert entry.changes["priority"] == ["high", "lowest"]


def test_a_priority_comes_back_through_the_teams_priority_mapping(
    fake_jira_cloud, synced, jira_team, anonymous
):
    jira_team.jira_priority_map = {"highest": "High", "high": "High", "low": "Lowest", "lowest": "Lowest"}
    jira_team.save()
    fake_jira_cloud.set_priority(synced.external_key, "Lowest")
    deliver(fake_jira_cloud, anonymous, synced.external_key, "priority")
    synced.refresh_from_db()
    # "Lowest" is what both low and lowest send: the higher of them is taken.
    assert synced.priority == ImprovementAction.Priority.LOW
    fake_jira_cloud.set_priority(synced.external_key, "High")
    deliver(fake_jira_cloud, anonymous, synced.external_key, "priority")
    synced.refresh_from_db()
    assert synced.priority == ImprovementAction.Priority.HIGHEST


def test_a_priority_no_mapping_names_is_ignored(fake_jira_cloud, synced, jira_team, anonymous):
    jira_team.jira_priority_map = {"lowest": "Trivial"}
    jira_team.save()
    fake_jira_cloud.set_priority(synced.external_key, "Lowest")
    response = deliver(fake_jira_cloud, anonymous, synced.external_key, "priority")
    assert response.json() == {"result": "unchanged"}
    synced.refresh_from_db()
    assert synced.priority == ImprovementAction.Priority.HIGH


def test_an_assignee_becomes_the_owner_matched_by_email_case_blind(
    fake_jira_cloud, synced, anonymous, responder
):
    responder.email = "Responder.Person@Example.org"
    responder.save()
    fake_jira_cloud.assign(synced.external_key, "responder.person@example.ORG")
    response = deliver(fake_jira_cloud, anonymous, synced.external_key, "assignee")
    assert response.json() == {"result": "changed"}
    synced.refresh_from_db()
    assert synced.owner == responder
    assert synced.sync_state == SyncState.SYNCED


@pytest.mark.parametrize("who", ["stranger", "inactive", "shared", "unassigned"])
def test_an_assignee_matching_no_single_active_member_leaves_the_owner(
    fake_jira_cloud, synced, anonymous, pm, who
):
    if who == "inactive":
        UserFactory(email="gone@example.org", is_active=False)
    if who == "shared":
        UserFactory(email="team@example.org")
        UserFactory(email="TEAM@example.org")
    email = {"stranger": "nobody@example.org", "inactive": "gone@example.org", "shared": "team@example.org"}
    fake_jira_cloud.assign(synced.external_key, email.get(who))
    response = deliver(fake_jira_cloud, anonymous, synced.external_key, "assignee")
    assert response.json() == {"result": "unchanged"}
    synced.refresh_from_db()
    assert synced.owner == pm


def test_an_event_that_did_not_change_the_field_does_not_carry_its_stale_value(
    fake_jira_cloud, synced, anonymous, responder, pm, django_capture_on_commit_callbacks
):
    # Assigned in Jira long ago; the owner was changed in ybiyri since (and pushed). A later event
    # about the status still shows the old assignee: it must not undo the change made here.
    fake_jira_cloud.assign(synced.external_key, responder.email, when=timezone.now() - timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        action_update(action=synced, by=pm, changes={"title": "Circuit breaker, and a budget for retries"})
    synced.refresh_from_db()
    assert synced.sync_state == SyncState.SYNCED
    fake_jira_cloud.set_status(synced.external_key, "In Progress")
    response = deliver(fake_jira_cloud, anonymous, synced.external_key, "status")
    assert response.json() == {"result": "unchanged"}
    synced.refresh_from_db()
    assert synced.owner == pm


def test_a_change_waiting_to_be_pushed_wins_over_the_trackers(fake_jira_cloud, synced, anonymous, pm):
    # Changed here, not pushed yet (as with a broker outage): an echo of the old priority from Jira
    # must not overwrite it; the push will write it there.
    action_update(action=synced, by=pm, changes={"priority": "lowest"})
    synced.refresh_from_db()
    assert synced.sync_state == SyncState.PENDING
    fake_jira_cloud.set_priority(synced.external_key, "Highest")
    response = deliver(fake_jira_cloud, anonymous, synced.external_key, "priority")
    assert response.json() == {"result": "unchanged"}
    synced.refresh_from_db()
    assert synced.priority == ImprovementAction.Priority.LOWEST


def test_the_echo_of_ybiyris_own_push_changes_nothing(
    fake_jira_cloud, synced, anonymous, pm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        action_update(action=synced, by=pm, changes={"priority": "low"})
    synced.refresh_from_db()
    assert synced.sync_state == SyncState.SYNCED
    response = deliver(fake_jira_cloud, anonymous, synced.external_key, "priority")
    assert response.json() == {"result": "unchanged"}
    assert fake_jira_cloud.issues[synced.external_key]["fields"]["priority"] == {"name": "Low"}
    synced.refresh_from_db()
    assert synced.priority == ImprovementAction.Priority.LOW


def test_a_malformed_assignee_is_refused_with_400(fake_jira_cloud, synced, anonymous):
    body = fake_jira_cloud.webhook_body(synced.external_key, changed=("assignee",))
    body = body.replace(b'"fields": {', b'"fields": {"assignee": {"emailAddress": 42}, ', 1)
    response = fake_jira_cloud.deliver_webhook(
        anonymous, synced.external_key, secret=JIRA_WEBHOOK_SECRET, body=body
    )
    assert response.status_code == 400
    assert "issue.fields.assignee.emailAddress" in response.json()["error"]


def test_an_unsigned_priority_event_is_refused(fake_jira_cloud, synced, anonymous):
    fake_jira_cloud.set_priority(synced.external_key, "Lowest")
    body = fake_jira_cloud.webhook_body(synced.external_key, changed=("priority",))
    response = fake_jira_cloud.deliver_webhook(
        anonymous, synced.external_key, body=body, signature="sha256=00"
    )
    assert response.status_code == 403
    synced.refresh_from_db()
    assert synced.priority == ImprovementAction.Priority.HIGH


def test_the_reconciler_takes_changes_made_in_jira_after_the_push(
    fake_jira, jira_team, raise_action, responder
):
    action = raise_action(priority="high")
    fake_jira.set_priority(action.external_key, "Low")
    fake_jira.assign(action.external_key, responder.email)
    assert backlog_status_reconcile_task.delay().get() == 1
    action.refresh_from_db()
    assert (action.priority, action.owner) == (ImprovementAction.Priority.LOW, responder)
    assert action.sync_state == SyncState.SYNCED
    assert backlog_status_reconcile_task.delay().get() == 0  # polling again changes nothing


def test_the_reconciler_leaves_values_older_than_the_last_push(
    fake_jira_cloud, jira_team, raise_action, responder, pm, django_capture_on_commit_callbacks
):
    action = raise_action(priority="high")
    fake_jira_cloud.assign(action.external_key, responder.email, when=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        action_update(action=action, by=pm, changes={"owner": pm, "priority": "medium"})
    assert backlog_status_reconcile_task.delay().get() == 0
    action.refresh_from_db()
    assert (action.priority, action.owner) == (ImprovementAction.Priority.MEDIUM, pm)


def test_a_priority_label_added_in_trello_comes_back(trello_team, fake_trello, raise_action, anonymous):
    action = raise_action(priority="low")
    body = fake_trello.label_webhook_body(action.external_key, "Priority: Highest")
    response = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    assert response.json() == {"result": "changed"}
    action.refresh_from_db()
    assert action.priority == ImprovementAction.Priority.HIGHEST
    assert action.status == ImprovementAction.Status.OPEN
    assert action.sync_state == SyncState.SYNCED


def test_another_trello_label_changes_nothing(trello_team, fake_trello, raise_action, anonymous):
    action = raise_action(priority="low")
    body = fake_trello.label_webhook_body(action.external_key, "frontend")
    response = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    assert response.json()["result"] == "ignored"
    action.refresh_from_db()
    assert action.priority == ImprovementAction.Priority.LOW
