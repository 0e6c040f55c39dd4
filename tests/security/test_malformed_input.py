"""Malformed input anywhere gets a 4xx, never a 500: every query parameter of every page and API
list, and every value of the signed Jira and Trello webhooks, against a corpus of bad values.

NUL only breaks PostgreSQL, so run this module against it too:
DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> pytest tests/security/test_malformed_input.py
"""

import copy
import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from incidents.models import Team
from reviews.backlog.views import trello_callback_url
from reviews.models import ImprovementAction, Narrative
from tests.factories import IncidentFactory, KeyEventFactory, LearningThemeFactory
from tests.fakes.jira import FakeJira
from tests.fakes.trello import FakeTrello

JIRA_SECRET = "jira-webhook-secret"
TRELLO_SECRET = "trello-app-secret"
CARD_ID = "5f0c1b2a3d4e5f6a7b8c9d0e"

# Query values, already percent-encoded as they travel: some cannot be written as text at all.
QUERY_CORPUS: dict[str, str] = {
    "nul": "%00",
    "nul inside": "a%00b",
    "huge integer": "9" * 40,
    "huge negative integer": "-" + "9" * 40,
    "float overflow": "1e309",
    "negative": "-1",
    "zero": "0",
    "a JSON string": quote('"str"'),
    "a JSON object": quote('{"id": 1}'),
    "a JSON list": quote("[1, 2]"),
    "null": "null",
    "boolean": "true",
    "overlong": "x" * 100_000,
    "invalid UTF-8": "%ff%fe",
    "lone surrogate (CESU-8)": "%ed%a0%80",
    "operators": quote("' OR 1=1 --"),
}

# Pages and API lists with the query parameters each reads (and a few each might be tried with).
PAGES: dict[str, tuple[str, ...]] = {
    "/": ("page", "q"),
    "/incidents/": ("q", "team", "severity", "status", "page"),
    "/incidents/{incident}/": ("timeline_page",),
    "/incidents/{incident}/timeline/": ("timeline_page",),
    "/narratives/": ("q", "team", "service", "severity", "theme", "page"),
    "/narratives/feed/": ("q", "page"),
    "/narratives/{narrative}/revisions/": ("a", "b"),
    "/actions/": ("team", "status", "priority", "owner", "sort", "ordering", "page"),
    "/audit/": ("verb", "team", "page"),
    "/people/": ("q", "owner", "attendees"),
    "/insights/": ("days", "team", "period"),
    "/settings/": ("next",),
    "/api/users/": ("search", "username", "is_problem_manager", "ordering", "page"),
    "/api/teams/": ("slug", "tracker", "ordering", "page"),
    "/api/incidents/": (
        "search",
        "team",
        "service",
        "severity",
        "status",
        "confidential",
        "ordering",
        "cursor",
    ),
    "/api/analyses/": ("incident", "analyst", "status", "ordering", "page"),
    "/api/key-events/": ("analysis", "incident", "ordering", "cursor"),
    "/api/narratives/": ("search", "status", "team", "service", "severity", "theme", "ordering", "page"),
    "/api/actions/": ("team", "status", "priority", "owner", "incident", "ordering", "page"),
    "/api/deliveries/": ("narrative", "publication", "channel", "state", "ordering", "page"),
    "/api/incidents/{incident}/timeline/": ("page",),
}

# JSON values for webhook payloads; INVALID_UTF8 is swapped for raw bytes once encoded.
INVALID_UTF8 = "__invalid_utf8__"
JSON_CORPUS: dict[str, Any] = {
    "nul": "\x00",
    "huge integer": 10**40,
    "huge integer as text": "9" * 40,
    "huge float": 1e30,
    "infinity": float("inf"),
    "negative": -1,
    "string": "str",
    "object": {"a": 1},
    "list": [1, "two"],
    "null": None,
    "boolean": True,
    "overlong": "x" * 100_000,
    "lone surrogate": "\ud800",
    "invalid UTF-8": INVALID_UTF8,
}


@pytest.fixture
def organisation(problem_manager, pm, incident, team):
    """Something behind every page: an incident with a key event, a published narrative, an action."""
    KeyEventFactory(analysis__responder__incident=incident)
    theme = LearningThemeFactory(name="Alert fatigue")
    narrative = Narrative.objects.create(
        incident=incident,
        title="Checkout timeouts",
        body="What happened.",
        status=Narrative.Status.PUBLISHED,
        created_by=pm,
    )
    team.tracker = Team.Tracker.JIRA
    team.save()
    ImprovementAction.objects.create(
        incident=incident,
        title="Add a circuit breaker",
        kind="technical",
        raised_by=pm,
        tracker=Team.Tracker.JIRA,
        sync_state=ImprovementAction.SyncState.SYNCED,
        external_key="PAY-1",
    )
    return {"incident": incident.pk, "narrative": narrative.pk, "theme": theme.pk}


def signed_in(user) -> Client:
    # A 500 comes back as a response to assert on, not as the view's exception.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def server_errors(client: Client, url: str, params: tuple[str, ...]) -> list[str]:
    errors = []
    for param in params:
        for label, value in QUERY_CORPUS.items():
            response = client.get(f"{url}?{param}={value}")
            if response.status_code >= 500:
                errors.append(f"{url}?{param}= {label}: {response.status_code}")
    return errors


@pytest.mark.parametrize("page", list(PAGES))
def test_no_query_parameter_value_gives_a_server_error(organisation, problem_manager, page):
    url = page.format(**organisation)
    assert server_errors(signed_in(problem_manager), url, PAGES[page]) == []


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/incidents/?team=" + "9" * 40 + "&severity=sev2", "Team"),
        ("/narratives/?theme=1e309&q=checkout", "Theme"),
        ("/actions/?priority=urgent&status=open", "Priority"),
    ],
)
def test_a_filter_not_understood_is_ignored_with_a_message(organisation, problem_manager, url, named):
    response = signed_in(problem_manager).get(url)
    assert response.status_code == 200
    assert f"Filters not understood, so ignored: {named}." in response.content.decode()


def test_nul_in_a_query_parameter_is_a_400_page(organisation, problem_manager):
    response = signed_in(problem_manager).get("/people/?q=%00")
    assert response.status_code == 400
    assert b"Bad request" in response.content
    assert b"cannot be stored" in response.content


def test_nul_in_an_api_query_parameter_is_a_json_400(organisation, problem_manager):
    response = signed_in(problem_manager).get("/api/incidents/?search=%00")
    assert response.status_code == 400
    assert "cannot be stored" in response.json()["detail"]


def test_invalid_utf8_in_a_query_parameter_is_a_400(organisation, problem_manager):
    assert signed_in(problem_manager).get("/audit/?verb=%ff%fe").status_code == 400


def test_nul_in_the_path_is_a_400(organisation, problem_manager):
    assert signed_in(problem_manager).get("/narratives/feed/a%00b/").status_code == 400


def test_invalid_utf8_in_the_path_names_nothing(organisation, problem_manager):
    # As a WSGI server hands it over: the percent-decoded bytes, each as one ISO-8859-1 character.
    raw_path = "/narratives/feed/\xff\xfe/"
    response = signed_in(problem_manager).get("/narratives/feed/x/", PATH_INFO=raw_path)
    assert response.status_code == 404


def test_nul_in_a_form_field_is_a_400(organisation, pm):
    response = signed_in(pm).post("/settings/", {"broadcast_opt_out": "on\x00"})
    assert response.status_code == 400


def test_invalid_utf8_in_a_form_is_a_400(organisation, pm):
    response = signed_in(pm).post(
        "/settings/", data=b"broadcast_opt_out=%ff%fe", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400


def test_a_form_with_more_fields_than_django_takes_is_a_json_400_on_the_api(organisation, pm):
    body = "&".join(f"factors={number}" for number in range(2000)).encode()
    response = signed_in(pm).post(
        "/api/learnings/", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "DATA_UPLOAD_MAX_NUMBER_FIELDS" in response.json()["detail"]


def test_nul_in_a_query_parameter_is_refused_before_sign_in(db):
    response = Client().get("/incidents/?q=%00")
    assert response.status_code == 400


# --- webhooks ------------------------------------------------------------------------------

JIRA_EVENT = {
    "timestamp": 1767225600000,
    "webhookEvent": "jira:issue_updated",
    "issue_event_type_name": "issue_generic",
    "user": {"displayName": "Jira person"},
    "issue": {
        "id": "10001",
        "key": "PAY-1",
        "fields": {
            "status": {"name": "Done", "statusCategory": {"key": "done"}},
            "resolutiondate": "2026-01-02T03:04:05.000+0000",
            "labels": ["ybiyri"],
        },
    },
    "changelog": {"items": [{"field": "status"}]},
}
TRELLO_EVENT = {
    "action": {
        "id": "6a" * 12,
        "type": "updateCard",
        "date": "2026-01-01T00:00:00.000Z",
        "data": {
            "card": {"id": CARD_ID, "closed": True, "shortLink": "abcd1234", "idList": "list"},
            "listBefore": {"id": "b" * 24, "name": "Backlog"},
            "listAfter": {"id": "c" * 24, "name": "Done"},
            "old": {"closed": False},
        },
        "memberCreator": {"username": "someone"},
    },
    "model": {"id": "d" * 24},
}


def value_paths(payload: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path in the payload, the whole payload included (the empty path)."""
    paths = [prefix]
    if isinstance(payload, dict):
        for key, value in payload.items():
            paths.extend(value_paths(value, (*prefix, key)))
    elif isinstance(payload, list):
        for index, value in enumerate(payload):
            paths.extend(value_paths(value, (*prefix, index)))
    return paths


def with_value(payload: Any, path: tuple, value: Any) -> bytes:
    if not path:
        changed = value
    else:
        changed = copy.deepcopy(payload)
        target = changed
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return json.dumps(changed).encode().replace(f'"{INVALID_UTF8}"'.encode(), b'"\xff\xfe"')


def post_signed(client: Client, tracker: str, body: bytes):
    if tracker == "jira":
        headers = {"X-Hub-Signature": FakeJira.signature(body, JIRA_SECRET)}
    else:
        headers = {"X-Trello-Webhook": FakeTrello.signature(body, trello_callback_url(), TRELLO_SECRET)}
    return client.post(
        f"/integrations/{tracker}/webhook/", data=body, content_type="application/json", headers=headers
    )


@pytest.fixture
def trackers(settings, organisation, other_team, pm):
    settings.JIRA_WEBHOOK_SECRET = JIRA_SECRET
    settings.TRELLO_API_SECRET = TRELLO_SECRET
    other_team.tracker = Team.Tracker.TRELLO
    other_team.save()
    ImprovementAction.objects.create(
        incident=IncidentFactory(team=other_team, declared_by=pm),
        title="Page the right team",
        kind="human",
        raised_by=pm,
        tracker=Team.Tracker.TRELLO,
        sync_state=ImprovementAction.SyncState.SYNCED,
        external_key=CARD_ID,
    )


@pytest.mark.parametrize(("tracker", "event"), [("jira", JIRA_EVENT), ("trello", TRELLO_EVENT)])
def test_the_well_formed_event_applies(trackers, tracker, event):
    response = post_signed(Client(), tracker, json.dumps(event).encode())
    assert response.json() == {"result": "changed"}


@pytest.mark.parametrize(("tracker", "event"), [("jira", JIRA_EVENT), ("trello", TRELLO_EVENT)])
def test_no_webhook_value_gives_a_server_error(trackers, tracker, event):
    client = Client(raise_request_exception=False)
    errors = []
    for path in value_paths(event):
        for label, value in JSON_CORPUS.items():
            response = post_signed(client, tracker, with_value(event, path, value))
            if response.status_code >= 500:
                errors.append(f"{'.'.join(map(str, path)) or 'payload'} = {label}: {response.status_code}")
            ImprovementAction.objects.update(status=ImprovementAction.Status.OPEN, done_at=None)
    assert errors == []
