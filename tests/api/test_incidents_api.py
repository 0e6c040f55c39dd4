"""The incidents side of the API: people, teams, incidents, responders, analyses and what they hold —
what each endpoint writes, and how it refuses bad input."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token

from incidents.models import (
    AnalysisSession,
    AuditEntry,
    Incident,
    Interview,
    KeyEvent,
    LearningTheme,
    Notification,
)
from tests.api.conftest import client_for
from tests.factories import AnalysisSessionFactory, IncidentFactory, KeyEventFactory, ServiceFactory
from ybiyri.api_pagination import KeysetPagination


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


@pytest.fixture
def as_pm(pm):
    return client_for(pm)


def declare_body(team, service, **overrides):
    return {
        "title": "Refunds stuck",
        "summary": "Refunds were not paid out for two hours.",
        "severity": "sev2",
        "team": team.pk,
        "service": service.pk,
        "started_at": iso(-timedelta(hours=3)),
        "detected_at": iso(-timedelta(hours=2, minutes=50)),
        "resolved_at": iso(-timedelta(hours=1)),
        **overrides,
    }


# --- authentication --------------------------------------------------------------------------


def test_anonymous_requests_are_challenged_with_401(db):
    response = client_for(None).get("/api/incidents/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


def test_a_token_from_drf_create_token_signs_requests_in(pm, api, capsys):
    call_command("drf_create_token", "pm")
    key = Token.objects.get(user=pm).key
    assert key in capsys.readouterr().out

    response = api.get("/api/incidents/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert api.get("/api/incidents/", HTTP_AUTHORIZATION="Token not-a-key").status_code == 401


def test_session_writes_need_the_csrf_token(pm, team, service):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(pm)
    response = browser.post("/api/incidents/", declare_body(team, service), format="json")
    assert response.status_code == 403
    assert "CSRF" in response.data["detail"]


def test_unknown_api_paths_answer_json_404(pm):
    response = client_for(pm).get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- users, teams, services, themes ------------------------------------------------------------


def test_directory_collections_list_people_teams_and_services(as_pm, pm, team, service):
    users = as_pm.get("/api/users/", {"search": "priya"}).data["results"]
    assert [user["username"] for user in users] == ["pm"]
    teams = as_pm.get("/api/teams/").data["results"]
    assert teams[0]["name"] == "Payments"
    assert pm.pk in teams[0]["product_managers"]
    services = as_pm.get("/api/services/", {"team": team.pk}).data["results"]
    assert services == [
        {
            "id": service.pk,
            "team": team.pk,
            "name": "checkout-api",
            "description": "",
            "operating_model": "ybiyri",
            "on_call_team": None,
            "on_call": "Payments (the owning product team)",
            "demand": "medium",
            "sourcing": "custom",
            "cost_of_delay_per_day": None,
            "guidance": "",
            "pagerduty_service_ids": [],
            "opsgenie_teams": [],
            "alertmanager_matchers": [],
        }
    ]


def test_themes_are_picked_by_name_or_created(as_pm):
    created = as_pm.post("/api/themes/", {"name": "Alert  fatigue"}, format="json")
    assert created.status_code == 201
    again = as_pm.post("/api/themes/", {"name": "alert fatigue"}, format="json")
    assert again.data["id"] == created.data["id"]
    assert LearningTheme.objects.count() == 1
    assert as_pm.post("/api/themes/", {"name": ""}, format="json").status_code == 400
    assert as_pm.post("/api/themes/", {"name": "x" * 81}, format="json").status_code == 400


# --- incidents ---------------------------------------------------------------------------------


def test_declaring_an_incident_records_it_with_responders_and_an_audit_entry(
    as_pm, pm, team, service, responder
):
    body = declare_body(team, service, responders=[{"user": responder.pk, "role": "Incident commander"}])

    response = as_pm.post("/api/incidents/", body, format="json")

    assert response.status_code == 201, response.data
    incident = Incident.objects.get(pk=response.data["id"])
    assert (incident.title, incident.declared_by, incident.severity) == ("Refunds stuck", pm, "sev2")
    assert response.data["responders"][0]["username"] == "responder"
    assert response.data["responders"][0]["role"] == "Incident commander"
    assert AuditEntry.objects.filter(verb="incident.declared", target_id=str(incident.pk)).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"severity": "sev9"}, "severity"),
        ({"severity": 2}, "severity"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"started_at": None}, "started_at"),
        ({"team": 999999}, "team"),
        ({"team": "payments"}, "team"),
        ({"service": 999999}, "service"),
        ({"confidential": "perhaps"}, "confidential"),
        ({"summary": "x" * 100_001}, "summary"),
        ({"resolved_at": iso(-timedelta(hours=4))}, "resolved_at"),  # before it started
        ({"started_at": iso(timedelta(days=2)), "detected_at": None, "resolved_at": None}, "started_at"),
        ({"responders": [{"user": 999999}]}, "responders"),
    ],
)
def test_declaring_with_bad_input_is_refused_field_by_field(as_pm, team, service, overrides, field):
    response = as_pm.post("/api/incidents/", declare_body(team, service) | overrides, format="json")
    assert response.status_code == 400
    assert field in response.data, response.data
    assert not Incident.objects.exists()


def test_a_service_of_another_team_is_refused(as_pm, team, other_team):
    foreign = ServiceFactory(team=other_team)
    response = as_pm.post("/api/incidents/", declare_body(team, foreign), format="json")
    assert response.status_code == 400
    assert response.data == {"service": ["This service belongs to another team."]}


def test_the_body_must_be_an_object(as_pm):
    response = as_pm.post("/api/incidents/", [1, 2], format="json")
    assert response.status_code == 400
    malformed = as_pm.generic("POST", "/api/incidents/", "{not json", content_type="application/json")
    assert malformed.status_code == 400


def test_editing_an_incident_changes_only_the_given_fields(as_pm, incident):
    response = as_pm.patch(f"/api/incidents/{incident.pk}/", {"severity": "sev1"}, format="json")
    assert response.status_code == 200
    incident.refresh_from_db()
    assert (incident.severity, incident.title) == ("sev1", "Checkout timeouts")
    entry = AuditEntry.objects.get(verb="incident.updated")
    assert entry.changes == {"severity": ["sev2", "sev1"]}


def test_editing_with_dates_out_of_order_is_refused(as_pm, incident):
    before = (incident.started_at - timedelta(hours=1)).isoformat()
    response = as_pm.patch(f"/api/incidents/{incident.pk}/", {"detected_at": before}, format="json")
    assert response.status_code == 400
    assert "detected_at" in response.data


def test_incidents_cannot_be_deleted_or_replaced(as_pm, incident):
    assert as_pm.delete(f"/api/incidents/{incident.pk}/").status_code == 405
    assert as_pm.put(f"/api/incidents/{incident.pk}/", {}, format="json").status_code == 405


def test_the_incident_list_filters_and_searches(as_pm, incident, team, service, pm):
    IncidentFactory(team=team, service=service, declared_by=pm, title="Login loop", severity="sev4")
    by_severity = as_pm.get("/api/incidents/", {"severity": "sev4"}).data["results"]
    assert [row["title"] for row in by_severity] == ["Login loop"]
    by_title = as_pm.get("/api/incidents/", {"search": "checkout"}).data["results"]
    assert [row["id"] for row in by_title] == [incident.pk]
    assert as_pm.get("/api/incidents/", {"severity": "bogus"}).status_code == 400
    ordered = as_pm.get("/api/incidents/", {"ordering": "title"}).data["results"]
    assert [row["title"] for row in ordered] == ["Checkout timeouts", "Login loop"]


def test_responders_are_added_listed_and_removed(as_pm, incident, teammate):
    added = as_pm.post(f"/api/incidents/{incident.pk}/responders/", {"user": teammate.pk, "role": "Scribe"})
    assert added.status_code == 201
    duplicate = as_pm.post(f"/api/incidents/{incident.pk}/responders/", {"user": teammate.pk})
    assert duplicate.status_code == 400
    assert "user" in duplicate.data
    listed = as_pm.get(f"/api/incidents/{incident.pk}/responders/").data["results"]
    assert [row["username"] for row in listed] == ["responder", "teammate"]

    removed = as_pm.delete(f"/api/incidents/{incident.pk}/responders/{added.data['id']}/")
    assert removed.status_code == 204
    assert not incident.responders.filter(user=teammate).exists()
    assert as_pm.delete(f"/api/incidents/{incident.pk}/responders/{added.data['id']}/").status_code == 404


def test_the_timeline_merges_the_submitted_analyses_in_time_order(as_pm, incident, responder):
    analysis = allocate(as_pm, incident)
    late = KeyEventFactory(analysis=analysis, occurred_at=incident.started_at + timedelta(minutes=30))
    early = KeyEventFactory(analysis=analysis, occurred_at=incident.started_at + timedelta(minutes=5))
    assert as_pm.get(f"/api/incidents/{incident.pk}/timeline/").data["results"] == []

    AnalysisSession.objects.filter(pk=analysis.pk).update(status=AnalysisSession.Status.SUBMITTED)
    rows = as_pm.get(f"/api/incidents/{incident.pk}/timeline/").data["results"]

    assert [row["id"] for row in rows] == [early.pk, late.pk]
    assert rows[0]["analyst_name"] == "Rui Oncall"


# --- analyses ----------------------------------------------------------------------------------


def allocate(client, incident, minutes: int = 240) -> AnalysisSession:
    responder = incident.responders.get()
    response = client.post(
        "/api/analyses/",
        {"responder": responder.pk, "allocated_minutes": minutes, "due_at": iso(timedelta(days=4))},
        format="json",
    )
    assert response.status_code == 201, response.data
    return AnalysisSession.objects.get(pk=response.data["id"])


def test_allocating_an_analysis_invites_the_responder(as_pm, incident, responder):
    analysis = allocate(as_pm, incident)

    assert (analysis.analyst, analysis.allocated_minutes) == (responder, 240)
    notification = Notification.objects.get(recipient=responder)
    assert "BEGIN:VCALENDAR" in notification.ics
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ANALYSING


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"allocated_minutes": 0}, "allocated_minutes"),
        ({"allocated_minutes": "lots"}, "allocated_minutes"),
        ({"due_at": "soon"}, "due_at"),
        ({"responder": 999999}, "responder"),
    ],
)
def test_allocating_with_bad_input_is_refused(as_pm, incident, body, field):
    full = {
        "responder": incident.responders.get().pk,
        "allocated_minutes": 60,
        "due_at": iso(timedelta(days=1)),
    }
    response = as_pm.post("/api/analyses/", full | body, format="json")
    assert response.status_code == 400
    assert field in response.data


def test_a_due_date_in_the_past_is_refused(as_pm, incident):
    body = {
        "responder": incident.responders.get().pk,
        "allocated_minutes": 60,
        "due_at": iso(-timedelta(days=1)),
    }
    response = as_pm.post("/api/analyses/", body, format="json")
    assert response.status_code == 400
    assert "must be in the future" in str(response.data)


def test_the_analyst_saves_with_a_version_and_a_stale_save_gets_409(as_pm, incident, responder):
    analysis = allocate(as_pm, incident)
    theme = LearningTheme.objects.create(name="Retries", slug="retries")
    as_analyst = client_for(responder)
    path = f"/api/analyses/{analysis.pk}/"

    saved = as_analyst.patch(
        path,
        {"version": 1, "report": "## Timeline", "time_spent_minutes": 30, "themes": [theme.pk]},
        format="json",
    )
    assert saved.status_code == 200
    assert (saved.data["version"], saved.data["status"], saved.data["themes"]) == (
        2,
        "in_progress",
        [theme.pk],
    )

    stale = as_analyst.patch(path, {"version": 1, "report": "Overwritten?"}, format="json")
    assert stale.status_code == 409
    assert stale.data["current_version"] == 2
    analysis.refresh_from_db()
    assert analysis.report == "## Timeline"

    bad = as_analyst.patch(path, {"version": 2, "time_spent_minutes": -5}, format="json")
    assert bad.status_code == 400
    assert as_analyst.patch(path, {"report": "no version"}, format="json").status_code == 400


def test_submitting_locks_the_analysis(as_pm, incident, responder):
    analysis = allocate(as_pm, incident)
    as_analyst = client_for(responder)
    empty = as_analyst.post(f"/api/analyses/{analysis.pk}/submit/")
    assert empty.status_code == 400
    assert "report" in empty.data

    as_analyst.patch(f"/api/analyses/{analysis.pk}/", {"version": 1, "report": "Done."}, format="json")
    submitted = as_analyst.post(f"/api/analyses/{analysis.pk}/submit/")
    assert submitted.status_code == 200
    assert submitted.data["status"] == "submitted"

    locked = as_analyst.patch(
        f"/api/analyses/{analysis.pk}/", {"version": 2, "report": "More"}, format="json"
    )
    assert locked.status_code == 400
    again = as_analyst.post(f"/api/analyses/{analysis.pk}/submit/")
    assert again.status_code == 400


def test_interviews_are_added_and_deleted_by_the_analyst(as_pm, incident, responder):
    analysis = allocate(as_pm, incident)
    as_analyst = client_for(responder)
    body = {"analysis": analysis.pk, "interviewee": "Dana (DBA)", "held_at": iso(-timedelta(hours=1))}

    created = as_analyst.post("/api/interviews/", body | {"notes": "Saw the locks pile up."}, format="json")
    assert created.status_code == 201
    assert Interview.objects.get().notes == "Saw the locks pile up."
    assert as_analyst.get("/api/interviews/", {"analysis": analysis.pk}).data["count"] == 1
    for bad in ({"interviewee": ""}, {"held_at": "monday"}, {"interviewee": "x" * 121}, {"analysis": "one"}):
        assert as_analyst.post("/api/interviews/", body | bad, format="json").status_code == 400, bad

    assert as_analyst.delete(f"/api/interviews/{created.data['id']}/").status_code == 204
    assert not Interview.objects.exists()


def test_key_events_are_validated_and_belong_to_the_incident(as_pm, incident, responder):
    analysis = allocate(as_pm, incident)
    as_analyst = client_for(responder)
    body = {"analysis": analysis.pk, "occurred_at": iso(-timedelta(hours=1)), "description": "Pager fired"}

    created = as_analyst.post("/api/key-events/", body | {"evidence_url": "https://grafana.example/d/1"})
    assert created.status_code == 201
    event = KeyEvent.objects.get()
    assert (event.incident, created.data["analyst"]) == (incident, responder.pk)
    for bad in ({"evidence_url": "javascript:alert(1)"}, {"description": "x" * 2001}, {"occurred_at": ""}):
        response = as_analyst.post("/api/key-events/", body | bad, format="json")
        assert response.status_code == 400, bad
    assert as_analyst.delete(f"/api/key-events/{event.pk}/").status_code == 204


@pytest.mark.parametrize("rows", [5, 40])
def test_lists_issue_the_same_number_of_queries_whatever_their_length(
    rows, pm, team, service, responder, django_assert_num_queries
):
    for index in range(rows):
        incident = IncidentFactory(team=team, service=service, declared_by=pm, title=f"Incident {index}")
        incident.responders.create(user=responder, role="On call")
    client = client_for(pm)
    # Counted for 5 and 40 rows alike: the user's teams, the page, responders prefetch; a keyset
    # page counts nothing.
    with django_assert_num_queries(3):
        response = client.get("/api/incidents/")
    assert len(response.data["results"]) == rows
    assert "count" not in response.data


@pytest.mark.parametrize(
    ("path", "order"), [("/api/incidents/", "-started_at"), ("/api/key-events/", "occurred_at")]
)
def test_growing_collections_page_by_cursor_in_their_order_without_repeating_or_skipping_a_row(
    path, order, incident, pm, team, service, monkeypatch
):
    analysis = AnalysisSessionFactory(responder__incident=incident, responder__user=pm)
    monkeypatch.setattr(KeysetPagination, "page_size", 3)
    start = timezone.now() - timedelta(days=30)
    for index in range(7):
        # Two rows share each moment: the cursor must still keep one order across pages.
        moment = start + timedelta(hours=index // 2)
        IncidentFactory(team=team, service=service, declared_by=pm, started_at=moment)
        KeyEventFactory(analysis=analysis, occurred_at=moment)
    client = client_for(pm)
    seen, url, pages = [], path, 0
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen += body["results"]
        url, pages = body["next"], pages + 1
    field = order.lstrip("-")
    expected = sorted(seen, key=lambda row: (row[field], row["id"]), reverse=order.startswith("-"))
    assert seen == expected
    assert len({row["id"] for row in seen}) == len(seen) and pages >= 3
    assert client.get(path, {"cursor": "not-a-cursor"}).status_code == 404
