"""Backlog fixtures: Jira (Cloud and Data Center) and Trello emulators on 127.0.0.1, teams using them."""

import pytest

from incidents.models import Team
from reviews.backlog.jira import jira_clients_reset
from reviews.services.actions import ACTION_PUSHES, action_raise
from tests.fakes.jira import FakeJira
from tests.fakes.trello import FakeTrello
from tests.ybiyri.retries import deliver_scheduled_retries

JIRA_WEBHOOK_SECRET = "jira-webhook-secret"
TRELLO_API_SECRET = "trello-app-secret"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The personas' passwords are hashed on creation; PBKDF2 would dominate these tests' run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def start_jira(settings, deployment: str) -> FakeJira:
    fake = FakeJira(deployment=deployment, projects=("OPS", "PAY")).start()
    settings.JIRA_URL = fake.url
    settings.JIRA_USER = fake.user
    settings.JIRA_API_TOKEN = fake.token
    settings.JIRA_PROJECT_KEY = "OPS"
    settings.JIRA_ISSUE_TYPE = "Task"
    settings.JIRA_WEBHOOK_SECRET = JIRA_WEBHOOK_SECRET
    jira_clients_reset()
    return fake


@pytest.fixture(params=["Cloud", "Server"], ids=["jira-cloud", "jira-data-center"])
def fake_jira(request, settings):
    """The Jira emulator, once as Cloud and once as Data Center."""
    fake = start_jira(settings, request.param)
    yield fake
    fake.stop()
    jira_clients_reset()


@pytest.fixture
def fake_jira_cloud(settings):
    fake = start_jira(settings, "Cloud")
    yield fake
    fake.stop()
    jira_clients_reset()


@pytest.fixture
def jira_team(team):
    team.tracker = Team.Tracker.JIRA
    team.jira_project_key = "PAY"
    team.save()
    return team


@pytest.fixture
def fake_trello(settings):
    fake = FakeTrello().start()
    settings.TRELLO_API_URL = fake.url
    settings.TRELLO_API_KEY = fake.api_key
    settings.TRELLO_TOKEN = fake.token
    settings.TRELLO_LIST_ID = fake.backlog_list_id
    settings.TRELLO_API_SECRET = TRELLO_API_SECRET
    yield fake
    fake.stop()


@pytest.fixture
def trello_team(team, fake_trello):
    team.tracker = Team.Tracker.TRELLO
    team.trello_list_id = fake_trello.backlog_list_id
    team.trello_done_list_id = fake_trello.done_list_id
    team.save()
    return team


@pytest.fixture
def retries() -> list[int]:
    """The delays (seconds) of the retries the pushes scheduled, filled by `raise_action`."""
    return []


@pytest.fixture
def raise_action(incident, pm, django_capture_on_commit_callbacks, retries):
    """Raise an action through the service and run what it enqueues on commit (eagerly), then each
    retry it scheduled at its due time."""

    def raise_(**overrides):
        values = {
            "incident": incident,
            "review": None,
            "by": pm,
            "title": "Add a circuit breaker to the payment client",
            "description": "Stop the retry storm at the source.",
            "kind": "technical",
            "owner": pm,
            "priority": "high",
            "due_date": None,
        }
        values.update(overrides)
        with django_capture_on_commit_callbacks(execute=True):
            action = action_raise(**values)
        retries.extend(deliver_scheduled_retries(ACTION_PUSHES))
        action.refresh_from_db()
        return action

    return raise_
