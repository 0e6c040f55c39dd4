"""The action services: validation, the outbox (pending sync recorded with the change, enqueued on
commit), status rules and the audit trail."""

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from incidents.models import AuditEntry, Team
from reviews.models import ImprovementAction
from reviews.services.actions import (
    action_raise,
    action_retry_sync,
    action_update,
)
from tests.factories import IncidentFactory, ReviewFactory, UserFactory

SyncState = ImprovementAction.SyncState


def raise_kwargs(incident, by, **overrides):
    values = {
        "incident": incident,
        "review": None,
        "by": by,
        "title": "Add a circuit breaker",
        "description": "Stop the retry storm.",
        "kind": "technical",
        "owner": None,
        "priority": "medium",
        "due_date": None,
    }
    values.update(overrides)
    return values


@pytest.fixture
def jira_configured_team(team, settings):
    # No emulator here: these tests stop at the outbox and never run the push.
    team.tracker = Team.Tracker.JIRA
    team.save()
    return team


def test_raising_an_action_records_a_pending_sync_and_enqueues_only_on_commit(
    incident, pm, jira_configured_team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        action = action_raise(**raise_kwargs(incident, pm, due_date=date(2027, 1, 15)))
        stored = ImprovementAction.objects.get(pk=action.pk)
        assert stored.sync_state == SyncState.PENDING
        assert stored.tracker == "jira"
        assert stored.sync_requested_at is not None
        assert stored.due_date == date(2027, 1, 15)
    assert len(callbacks) == 1


def test_team_without_tracker_keeps_actions_not_synced(incident, pm, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        action = action_raise(**raise_kwargs(incident, pm))
    assert action.sync_state == SyncState.NOT_SYNCED
    assert action.tracker == ""
    assert callbacks == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"kind": "organisational"}, "kind"),
        ({"priority": "urgent"}, "priority"),
        ({"description": "x" * 10001}, "description"),
    ],
)
def test_bad_input_is_refused_with_a_field_error(incident, pm, overrides, field):
    with pytest.raises(ValidationError) as raised:
        action_raise(**raise_kwargs(incident, pm, **overrides))
    assert field in raised.value.message_dict
    assert not ImprovementAction.objects.exists()


def test_an_inactive_owner_is_refused(incident, pm):
    gone = UserFactory(username="gone", is_active=False)
    with pytest.raises(ValidationError) as raised:
        action_raise(**raise_kwargs(incident, pm, owner=gone))
    assert "not an active member" in raised.value.message_dict["owner"][0]


def test_a_review_of_another_incident_is_refused(incident, pm):
    other_review = ReviewFactory(incident=IncidentFactory(team=incident.team, service=incident.service))
    with pytest.raises(ValidationError) as raised:
        action_raise(**raise_kwargs(incident, pm, review=other_review))
    assert "review" in raised.value.message_dict


def test_raising_writes_an_audit_entry(incident, pm):
    action = action_raise(**raise_kwargs(incident, pm))
    entry = AuditEntry.objects.get(verb="action.raised")
    assert entry.actor == pm
    assert entry.target_id == str(action.pk)
    assert entry.team == incident.team


def test_update_changes_only_the_given_fields_and_requests_a_sync(
    incident, pm, jira_configured_team, django_capture_on_commit_callbacks
):
    action = action_raise(**raise_kwargs(incident, pm, priority="low"))
    ImprovementAction.objects.filter(pk=action.pk).update(sync_state=SyncState.SYNCED, external_key="PAY-1")
    action.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        updated = action_update(
            action=action, by=pm, changes={"title": "Add a circuit breaker, with a budget"}
        )
    assert updated.title == "Add a circuit breaker, with a budget"
    assert updated.priority == "low"
    assert updated.sync_state == SyncState.PENDING
    assert updated.external_key == "PAY-1"
    assert len(callbacks) == 1
    entry = AuditEntry.objects.get(verb="action.updated")
    assert entry.changes == {"title": ["Add a circuit breaker", "Add a circuit breaker, with a budget"]}


def test_update_with_nothing_changed_writes_nothing(
    incident, pm, jira_configured_team, django_capture_on_commit_callbacks
):
    action = action_raise(**raise_kwargs(incident, pm))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        action_update(action=action, by=pm, changes={"title": action.title, "priority": action.priority})
    assert callbacks == []
    assert not AuditEntry.objects.filter(verb="action.updated").exists()


def test_an_edit_while_a_push_is_in_flight_leaves_it_to_the_worker(
    incident, pm, jira_configured_team, django_capture_on_commit_callbacks
):
    action = action_raise(**raise_kwargs(incident, pm))
    ImprovementAction.objects.filter(pk=action.pk).update(sync_state=SyncState.SYNCING)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        updated = action_update(action=action, by=pm, changes={"owner": pm})
    # A second push now could race the first one into creating a second issue.
    assert updated.sync_state == SyncState.SYNCING
    assert callbacks == []


def test_manual_done_sets_done_at_and_reopening_clears_it(incident, pm):
    action = action_raise(**raise_kwargs(incident, pm))
    done = action_update(action=action, by=pm, changes={"status": "done"})
    assert done.status == "done"
    assert done.done_at is not None
    assert done.cost_of_delay == done.done_at - done.raised_at
    reopened = action_update(action=done, by=pm, changes={"status": "open"})
    assert reopened.done_at is None
    entries = list(AuditEntry.objects.order_by("id").values_list("verb", "changes"))
    assert entries[-2:] == [
        ("action.updated", {"status": ["open", "done"]}),
        ("action.updated", {"status": ["done", "open"]}),
    ]


def test_status_of_a_tracked_action_follows_the_tracker(incident, pm, jira_configured_team):
    action = action_raise(**raise_kwargs(incident, pm))
    with pytest.raises(ValidationError) as raised:
        action_update(action=action, by=pm, changes={"status": "done"})
    assert "Jira" in raised.value.message_dict["status"][0]


def test_unknown_status_is_refused(incident, pm):
    action = action_raise(**raise_kwargs(incident, pm))
    with pytest.raises(ValidationError) as raised:
        action_update(action=action, by=pm, changes={"status": "abandoned"})
    assert "status" in raised.value.message_dict


def test_retry_requeues_a_failed_push(incident, pm, jira_configured_team, django_capture_on_commit_callbacks):
    action = action_raise(**raise_kwargs(incident, pm))
    ImprovementAction.objects.filter(pk=action.pk).update(
        sync_state=SyncState.FAILED, sync_error="Jira (HTTP 400): priority: bad", sync_attempts=1
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        retried = action_retry_sync(action=action, by=pm)
    assert retried.sync_state == SyncState.PENDING
    assert retried.sync_error == ""
    assert retried.sync_attempts == 0
    assert len(callbacks) == 1
    assert AuditEntry.objects.filter(verb="action.sync_retried", actor=pm).exists()


def test_retry_is_refused_when_the_team_keeps_no_tracker(incident, pm):
    action = action_raise(**raise_kwargs(incident, pm))
    with pytest.raises(ValidationError) as raised:
        action_retry_sync(action=action, by=pm)
    assert "sync_state" in raised.value.message_dict
