"""PagerDuty v3 webhooks name people by user id and name, without an email: with
PAGERDUTY_API_TOKEN they are looked up through PagerDuty's REST API (the emulator, over real HTTP),
once per user id, and proposed as responders; without it, or while PagerDuty does not answer, the
page is recorded all the same and only a name that is an address is matched."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from incidents.models import Incident
from tests.fakes.pagers import FakePagerDuty, pagerduty_event, pagerduty_request
from tests.incidents.evidence.conftest import PAGERDUTY_SECRET

pytestmark = pytest.mark.django_db

OMAR = ("PABC123", "Omar Call")


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def pagerduty_api(settings):
    emulator = FakePagerDuty().start()
    emulator.add_user(OMAR[0], name=OMAR[1], email="omar.call@example.org")
    settings.PAGERDUTY_API_TOKEN = emulator.token
    settings.PAGERDUTY_API_URL = emulator.url
    yield emulator
    emulator.stop()


def deliver(client, event_type: str, *, minutes: int = 0, **people):
    payload = pagerduty_event(
        event_type, occurred_at=timezone.now() - timedelta(hours=1) + timedelta(minutes=minutes), **people
    )
    body, headers = pagerduty_request(payload, PAGERDUTY_SECRET)
    response = client.post(
        "/integrations/pagerduty/webhook/", data=body, content_type="application/json", **headers
    )
    assert response.status_code == 200, response.content
    return response


def proposed(page_id: str = "PGR0VU2") -> list:
    return [responder.user for responder in Incident.objects.get(external_id=page_id).responders.all()]


def test_an_assignee_named_by_id_is_looked_up_and_proposed(client, mapped_service, on_call, pagerduty_api):
    deliver(client, "incident.triggered", assignees=(OMAR,))

    assert proposed() == [on_call]
    (lookup,) = pagerduty_api.requests_to("GET", r"^/users/PABC123$")
    assert lookup.headers["Authorization"] == f"Token token={pagerduty_api.token}"


def test_who_acknowledged_is_looked_up_once_per_user_then_read_from_the_cache(
    client, mapped_service, on_call, pagerduty_api
):
    deliver(client, "incident.triggered", assignees=(OMAR,))
    deliver(client, "incident.acknowledged", minutes=2, agent=OMAR)
    deliver(client, "incident.reassigned", minutes=5, assignees=(OMAR,))

    assert len(pagerduty_api.requests_to("GET", r"^/users/")) == 1
    assert proposed() == [on_call]


def test_a_name_that_is_an_address_needs_no_lookup(client, mapped_service, on_call, pagerduty_api):
    deliver(client, "incident.triggered", assignee_emails=("omar.call@example.org",))

    assert proposed() == [on_call]
    assert pagerduty_api.requests_to("GET", r"^/users/") == []


def test_without_a_token_people_are_matched_by_a_name_that_is_an_address_only(
    client, settings, mapped_service, on_call, pagerduty_api
):
    settings.PAGERDUTY_API_TOKEN = ""

    deliver(client, "incident.triggered", assignees=(OMAR,))
    deliver(client, "incident.acknowledged", minutes=2, agent_email="omar.call@example.org")

    assert pagerduty_api.requests_to("GET", r"^/users/") == []
    assert proposed() == [on_call]


def test_a_user_pagerduty_does_not_know_is_not_proposed_and_not_asked_about_again(
    client, mapped_service, on_call, pagerduty_api
):
    deliver(client, "incident.triggered", assignees=(("PGONE99", "Left the company"),))
    deliver(client, "incident.acknowledged", minutes=2, agent=("PGONE99", "Left the company"))

    assert proposed() == []
    assert len(pagerduty_api.requests_to("GET", r"^/users/PGONE99$")) == 1


@pytest.mark.parametrize(
    "failure",
    [
        {"status": 503},
        {"status": 429, "headers": {"Retry-After": "30"}},
        {"status": 500, "body": "<html>oops</html>"},
    ],
    ids=["unavailable", "rate-limited", "not-json"],
)
def test_pagerduty_failing_costs_the_proposal_not_the_page_and_is_asked_again_next_time(
    client, mapped_service, on_call, pagerduty_api, failure
):
    pagerduty_api.fail_next(path="/users/", **failure)

    response = deliver(client, "incident.triggered", assignees=(OMAR,))

    assert response.json()["result"] == "opened"
    assert proposed() == []
    deliver(client, "incident.acknowledged", minutes=2, agent=OMAR)
    assert proposed() == [on_call]
    assert len(pagerduty_api.requests_to("GET", r"^/users/PABC123$")) == 2


def test_a_wrong_api_key_records_the_page_without_proposing_anyone(
    client, settings, mapped_service, on_call, pagerduty_api
):
    settings.PAGERDUTY_API_TOKEN = "not-the-key"

    response = deliver(client, "incident.triggered", assignees=(OMAR,))

    assert response.json()["result"] == "opened"
    assert proposed() == []
    assert pagerduty_api.requests_to("GET", r"^/users/PABC123$")[0].status == 401


def test_pagerduty_out_of_reach_records_the_page(client, settings, mapped_service, on_call, pagerduty_api):
    pagerduty_api.stop()

    response = deliver(client, "incident.triggered", assignees=(OMAR,))

    assert response.json()["result"] == "opened"
    assert proposed() == []


def test_a_replayed_delivery_is_refused_before_anyone_is_looked_up(client, mapped_service, pagerduty_api):
    payload = pagerduty_event(
        "incident.triggered", occurred_at=timezone.now() - timedelta(days=3), assignees=(OMAR,)
    )
    body, headers = pagerduty_request(payload, PAGERDUTY_SECRET)

    response = client.post(
        "/integrations/pagerduty/webhook/", data=body, content_type="application/json", **headers
    )

    assert response.status_code == 403
    assert pagerduty_api.requests_to("GET", r"^/users/") == []
