import pytest

from tests.factories import UserFactory
from tests.fakes.slack import FakeSlack

PAGERDUTY_SECRET = "pd-secret-for-tests"
OPSGENIE_TOKEN = "og-token-for-tests"
ALERTMANAGER_TOKEN = "am-token-for-tests"


@pytest.fixture(autouse=True)
def _pager_settings(settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = PAGERDUTY_SECRET
    settings.OPSGENIE_WEBHOOK_TOKEN = OPSGENIE_TOKEN
    settings.ALERTMANAGER_WEBHOOK_TOKEN = ALERTMANAGER_TOKEN


@pytest.fixture
def mapped_service(service):
    service.pagerduty_service_ids = ["PF9KMXH"]
    service.opsgenie_teams = ["checkout"]
    service.alertmanager_matchers = ["service=checkout-api", "env=prod"]
    service.save()
    return service


@pytest.fixture
def on_call(team):
    user = UserFactory(username="oncall", first_name="Omar", last_name="Call", email="Omar.Call@example.org")
    team.members.add(user)
    return user


@pytest.fixture
def slack(settings):
    emulator = FakeSlack().start()
    settings.SLACK_BOT_TOKEN = emulator.token
    settings.SLACK_API_URL = f"{emulator.url}/api"
    yield emulator
    emulator.stop()
