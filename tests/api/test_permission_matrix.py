"""Who may do what: every API endpoint and every page that reads or changes data, for each persona
of the security model, with the exact status each one gets.

Personas (see conftest): anonymous; outsider (a member of another team); teammate; helper (a
responder from another team); analyst (owner of the analysis in progress); pm (the team's product
manager and the review's facilitator); problem_manager; admin.

Statuses: 401 not signed in (API) / 302 to sign-in (pages); 404 where existence itself is private;
403 where the thing is visible but not yours to change; 400 when a body names something you may
not see (reported as if it did not exist).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.api.conftest import PERSONAS, client_for


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: Callable  # world -> path
    expected: dict[str, int]
    body: Callable | None = None  # world -> dict
    api: bool = True
    extra: dict = field(default_factory=dict)


def statuses(default: int, **overrides: int) -> dict[str, int]:
    """`default` for every signed-in persona unless overridden; anonymous gets 401."""
    result = dict.fromkeys(PERSONAS, default)
    result["anonymous"] = 401
    result.update(overrides)
    return result


def later(days: int = 3) -> str:
    return (timezone.now() + timedelta(days=days)).isoformat()


def earlier(days: int = 1) -> str:
    return (timezone.now() - timedelta(days=days)).isoformat()


# Visibility of the (non-confidential) Payments incident and everything hanging off it.
SEES_INCIDENT = statuses(200, outsider=404)
MANAGES = {"outsider": 404, "teammate": 403, "helper": 403, "analyst": 403}
# Recording outcomes (actions) and publishing are for the whole team, not for responders from elsewhere.
TEAM_RECORDS = {"outsider": 404, "helper": 403}
ONLY_ANALYST = statuses(403, outsider=404, analyst=200)
TEAM_DRAFT = statuses(200, outsider=404, helper=404)

API_CASES = [
    # --- reads ---
    Case("list users", "GET", lambda w: "/api/users/", statuses(200)),
    Case("list teams", "GET", lambda w: "/api/teams/", statuses(200)),
    Case("list services", "GET", lambda w: "/api/services/", statuses(200)),
    Case("list themes", "GET", lambda w: "/api/themes/", statuses(200)),
    Case("list incidents", "GET", lambda w: "/api/incidents/", statuses(200)),
    Case("read incident", "GET", lambda w: f"/api/incidents/{w.incident.pk}/", SEES_INCIDENT),
    Case(
        "read confidential incident",
        "GET",
        lambda w: f"/api/incidents/{w.confidential.pk}/",
        statuses(200, outsider=404, helper=404),
    ),
    Case(
        "read another team's incident",
        "GET",
        lambda w: f"/api/incidents/{w.elsewhere.pk}/",
        statuses(404, outsider=200, helper=200, problem_manager=200, admin=200),
    ),
    Case("read timeline", "GET", lambda w: f"/api/incidents/{w.incident.pk}/timeline/", SEES_INCIDENT),
    Case("read responders", "GET", lambda w: f"/api/incidents/{w.incident.pk}/responders/", SEES_INCIDENT),
    Case("read analysis in progress", "GET", lambda w: f"/api/analyses/{w.analysis.pk}/", ONLY_ANALYST),
    Case("read submitted analysis", "GET", lambda w: f"/api/analyses/{w.submitted.pk}/", SEES_INCIDENT),
    Case("read interview in progress", "GET", lambda w: f"/api/interviews/{w.interview.pk}/", ONLY_ANALYST),
    Case("read key event in progress", "GET", lambda w: f"/api/key-events/{w.key_event.pk}/", ONLY_ANALYST),
    Case(
        "read submitted key event",
        "GET",
        lambda w: f"/api/key-events/{w.helper_key_event.pk}/",
        SEES_INCIDENT,
    ),
    Case("read review", "GET", lambda w: f"/api/reviews/{w.review.pk}/", SEES_INCIDENT),
    Case("read factor", "GET", lambda w: f"/api/contributing-factors/{w.factor.pk}/", SEES_INCIDENT),
    Case("read learning", "GET", lambda w: f"/api/learnings/{w.learning.pk}/", SEES_INCIDENT),
    Case("read action", "GET", lambda w: f"/api/actions/{w.action.pk}/", SEES_INCIDENT),
    Case("read draft narrative", "GET", lambda w: f"/api/narratives/{w.draft.pk}/", TEAM_DRAFT),
    Case("read published narrative", "GET", lambda w: f"/api/narratives/{w.published.pk}/", statuses(200)),
    Case(
        "read delivery",
        "GET",
        lambda w: f"/api/deliveries/{w.delivery.pk}/",
        statuses(404, pm=200, problem_manager=200, admin=200),
    ),
    # --- writes ---
    Case(
        "declare incident",
        "POST",
        lambda w: "/api/incidents/",
        statuses(403, pm=201, problem_manager=201, admin=201),
        body=lambda w: {
            "title": "Refunds stuck",
            "severity": "sev3",
            "team": w.incident.team_id,
            "service": w.incident.service_id,
            "started_at": earlier(),
        },
    ),
    Case(
        "edit incident",
        "PATCH",
        lambda w: f"/api/incidents/{w.incident.pk}/",
        statuses(200, **MANAGES),
        body=lambda w: {"summary": "Updated summary."},
    ),
    Case(
        "add responder",
        "POST",
        lambda w: f"/api/incidents/{w.incident.pk}/responders/",
        statuses(201, **MANAGES),
        body=lambda w: {"user": w.people["teammate"].pk, "role": "Scribe"},
    ),
    Case(
        "allocate analysis",
        "POST",
        lambda w: "/api/analyses/",
        statuses(201, outsider=400, teammate=403, helper=403, analyst=403),
        body=lambda w: {"responder": w.analysis.responder_id, "allocated_minutes": 120, "due_at": later()},
    ),
    Case(
        "save analysis",
        "PATCH",
        lambda w: f"/api/analyses/{w.analysis.pk}/",
        ONLY_ANALYST,
        body=lambda w: {"version": 1, "report": "## What we saw"},
    ),
    Case("submit analysis", "POST", lambda w: f"/api/analyses/{w.analysis.pk}/submit/", ONLY_ANALYST),
    Case(
        "add interview",
        "POST",
        lambda w: "/api/interviews/",
        statuses(403, outsider=400, analyst=201),
        body=lambda w: {"analysis": w.analysis.pk, "interviewee": "Dana", "held_at": earlier()},
    ),
    Case(
        "delete interview",
        "DELETE",
        lambda w: f"/api/interviews/{w.interview.pk}/",
        statuses(403, outsider=404, analyst=204),
    ),
    Case(
        "add key event",
        "POST",
        lambda w: "/api/key-events/",
        statuses(403, outsider=400, analyst=201),
        body=lambda w: {"analysis": w.analysis.pk, "occurred_at": earlier(), "description": "Pager fired"},
    ),
    Case(
        "create theme",
        "POST",
        lambda w: "/api/themes/",
        statuses(201),
        body=lambda w: {"name": "Alert fatigue"},
    ),
    Case(
        "reschedule review",
        "PATCH",
        lambda w: f"/api/reviews/{w.review.pk}/",
        statuses(200, **MANAGES),
        body=lambda w: {"duration_minutes": 60},
    ),
    Case("mark review held", "POST", lambda w: f"/api/reviews/{w.review.pk}/held/", statuses(200, **MANAGES)),
    Case(
        "add factor",
        "POST",
        lambda w: "/api/contributing-factors/",
        statuses(201, outsider=400, teammate=403, helper=403, analyst=403),
        body=lambda w: {"review": w.review.pk, "description": "No load shedding", "kind": "technical"},
    ),
    Case(
        "delete factor",
        "DELETE",
        lambda w: f"/api/contributing-factors/{w.factor.pk}/",
        statuses(204, **MANAGES),
    ),
    Case(
        "add learning",
        "POST",
        lambda w: "/api/learnings/",
        statuses(201, outsider=400, teammate=403, helper=403, analyst=403),
        body=lambda w: {"review": w.review.pk, "description": "Retries need budgets"},
    ),
    Case(
        "raise action",
        "POST",
        lambda w: "/api/actions/",
        statuses(201, outsider=400, helper=403),
        body=lambda w: {"incident": w.incident.pk, "title": "Add a retry budget", "kind": "technical"},
    ),
    Case(
        "change action",
        "PATCH",
        lambda w: f"/api/actions/{w.action.pk}/",
        statuses(200, **TEAM_RECORDS),
        body=lambda w: {"priority": "high"},
    ),
    # Permission comes before validation: the team keeps no tracker, which only managers learn.
    Case(
        "retry action sync",
        "POST",
        lambda w: f"/api/actions/{w.action.pk}/retry-sync/",
        statuses(400, **TEAM_RECORDS),
    ),
    Case(
        "waive an analysis",
        "POST",
        lambda w: f"/api/analyses/{w.analysis.pk}/waive/",
        statuses(200, **MANAGES),
        body=lambda w: {"reason": "On leave"},
    ),
    Case(
        "edit draft narrative",
        "PATCH",
        lambda w: f"/api/narratives/{w.draft.pk}/",
        TEAM_DRAFT,
        body=lambda w: {"version": 1, "body": "## A better story"},
    ),
    Case(
        "edit published narrative",
        "PATCH",
        lambda w: f"/api/narratives/{w.published.pk}/",
        statuses(200, outsider=403, helper=403),
        body=lambda w: {"version": 1, "body": "## Updated after publishing"},
    ),
    Case(
        "publish draft narrative",
        "POST",
        lambda w: f"/api/narratives/{w.draft.pk}/publish/",
        # The loop is open (an analysis in progress, the review not held): the team learns why.
        statuses(409, outsider=404, helper=404),
    ),
    Case(
        "publish draft narrative before the loop is closed",
        "POST",
        lambda w: f"/api/narratives/{w.draft.pk}/publish/",
        statuses(200, outsider=404, helper=404, teammate=403, analyst=403),
        body=lambda w: {"override_reason": "Customers asked for it"},
    ),
    Case(
        "change a service",
        "PATCH",
        lambda w: f"/api/services/{w.incident.service_id}/",
        statuses(403, pm=200, problem_manager=200, admin=200),
        body=lambda w: {"operating_model": "ops", "cost_of_delay_per_day": "500"},
    ),
    Case(
        "add a service",
        "POST",
        lambda w: "/api/services/",
        statuses(403, pm=201, problem_manager=201, admin=201),
        body=lambda w: {"team": w.incident.team_id, "name": "refunds"},
    ),
    Case(
        "create a team",
        "POST",
        lambda w: "/api/teams/",
        statuses(403, admin=201),
        body=lambda w: {"name": "Platform"},
    ),
    Case(
        "change a team",
        "PATCH",
        lambda w: f"/api/teams/{w.incident.team_id}/",
        statuses(403, admin=200),
        body=lambda w: {"jira_project_key": "PAY"},
    ),
    Case("list trainings", "GET", lambda w: "/api/trainings/", statuses(200)),
    Case(
        "record a training",
        "POST",
        lambda w: "/api/trainings/",
        statuses(403, pm=201, problem_manager=201, admin=201),
        body=lambda w: {
            "kind": "analysis",
            "held_on": timezone.localdate().isoformat(),
            "duration_minutes": 60,
            "trainer": w.people["pm"].pk,
            "team": w.incident.team_id,
        },
    ),
    Case("list walkthroughs and playbacks", "GET", lambda w: "/api/walkthroughs/", statuses(200)),
    Case(
        "schedule a playback",
        "POST",
        lambda w: "/api/walkthroughs/",
        statuses(201, outsider=403, helper=403),
        body=lambda w: {
            "narrative": w.published.pk,
            "kind": "playback",
            "scheduled_at": later(),
            "duration_minutes": 45,
            "audience_email": "payments@example.org",
            "preparation_minutes": 30,
        },
    ),
    Case(
        "record an action's effort",
        "PATCH",
        lambda w: f"/api/actions/{w.action.pk}/",
        statuses(200, **TEAM_RECORDS),
        body=lambda w: {"effort_estimate_hours": "4", "effort_actual_hours": "5.5"},
    ),
    Case(
        "draft another team's narrative",
        "POST",
        lambda w: "/api/narratives/",
        statuses(400, outsider=201, helper=201, problem_manager=201, admin=201),
        body=lambda w: {"incident": w.elsewhere.pk},
    ),
]


PAGE_CASES = [
    Case("my work", "GET", lambda w: "/", statuses(200), api=False),
    Case("incident list", "GET", lambda w: "/incidents/", statuses(200), api=False),
    Case("incident page", "GET", lambda w: f"/incidents/{w.incident.pk}/", SEES_INCIDENT, api=False),
    Case(
        "confidential incident page",
        "GET",
        lambda w: f"/incidents/{w.confidential.pk}/",
        statuses(200, outsider=404, helper=404),
        api=False,
    ),
    Case(
        "incident edit page",
        "GET",
        lambda w: f"/incidents/{w.incident.pk}/edit/",
        statuses(200, **MANAGES),
        api=False,
    ),
    Case(
        "allocation page",
        "GET",
        lambda w: f"/incidents/{w.incident.pk}/allocate/",
        statuses(200, **MANAGES),
        api=False,
    ),
    Case(
        "analysis in progress page", "GET", lambda w: f"/analyses/{w.analysis.pk}/", ONLY_ANALYST, api=False
    ),
    Case(
        "submitted analysis page", "GET", lambda w: f"/analyses/{w.submitted.pk}/", SEES_INCIDENT, api=False
    ),
    Case("review page", "GET", lambda w: f"/reviews/{w.review.pk}/", SEES_INCIDENT, api=False),
    Case(
        "review edit page",
        "GET",
        lambda w: f"/reviews/{w.review.pk}/edit/",
        statuses(200, **MANAGES),
        api=False,
    ),
    Case("action backlog", "GET", lambda w: "/actions/", statuses(200), api=False),
    Case("narrative library", "GET", lambda w: "/narratives/", statuses(200), api=False),
    Case("draft narrative page", "GET", lambda w: f"/narratives/{w.draft.pk}/", TEAM_DRAFT, api=False),
    Case("draft narrative editor", "GET", lambda w: f"/narratives/{w.draft.pk}/edit/", TEAM_DRAFT, api=False),
    Case(
        "published narrative page",
        "GET",
        lambda w: f"/narratives/{w.published.pk}/",
        statuses(200),
        api=False,
    ),
    Case(
        "audit log",
        "GET",
        lambda w: "/audit/",
        statuses(403, pm=200, problem_manager=200, admin=200),
        api=False,
    ),
    Case("account settings", "GET", lambda w: "/settings/", statuses(200), api=False),
    Case("insights", "GET", lambda w: "/insights/", statuses(200), api=False),
    Case("insights export", "GET", lambda w: "/insights/export.csv?period=30d", statuses(200), api=False),
    Case("services page", "GET", lambda w: "/services/", statuses(200), api=False),
    Case(
        "service edit page",
        "GET",
        lambda w: f"/services/{w.incident.service_id}/edit/",
        statuses(403, pm=200, problem_manager=200, admin=200),
        api=False,
    ),
    Case(
        "change a service from the page",
        "POST",
        lambda w: f"/services/{w.incident.service_id}/edit/",
        statuses(403, pm=302, problem_manager=302, admin=302),
        body=lambda w: {"operating_model": "ops", "demand": "high", "sourcing": "custom"},
        api=False,
    ),
    Case("trainings page", "GET", lambda w: "/trainings/", statuses(200), api=False),
    Case(
        "record a training from the page",
        "POST",
        lambda w: "/trainings/",
        statuses(403, pm=302, problem_manager=302, admin=302),
        body=lambda w: {
            "team": w.incident.team_id,
            "kind": "review",
            "held_on": timezone.localdate().isoformat(),
            "duration_minutes": 45,
            "trainer": "pm",
        },
        api=False,
    ),
    Case(
        "declare page",
        "GET",
        lambda w: "/incidents/declare/",
        statuses(403, pm=200, problem_manager=200, admin=200),
        api=False,
    ),
    Case(
        "add a responder from the page",
        "POST",
        lambda w: f"/incidents/{w.incident.pk}/responders/",
        statuses(302, **MANAGES),
        body=lambda w: {"user": "teammate", "role": "Scribe"},
        api=False,
    ),
    Case(
        "submit an analysis from the page",
        "POST",
        lambda w: f"/analyses/{w.analysis.pk}/submit/",
        statuses(403, outsider=404, analyst=302),
        api=False,
    ),
    Case(
        "add an interview from the page",
        "POST",
        lambda w: f"/analyses/{w.analysis.pk}/interviews/",
        statuses(403, outsider=404, analyst=302),
        body=lambda w: {"interviewee": "Dana", "held_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
        api=False,
    ),
    Case(
        "add a key event from the page",
        "POST",
        lambda w: f"/analyses/{w.analysis.pk}/key-events/",
        statuses(403, outsider=404, analyst=302),
        body=lambda w: {
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "description": "Pager fired",
        },
        api=False,
    ),
    Case(
        "mark the review held from the page",
        "POST",
        lambda w: f"/reviews/{w.review.pk}/held/",
        statuses(302, **MANAGES),
        api=False,
    ),
    Case(
        "cancel the review from the page",
        "POST",
        lambda w: f"/reviews/{w.review.pk}/cancel/",
        statuses(302, **MANAGES),
        api=False,
    ),
    Case(
        "tick an agenda step",
        "POST",
        lambda w: f"/reviews/{w.review.pk}/steps/",
        statuses(302, **MANAGES),
        body=lambda w: {"step": "reports", "done": "on"},
        api=False,
    ),
    Case(
        "add a learning from the page",
        "POST",
        lambda w: f"/reviews/{w.review.pk}/learnings/",
        statuses(302, **MANAGES),
        body=lambda w: {"learning-description": "Retries need budgets"},
        api=False,
    ),
    Case(
        "mark an action done from the page",
        "POST",
        lambda w: f"/actions/{w.action.pk}/status/",
        statuses(302, **TEAM_RECORDS),
        body=lambda w: {"status": "done"},
        api=False,
    ),
    Case(
        "draft a narrative from the page",
        "POST",
        lambda w: f"/incidents/{w.incident.pk}/narrative/",
        statuses(302, outsider=404, helper=403),
        api=False,
    ),
    Case(
        "save a draft from the page",
        "POST",
        lambda w: f"/narratives/{w.draft.pk}/edit/",
        statuses(302, outsider=404, helper=404),
        body=lambda w: {"version": 1, "title": "Checkout timeouts", "body": "## Better"},
        api=False,
    ),
    Case(
        "draft revisions page",
        "GET",
        lambda w: f"/narratives/{w.draft.pk}/revisions/",
        TEAM_DRAFT,
        api=False,
    ),
    Case(
        "walkthrough scheduling page",
        "GET",
        lambda w: f"/narratives/{w.published.pk}/walkthroughs/new/",
        statuses(200, outsider=403, helper=403),
        api=False,
    ),
    Case(
        "publish from the page",
        "POST",
        lambda w: f"/narratives/{w.draft.pk}/publish/",
        statuses(302, outsider=404, helper=404),
        api=False,
    ),
    Case(
        "add a factor from the page",
        "POST",
        lambda w: f"/reviews/{w.review.pk}/factors/",
        statuses(302, **MANAGES),
        body=lambda w: {"factor-description": "No load shedding", "factor-kind": "technical"},
        api=False,
    ),
]


def run(case: Case, world, persona: str, client):
    user = world.people[persona]
    path = case.path(world)
    body = case.body(world) if case.body else None
    if case.api:
        api_client = client_for(user)
        return api_client.generic(case.method, path, data=_json(body), content_type="application/json")
    if user is not None:
        client.force_login(user)
    if case.method == "GET":
        return client.get(path)
    return client.post(path, body or {})


def _json(body) -> str:
    import json

    return json.dumps(body) if body is not None else ""


MATRIX = [(case, persona) for case in API_CASES + PAGE_CASES for persona in PERSONAS]


@pytest.mark.parametrize(
    ("case", "persona"), MATRIX, ids=[f"{'api' if c.api else 'page'}:{c.name}:{p}" for c, p in MATRIX]
)
def test_permission_matrix(case, persona, world, client):
    expected = case.expected[persona]
    if not case.api and persona == "anonymous":
        expected = 302  # pages send the anonymous to sign in

    response = run(case, world, persona, client)

    assert response.status_code == expected, (
        f"{persona} {case.method} {case.path(world)}: {response.status_code}, expected {expected}: "
        f"{getattr(response, 'data', None) or response.content[:300]}"
    )
    if not case.api and persona == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


LIST_VISIBILITY = [
    ("/api/incidents/", "incident", {"outsider": False, "helper": True, "teammate": True}),
    ("/api/incidents/", "confidential", {"outsider": False, "helper": False, "teammate": True}),
    ("/api/analyses/", "analysis", {"teammate": False, "pm": False, "analyst": True}),
    ("/api/analyses/", "submitted", {"outsider": False, "teammate": True, "helper": True}),
    ("/api/interviews/", "interview", {"teammate": False, "analyst": True}),
    ("/api/reviews/", "review", {"outsider": False, "helper": True}),
    ("/api/actions/", "action", {"outsider": False, "teammate": True}),
    ("/api/narratives/?status=draft", "draft", {"outsider": False, "helper": False, "teammate": True}),
    ("/api/narratives/", "draft", {"teammate": False, "pm": False}),  # the library never lists drafts
    ("/api/narratives/", "published", {"outsider": True, "helper": True}),
    ("/api/deliveries/", "delivery", {"teammate": False, "analyst": False, "pm": True, "outsider": False}),
]


@pytest.mark.parametrize(
    ("path", "thing", "who"), LIST_VISIBILITY, ids=[f"{p}:{t}" for p, t, _ in LIST_VISIBILITY]
)
def test_lists_show_exactly_what_each_persona_may_see(path, thing, who, world):
    target = getattr(world, thing)
    for persona, visible in who.items():
        response = client_for(world.people[persona]).get(path)
        assert response.status_code == 200
        ids = {row["id"] for row in response.data["results"]}
        assert (target.pk in ids) is visible, f"{persona} on {path}: {thing} visible={not visible}"


def test_the_matrix_covers_every_api_collection():
    covered = {case.path.__code__.co_consts for case in API_CASES}
    text = " ".join(str(const) for consts in covered for const in consts)
    for collection in (
        "users",
        "teams",
        "services",
        "incidents",
        "analyses",
        "interviews",
        "key-events",
        "themes",
        "reviews",
        "contributing-factors",
        "learnings",
        "actions",
        "narratives",
        "deliveries",
    ):
        assert f"/api/{collection}/" in text, collection
