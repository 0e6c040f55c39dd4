"""Pushing actions to Jira through the real `jira` client over HTTP to the emulator, as Cloud and as
Data Center, including the faults the issue asks for."""

import pytest

from incidents.models import AuditEntry
from reviews.backlog.errors import PermanentTrackerError, TransientTrackerError
from reviews.backlog.jira import JiraTracker
from reviews.backlog.tasks import action_push_task
from reviews.models import ImprovementAction
from reviews.services.actions import action_update
from tests.factories import NarrativeFactory

SyncState = ImprovementAction.SyncState
CREATE = r"/rest/api/\d/issue/?$"


def test_push_creates_one_issue_with_summary_labels_priority_and_links(fake_jira, jira_team, raise_action):
    NarrativeFactory(incident=jira_team.incidents.get(), title="When checkout timed out")
    action = raise_action(priority="highest")
    assert action.sync_state == SyncState.SYNCED, action.sync_error
    assert action.external_key == "PAY-1"
    assert action.external_url == f"{fake_jira.url}/browse/PAY-1"
    assert action.synced_at is not None
    (issue,) = fake_jira.issues.values()
    fields = issue["fields"]
    assert fields["summary"] == "Add a circuit breaker to the payment client"
    assert fields["project"]["key"] == "PAY"
    assert fields["issuetype"]["name"] == "Task"
    assert fields["priority"] == {"name": "Highest"}
    assert fields["labels"] == ["ybiyri", "technical", action.idempotency_label]
    incident = action.incident
    assert f"https://ybiyri.example.org/incidents/{incident.pk}/" in fields["description"]
    assert f"https://ybiyri.example.org/narratives/{incident.narrative.pk}/" in fields["description"]
    assert "Stop the retry storm at the source." in fields["description"]


def test_cloud_searches_the_new_jql_endpoint_and_data_center_the_legacy_one(
    fake_jira, jira_team, raise_action
):
    # The first attempt has nothing to look up; its retry looks the label up.
    fake_jira.fail_next(1, status=503, method="POST", path=CREATE)
    raise_action()
    new_search = fake_jira.requests_to("GET", r"/search/jql$")
    legacy_search = fake_jira.requests_to("GET", r"/search$")
    if fake_jira.deployment == "Cloud":
        assert len(new_search) == 1
        assert legacy_search == []
    else:
        assert new_search == []
        assert len(legacy_search) == 1
    searched = (new_search or legacy_search)[0]
    assert "labels" in searched.query["jql"][0]


def test_team_priority_map_and_extra_fields_are_sent(fake_jira, jira_team, raise_action):
    jira_team.jira_priority_map = {"high": "Highest"}
    jira_team.jira_extra_fields = {"components": [{"name": "API"}], "customfield_10010": "payments"}
    jira_team.jira_issue_type = "Bug"
    jira_team.save()
    raise_action(priority="high")
    (issue,) = fake_jira.issues.values()
    assert issue["fields"]["priority"] == {"name": "Highest"}
    assert issue["fields"]["components"] == [{"name": "API"}]
    assert issue["fields"]["customfield_10010"] == "payments"
    assert issue["fields"]["issuetype"]["name"] == "Bug"


def test_editing_a_synced_action_updates_the_same_issue(
    fake_jira, jira_team, raise_action, pm, django_capture_on_commit_callbacks
):
    action = raise_action()
    with django_capture_on_commit_callbacks(execute=True):
        action_update(
            action=action, by=pm, changes={"title": "Circuit breaker with a retry budget", "priority": "low"}
        )
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_jira.issues) == 1
    issue = fake_jira.issues["PAY-1"]
    assert issue["fields"]["summary"] == "Circuit breaker with a retry budget"
    assert issue["fields"]["priority"] == {"name": "Low"}
    assert len(fake_jira.requests_to("PUT", r"/issue/")) == 1


def test_a_5xx_then_success_creates_exactly_one_issue(fake_jira, jira_team, raise_action, retries):
    fake_jira.fail_next(
        1, status=503, method="POST", path=CREATE, body={"errorMessages": ["Try again later"]}
    )
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert action.sync_attempts == 2
    assert len(fake_jira.issues_with_label(action.idempotency_label)) == 1
    assert len(retries) == 1


def test_a_5xx_on_the_label_lookup_is_retried_too(fake_jira, jira_team, raise_action):
    # The first attempt fails on the create; the retries look the label up first.
    fake_jira.fail_next(1, status=503, method="POST", path=CREATE)
    fake_jira.fail_next(2, status=500, method="GET", path=r"/search")
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert action.sync_attempts == 4
    assert len(fake_jira.issues) == 1


def test_the_jira_client_does_not_retry_on_its_own(fake_jira, jira_team, raise_action):
    # One 503 and one 429 with Retry-After: the library would sleep and retry both itself.
    fake_jira.fail_next(1, status=503, method="POST", path=CREATE, headers={"Retry-After": "1"})
    raise_action()
    assert len(fake_jira.requests_to("POST", CREATE)) == 2  # one refused, one by the task's retry


def test_429_retry_after_sets_the_retry_countdown(fake_jira, jira_team, raise_action, retries):
    fake_jira.fail_next(
        1,
        status=429,
        method="POST",
        path=CREATE,
        headers={"Retry-After": "97"},
        body={"errorMessages": ["Rate limited"]},
    )
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert retries == [97]  # the first backoff is 5–10 s: Retry-After wins


def test_a_permanent_400_fails_with_jiras_message_and_no_retry(fake_jira, jira_team, raise_action, retries):
    jira_team.jira_priority_map = {"high": "Urgent"}
    jira_team.save()
    action = raise_action(priority="high")
    assert action.sync_state == SyncState.FAILED
    assert "Priority name 'Urgent' is not valid" in action.sync_error
    assert action.sync_error.startswith("Jira (HTTP 400)")
    assert action.sync_attempts == 1
    assert len(fake_jira.requests_to("POST", CREATE)) == 1
    assert retries == []
    assert fake_jira.issues == {}
    assert AuditEntry.objects.filter(verb="action.sync_failed").exists()


def test_an_unknown_project_fails_permanently(fake_jira, jira_team, raise_action):
    jira_team.jira_project_key = "NOPE"
    jira_team.save()
    action = raise_action()
    assert action.sync_state == SyncState.FAILED
    assert "project" in action.sync_error


def test_bad_credentials_fail_permanently(fake_jira, jira_team, raise_action, settings):
    settings.JIRA_API_TOKEN = "wrong"
    action = raise_action()
    assert action.sync_state == SyncState.FAILED
    assert "HTTP 401" in action.sync_error


def test_a_tracker_that_never_recovers_fails_after_the_cap(
    fake_jira, jira_team, raise_action, retries, settings
):
    settings.OUTBOX_MAX_ATTEMPTS = MAX_SYNC_ATTEMPTS = 4
    fake_jira.fail_next(50, status=502, method="POST", path=CREATE)
    action = raise_action()
    assert action.sync_state == SyncState.FAILED
    assert action.sync_attempts == MAX_SYNC_ATTEMPTS
    assert f"gave up after {MAX_SYNC_ATTEMPTS} attempts" in action.sync_error
    assert len(fake_jira.requests_to("POST", CREATE)) == MAX_SYNC_ATTEMPTS
    assert len(retries) == MAX_SYNC_ATTEMPTS - 1


def test_a_crash_between_create_and_save_still_makes_one_issue(fake_jira, jira_team, raise_action):
    # Jira creates the issue, then the connection dies before the key reaches the worker.
    fake_jira.drop_after_next(method="POST", path=CREATE)
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_jira.issues_with_label(action.idempotency_label)) == 1
    assert action.external_key == "PAY-1"
    assert len(fake_jira.requests_to("POST", CREATE)) == 1


def test_a_delivery_that_finds_the_row_claimed_does_nothing(fake_jira, jira_team, raise_action):
    action = raise_action()
    ImprovementAction.objects.filter(pk=action.pk).update(sync_state=SyncState.SYNCING)
    before = len(fake_jira.requests)
    action_push_task.delay(action.pk)
    assert len(fake_jira.requests) == before
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCING


def test_transient_errors_carry_retry_after_from_the_real_client(fake_jira, jira_team, raise_action):
    action = raise_action()
    tracker = JiraTracker.for_team(jira_team)
    fake_jira.fail_next(1, status=429, headers={"Retry-After": "12"})
    with pytest.raises(TransientTrackerError) as raised:
        tracker.fetch_status(action.external_key)
    assert raised.value.retry_after == 12
    with pytest.raises(PermanentTrackerError) as missing:
        tracker.fetch_status("PAY-999")
    assert "does not exist" in missing.value.message


def test_a_jira_that_is_down_is_a_transient_error(jira_team, settings, raise_action):
    settings.JIRA_URL = "http://127.0.0.1:9"  # discard port: nothing listens
    settings.JIRA_PROJECT_KEY = "OPS"
    from reviews.backlog.jira import jira_clients_reset

    jira_clients_reset()
    with pytest.raises(TransientTrackerError):
        JiraTracker.for_team(jira_team).fetch_status("PAY-1")


def test_jira_not_configured_fails_with_the_variable_to_set(jira_team, settings, raise_action):
    settings.JIRA_URL = ""
    action = raise_action()
    assert action.sync_state == SyncState.FAILED
    assert "JIRA_URL" in action.sync_error


def test_an_edit_made_while_the_issue_is_being_created_is_pushed_next(
    transactional_db, fake_jira_cloud, jira_team, incident, pm
):
    from reviews.services.actions import action_raise

    def edit_during_create(method, path):
        if method == "POST" and path.endswith("/issue"):
            fake_jira_cloud.on_request = None
            # Someone renames the action while the worker waits for Jira.
            action_update(
                action=ImprovementAction.objects.get(), by=pm, changes={"title": "Renamed mid-push"}
            )

    fake_jira_cloud.on_request = edit_during_create
    action = action_raise(
        incident=incident,
        review=None,
        by=pm,
        title="Original title",
        description="",
        kind="technical",
        owner=None,
        priority="medium",
        due_date=None,
    )
    action.refresh_from_db()
    assert action.sync_state == SyncState.SYNCED
    assert action.title == "Renamed mid-push"
    assert len(fake_jira_cloud.issues) == 1
    assert fake_jira_cloud.issues["PAY-1"]["fields"]["summary"] == "Renamed mid-push"


def test_pushes_share_one_client_until_the_credentials_change(
    fake_jira_cloud, jira_team, raise_action, settings
):
    from reviews.backlog.jira import jira_client

    raise_action(title="First")
    client = jira_client()
    raise_action(title="Second")
    assert jira_client() is client
    token, settings.JIRA_API_TOKEN = settings.JIRA_API_TOKEN, "revoked"
    # The cached client is not used with other credentials: Jira refuses the new ones.
    assert raise_action(title="Third").sync_error.startswith("Jira (HTTP 401)")
    settings.JIRA_API_TOKEN = token
    assert jira_client() is client
