"""Jira's time tracking comes back as the action's effort, through the webhooks and the status
reconciler, wherever nobody has entered it here; what a person enters wins."""

from decimal import Decimal

import pytest
from django.test import Client

from incidents.models import AuditEntry
from reviews.backlog.jira import jira_hours
from reviews.backlog.tasks import backlog_status_reconcile_task
from reviews.models import ImprovementAction
from reviews.services.effort import action_effort_set
from tests.reviews.backlog.conftest import JIRA_WEBHOOK_SECRET
from ybiyri.payload import MalformedPayload

SyncState = ImprovementAction.SyncState


@pytest.fixture
def anonymous():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def synced(fake_jira_cloud, jira_team, raise_action):
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    return action


def deliver(fake, client, key, *changed):
    body = fake.webhook_body(key, changed=changed)
    return fake.deliver_webhook(client, key, secret=JIRA_WEBHOOK_SECRET, body=body)


def effort(action: ImprovementAction) -> tuple:
    action.refresh_from_db()
    return (
        action.effort_estimate_hours,
        action.effort_actual_hours,
        action.effort_estimate_from_tracker,
        action.effort_actual_from_tracker,
    )


def test_time_tracked_in_jira_becomes_the_effort_without_a_push(
    fake_jira_cloud, synced, anonymous, django_capture_on_commit_callbacks
):
    fake_jira_cloud.track_time(synced.external_key, estimate_seconds=5400, logged_seconds=7200)
    with django_capture_on_commit_callbacks() as callbacks:
        response = deliver(fake_jira_cloud, anonymous, synced.external_key, "timespent")
    assert response.json() == {"result": "changed"}
    assert effort(synced) == (Decimal("1.50"), Decimal("2.00"), True, True)
    assert synced.sync_state == SyncState.SYNCED
    assert callbacks == []
    entry = AuditEntry.objects.get(verb="action.effort_from_tracker")
    assert entry.actor is None
    assert entry.changes["effort_actual_hours"] == ["None", "2.00"]
    # The same event again changes nothing.
    assert deliver(fake_jira_cloud, anonymous, synced.external_key, "timespent").json() == {
        "result": "unchanged"
    }


def test_work_logged_later_keeps_the_trackers_value_up_to_date_through_the_reconciler(
    fake_jira, jira_team, raise_action
):
    action = raise_action()
    fake_jira.track_time(action.external_key, logged_seconds=3600)
    assert backlog_status_reconcile_task.delay().get() == 1
    assert effort(action) == (None, Decimal("1.00"), False, True)
    fake_jira.track_time(action.external_key, logged_seconds=1800)
    assert backlog_status_reconcile_task.delay().get() == 1
    assert effort(action) == (None, Decimal("1.50"), False, True)
    assert backlog_status_reconcile_task.delay().get() == 0


def test_what_a_person_entered_wins_over_the_tracker(fake_jira_cloud, synced, anonymous, pm):
    action_effort_set(action=synced, by=pm, effort_actual_hours=Decimal("10"))
    fake_jira_cloud.track_time(synced.external_key, estimate_seconds=3600, logged_seconds=7200)
    deliver(fake_jira_cloud, anonymous, synced.external_key, "timespent", "timeoriginalestimate")
    # The estimate nobody entered comes from Jira; the hours entered here stay.
    assert effort(synced) == (Decimal("1.00"), Decimal("10.00"), True, False)


def test_entering_the_trackers_own_value_keeps_it_as_entered(fake_jira_cloud, synced, anonymous, pm):
    fake_jira_cloud.track_time(synced.external_key, logged_seconds=7200)
    deliver(fake_jira_cloud, anonymous, synced.external_key, "timespent")
    action_effort_set(action=synced, by=pm, effort_actual_hours=Decimal("2.00"))
    fake_jira_cloud.track_time(synced.external_key, logged_seconds=3600)
    deliver(fake_jira_cloud, anonymous, synced.external_key, "timespent")
    assert effort(synced) == (None, Decimal("2.00"), False, False)


def test_clearing_an_entered_value_hands_it_back_to_the_tracker(fake_jira_cloud, synced, anonymous, pm):
    action_effort_set(action=synced, by=pm, effort_actual_hours=Decimal("10"))
    action_effort_set(action=synced, by=pm, effort_actual_hours=None)
    fake_jira_cloud.track_time(synced.external_key, logged_seconds=900)
    deliver(fake_jira_cloud, anonymous, synced.external_key, "timespent")
    assert effort(synced) == (None, Decimal("0.25"), False, True)


def test_an_issue_without_time_tracking_leaves_the_effort_alone(fake_jira_cloud, synced, anonymous, pm):
    action_effort_set(action=synced, by=pm, effort_estimate_hours=Decimal("3"))
    assert deliver(fake_jira_cloud, anonymous, synced.external_key, "status").json() == {
        "result": "unchanged"
    }
    assert effort(synced) == (Decimal("3.00"), None, False, False)


def test_malformed_time_tracking_is_refused_with_400(fake_jira_cloud, synced, anonymous):
    body = fake_jira_cloud.webhook_body(synced.external_key, changed=("timespent",))
    assert b'"timespent": null' in body
    body = body.replace(b'"timespent": null', b'"timespent": "2h"', 1)
    response = fake_jira_cloud.deliver_webhook(
        anonymous, synced.external_key, secret=JIRA_WEBHOOK_SECRET, body=body
    )
    assert response.status_code == 400
    assert "issue.fields.timespent" in response.json()["error"]
    assert effort(synced) == (None, None, False, False)


@pytest.mark.parametrize(
    ("seconds", "hours"),
    [(None, None), (0, Decimal("0.00")), (5400, Decimal("1.50")), (100, Decimal("0.03")), (4e8, None)],
)
def test_jira_seconds_read_as_hours(seconds, hours):
    assert jira_hours(seconds, name="timespent") == hours


@pytest.mark.parametrize("seconds", ["2h", -60, True, float("nan"), [3600]])
def test_jira_seconds_that_are_no_duration_are_malformed(seconds):
    with pytest.raises(MalformedPayload, match="timespent must be a number of seconds"):
        jira_hours(seconds, name="timespent")
