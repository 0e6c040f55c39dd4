"""Signed webhook payloads of the wrong shape are refused with a 400 naming the value, never a 500."""

import json
from datetime import UTC, datetime

import pytest
from django.test import Client

from reviews.backlog.jira import jira_webhook_issue
from reviews.backlog.trello import trello_webhook_event
from reviews.backlog.views import trello_callback_url
from tests.fakes.jira import FakeJira
from tests.fakes.trello import FakeTrello
from tests.reviews.backlog.conftest import JIRA_WEBHOOK_SECRET, TRELLO_API_SECRET
from ybiyri.payload import MalformedPayload

JIRA_WEBHOOK = "/integrations/jira/webhook/"
TRELLO_WEBHOOK = "/integrations/trello/webhook/"


def jira_event(**fields) -> dict:
    return {
        "timestamp": 1767225600000,
        "issue": {"key": "PAY-1", "fields": {"status": {"statusCategory": {"key": "done"}}, **fields}},
    }


def trello_event(**card) -> dict:
    return {"action": {"date": "2026-01-01T00:00:00.000Z", "data": {"card": {"id": "a" * 24, **card}}}}


@pytest.fixture
def signed(settings, db):
    settings.JIRA_WEBHOOK_SECRET = JIRA_WEBHOOK_SECRET
    settings.TRELLO_API_SECRET = TRELLO_API_SECRET
    client = Client(enforce_csrf_checks=True)

    def post(tracker: str, payload: object) -> object:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        if tracker == "jira":
            headers = {"X-Hub-Signature": FakeJira.signature(body, JIRA_WEBHOOK_SECRET)}
            url = JIRA_WEBHOOK
        else:
            headers = {
                "X-Trello-Webhook": FakeTrello.signature(body, trello_callback_url(), TRELLO_API_SECRET)
            }
            url = TRELLO_WEBHOOK
        return client.post(url, data=body, content_type="application/json", headers=headers)

    return post


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        (jira_event(resolutiondate=12345), "issue.fields.resolutiondate"),
        (jira_event(resolutiondate="yesterday"), "issue.fields.resolutiondate"),
        (jira_event(resolutiondate="2026-01-02T03:04:05"), "issue.fields.resolutiondate"),
        (jira_event(resolutiondate="0001-01-01T00:00:00.000+0100"), "issue.fields.resolutiondate"),
        ({**jira_event(), "timestamp": 1e30}, "timestamp"),
        ({**jira_event(), "timestamp": "1767225600000"}, "timestamp"),
        ({**jira_event(), "timestamp": True}, "timestamp"),
        ({"issue": "PAY-1"}, "issue"),
        ({"issue": {"key": 7}}, "issue.key"),
        ({"issue": {"key": ""}}, "issue.key"),
        ({"issue": {"key": "PAY-\x001"}}, "issue.key"),
        ({"issue": {"key": "PAY-\ud8001"}}, "issue.key"),
        ({"issue": {"key": "P" * 100_000}}, "issue.key"),
        ({"issue": {"key": "PAY-1", "fields": []}}, "issue.fields"),
        (jira_event(status="Done"), "issue.fields.status"),
        (jira_event(status={"statusCategory": {"key": ["done"]}}), "issue.fields.status.statusCategory.key"),
        (["issue"], "the payload"),
    ],
)
def test_a_malformed_jira_event_is_a_400_naming_the_value(signed, payload, named):
    response = signed("jira", payload)
    assert response.status_code == 400
    assert named in response.json()["error"]
    with pytest.raises(MalformedPayload, match=named):
        jira_webhook_issue(payload, server_url="https://jira.example.org")


@pytest.mark.parametrize(
    ("payload", "named"),
    [
        ({"action": "str"}, "action"),
        ({"action": {"data": "str"}}, "action.data"),
        ({"action": {"data": {"card": "str"}}}, "action.data.card"),
        (trello_event(id=12), "action.data.card.id"),
        (trello_event(id={"$ne": ""}), "action.data.card.id"),
        (trello_event(id="\x00"), "action.data.card.id"),
        (trello_event(closed="yes"), "action.data.card.closed"),
        ({"action": {"date": 1e309, "data": {"card": {"id": "a" * 24}}}}, "action.date"),
        ({"action": {"date": "2026-13-45T00:00:00Z", "data": {"card": {"id": "a" * 24}}}}, "action.date"),
        ({"action": {"data": {"card": {"id": "a" * 24}, "listAfter": "done"}}}, "action.data.listAfter"),
        (
            {"action": {"data": {"card": {"id": "a" * 24}, "listBefore": {"id": 3}}}},
            "action.data.listBefore.id",
        ),
        ("payload", "the payload"),
    ],
)
def test_a_malformed_trello_event_is_a_400_naming_the_value(signed, payload, named):
    response = signed("trello", payload)
    assert response.status_code == 400
    assert named in response.json()["error"]
    with pytest.raises(MalformedPayload, match=named):
        trello_webhook_event(payload)


@pytest.mark.parametrize("tracker", ["jira", "trello"])
@pytest.mark.parametrize("body", [b"<xml/>", b"[" * 100_000, b'{"issue": "\xff\xfe"}'])
def test_a_body_that_is_not_json_is_a_400(signed, tracker, body):
    assert signed(tracker, body).status_code == 400


def test_the_event_timestamp_dates_a_resolution_without_a_date():
    item = jira_webhook_issue(jira_event(), server_url="https://jira.example.org")
    assert item.done_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_resolution_date_is_read_in_utc():
    item = jira_webhook_issue(
        jira_event(resolutiondate="2026-01-02T03:04:05.000+0200"), server_url="https://jira.example.org"
    )
    assert item.done_at == datetime(2026, 1, 2, 1, 4, 5, tzinfo=UTC)


def test_a_signature_header_with_non_ascii_characters_is_refused(signed, settings):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        JIRA_WEBHOOK, data=b"{}", content_type="application/json", headers={"X-Hub-Signature": "sha256=\xff"}
    )
    assert response.status_code == 403
