from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import AnalysisSession, Incident, Interview, KeyEvent
from tests.factories import (
    AnalysisSessionFactory,
    IncidentFactory,
    KeyEventFactory,
    ResponderFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

LOCAL = "%Y-%m-%dT%H:%M"


def local(moment) -> str:
    return timezone.localtime(moment).strftime(LOCAL)


@pytest.fixture
def analysis(incident, pm):
    return AnalysisSessionFactory(responder=incident.responders.get(), scheduled_by=pm)


def test_pages_require_sign_in(client, incident):
    for url in ("/", "/incidents/", reverse("incidents:detail", args=[incident.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_healthz_is_public_and_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] in {"ok", "eager"}


def test_sign_in_and_out(client, pm):
    response = client.post("/accounts/login/", {"username": "pm", "password": "demo-pass-123"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302


def test_my_work_lists_the_responders_analyses_with_due_dates(client, analysis, responder):
    client.force_login(responder)
    response = client.get("/")
    assert response.status_code == 200
    assert analysis.incident.title in response.text
    assert "Scheduled" in response.text


def test_my_work_shows_a_product_manager_incidents_awaiting_allocation(client, incident, pm):
    client.force_login(pm)
    response = client.get("/")
    assert "Incidents awaiting allocation" in response.text
    assert incident.title in response.text


def test_the_incident_page_is_a_404_for_another_team(client, incident, other_team_member, outsider):
    for person in (other_team_member, outsider):
        client.force_login(person)
        assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 404


def test_the_incident_list_never_shows_other_teams_incidents(client, incident, other_team_member):
    client.force_login(other_team_member)
    response = client.get("/incidents/")
    assert incident.title not in response.text


def test_a_confidential_incident_is_visible_to_a_responder_from_another_team(
    client, team, service, pm, other_team_member
):
    incident = IncidentFactory(
        team=team, service=service, declared_by=pm, confidential=True, title="Secret export"
    )
    ResponderFactory(incident=incident, user=other_team_member)
    client.force_login(other_team_member)
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 200
    client.force_login(UserFactory())
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 404


def test_problem_managers_see_every_incident(client, incident, problem_manager):
    client.force_login(problem_manager)
    assert client.get(reverse("incidents:detail", args=[incident.pk])).status_code == 200


def test_declaring_an_incident_through_the_form(client, pm, team, service, responder):
    client.force_login(pm)
    started = timezone.now() - timedelta(hours=2)
    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "Refunds stuck",
            "summary": "Refunds were not sent.",
            "severity": "sev2",
            "team": team.pk,
            "service": service.pk,
            "started_at": local(started),
            "resolved_at": local(started + timedelta(hours=1)),
            "responders": "responder",
        },
    )
    incident = Incident.objects.get(title="Refunds stuck")
    assert response.status_code == 302
    assert response["Location"] == incident.get_absolute_url()
    assert incident.responders.get().user == responder


def test_declaring_with_bad_input_shows_every_error_and_keeps_the_input(client, pm, team, service):
    client.force_login(pm)
    started = timezone.now() - timedelta(hours=2)
    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "Kept title",
            "severity": "sev9",
            "team": team.pk,
            "service": service.pk,
            "started_at": local(started),
            "resolved_at": local(started - timedelta(hours=1)),
            "responders": [999999],
        },
    )
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) >= {"severity", "responders"}
    assert "Kept title" in response.text
    assert not Incident.objects.filter(title="Kept title").exists()


def test_resolved_before_started_is_shown_on_the_field(client, pm, team, service):
    client.force_login(pm)
    started = timezone.now() - timedelta(hours=2)
    response = client.post(
        reverse("incidents:declare"),
        {
            "title": "Backwards",
            "severity": "sev3",
            "team": team.pk,
            "service": service.pk,
            "started_at": local(started),
            "resolved_at": local(started - timedelta(hours=1)),
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["resolved_at"] == ["Resolved cannot be before started."]


def test_a_responder_cannot_declare_incidents(client, responder):
    client.force_login(responder)
    assert client.get(reverse("incidents:declare")).status_code == 403


def test_a_team_member_cannot_edit_or_allocate(client, incident, teammate):
    client.force_login(teammate)
    assert client.get(reverse("incidents:edit", args=[incident.pk])).status_code == 403
    assert client.post(reverse("incidents:allocate", args=[incident.pk])).status_code == 403


def test_editing_an_incident(client, incident, pm):
    client.force_login(pm)
    data = {
        "title": "Checkout timeouts (edited)",
        "summary": incident.summary,
        "severity": "sev1",
        "team": incident.team_id,
        "service": incident.service_id,
        "started_at": local(incident.started_at),
        "confidential": "on",
    }
    response = client.post(reverse("incidents:edit", args=[incident.pk]), data)
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.severity, incident.confidential) == (
        "Checkout timeouts (edited)",
        "sev1",
        True,
    )


def test_adding_an_unknown_responder_is_a_400_with_the_message(client, incident, pm):
    client.force_login(pm)
    response = client.post(
        reverse("incidents:responder_add", args=[incident.pk]), {"user": "nobody", "role": "x"}
    )
    assert response.status_code == 400
    assert "Not an active member of the organisation: nobody." in response.text


def test_a_responder_can_be_added_by_email_in_any_case(client, incident, pm, teammate):
    client.force_login(pm)
    response = client.post(
        reverse("incidents:responder_add", args=[incident.pk]),
        {"user": "TEAMMATE@example.org", "role": "Scribe"},
    )
    assert response.status_code == 302
    assert incident.responders.filter(user=teammate, role="Scribe").exists()


def test_people_suggestions_complete_the_last_name_typed(client, pm, teammate, responder):
    client.force_login(pm)
    response = client.get(reverse("incidents:people"), {"q": "responder, tea"})
    assert '<option value="responder, teammate">' in response.text
    assert "Rui" not in response.text


def test_allocating_through_the_form_sends_invites(
    client, incident, pm, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(pm)
    responder = incident.responders.get()
    due = timezone.now() + timedelta(days=4)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("incidents:allocate", args=[incident.pk]),
            {
                f"r{responder.pk}_include": "on",
                f"r{responder.pk}_minutes": "150",
                f"r{responder.pk}_due": local(due),
            },
        )
    assert response.status_code == 302
    analysis = AnalysisSession.objects.get()
    assert analysis.allocated_minutes == 150
    assert len(mailoutbox) == 1


def test_allocating_with_bad_minutes_is_a_400(client, incident, pm):
    client.force_login(pm)
    responder = incident.responders.get()
    response = client.post(
        reverse("incidents:allocate", args=[incident.pk]),
        {
            f"r{responder.pk}_include": "on",
            f"r{responder.pk}_minutes": "-5",
            f"r{responder.pk}_due": "not a date",
        },
    )
    assert response.status_code == 400
    assert not AnalysisSession.objects.exists()


def test_the_analyst_saves_the_report_with_themes(client, analysis, responder):
    client.force_login(responder)
    response = client.post(
        analysis.get_absolute_url(),
        {
            "version": 1,
            "report": "## Findings",
            "time_spent_minutes": 30,
            "new_themes": "Retry storms, Alert fatigue",
        },
    )
    assert response.status_code == 302
    analysis.refresh_from_db()
    assert analysis.version == 2
    assert sorted(analysis.themes.values_list("name", flat=True)) == ["Alert fatigue", "Retry storms"]


def test_a_stale_save_is_refused_with_409_and_keeps_what_was_typed(client, analysis, responder):
    client.force_login(responder)
    client.post(
        analysis.get_absolute_url(), {"version": 1, "report": "saved in another tab", "time_spent_minutes": 5}
    )

    response = client.post(
        analysis.get_absolute_url(), {"version": 1, "report": "my careful words", "time_spent_minutes": 9}
    )

    assert response.status_code == 409
    assert "Someone else saved a newer version" in response.text
    assert "my careful words" in response.text
    assert "saved in another tab" in response.text
    assert response.context["form"]["version"].value() == 2
    analysis.refresh_from_db()
    assert analysis.report == "saved in another tab"


def test_bad_input_on_the_analysis_form_is_a_400(client, analysis, responder):
    client.force_login(responder)
    response = client.post(
        analysis.get_absolute_url(), {"version": 1, "report": "x", "time_spent_minutes": -3, "themes": [999]}
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"time_spent_minutes", "themes"}


def test_only_the_analyst_can_edit_an_analysis(client, analysis, pm, teammate, other_team_member):
    for person, status in ((pm, 403), (teammate, 403), (other_team_member, 404)):
        client.force_login(person)
        assert (
            client.post(
                analysis.get_absolute_url(), {"version": 1, "report": "x", "time_spent_minutes": 1}
            ).status_code
            == status
        )
        assert client.get(analysis.get_absolute_url()).status_code == status


def test_the_team_reads_a_submitted_analysis(client, analysis, responder, teammate):
    analysis.report = "## Submitted words"
    analysis.status = AnalysisSession.Status.SUBMITTED
    analysis.save()
    client.force_login(teammate)
    response = client.get(analysis.get_absolute_url())
    assert response.status_code == 200
    assert "<h2>Submitted words</h2>" in response.text
    assert "Save" not in response.text


def test_key_events_and_interviews_are_added_with_htmx(client, analysis, responder):
    client.force_login(responder)
    moment = analysis.incident.started_at + timedelta(minutes=3)
    response = client.post(
        reverse("incidents:key_event_add", args=[analysis.pk]),
        {
            "occurred_at": local(moment),
            "description": "Pager went off",
            "evidence_url": "https://logs.example.org/1",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert 'id="key-events"' in response.text
    assert "Pager went off" in response.text
    response = client.post(
        reverse("incidents:interview_add", args=[analysis.pk]),
        {"interviewee": "Dana", "held_at": local(timezone.now()), "notes": "Talked"},
    )
    assert response.status_code == 302
    assert Interview.objects.get().interviewee == "Dana"


def test_a_bad_key_event_is_a_400_and_adds_nothing(client, analysis, responder):
    client.force_login(responder)
    response = client.post(
        reverse("incidents:key_event_add", args=[analysis.pk]),
        {"occurred_at": "yesterday", "description": "", "evidence_url": "not a url"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert not KeyEvent.objects.exists()


def test_someone_else_cannot_add_to_or_delete_from_an_analysis(client, analysis, teammate, responder):
    event = KeyEventFactory(analysis=analysis)
    client.force_login(teammate)
    assert client.post(reverse("incidents:key_event_delete", args=[analysis.pk, event.pk])).status_code == 403
    assert KeyEvent.objects.filter(pk=event.pk).exists()


def test_submitting_through_the_page_locks_the_editor(client, analysis, responder):
    client.force_login(responder)
    client.post(analysis.get_absolute_url(), {"version": 1, "report": "All done", "time_spent_minutes": 60})
    response = client.post(reverse("incidents:analysis_submit", args=[analysis.pk]))
    assert response.status_code == 302
    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.SUBMITTED
    page = client.get(analysis.get_absolute_url())
    assert "Submit analysis" not in page.text
    assert (
        client.post(
            analysis.get_absolute_url(), {"version": 2, "report": "x", "time_spent_minutes": 1}
        ).status_code
        == 403
    )


def test_the_incident_page_shows_the_merged_timeline_with_whose_analysis(client, incident, pm, teammate):
    first = AnalysisSessionFactory(
        responder=incident.responders.get(), status=AnalysisSession.Status.SUBMITTED
    )
    second = AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=teammate), status=AnalysisSession.Status.SUBMITTED
    )
    KeyEventFactory(
        analysis=second, occurred_at=incident.started_at + timedelta(minutes=1), description="Deploy went out"
    )
    KeyEventFactory(
        analysis=first, occurred_at=incident.started_at + timedelta(minutes=9), description="Alert fired"
    )
    client.force_login(pm)
    response = client.get(incident.get_absolute_url())
    text = response.text
    assert text.index("Deploy went out") < text.index("Alert fired")
    assert "Tess Mate’s analysis" in text


def test_events_of_an_analysis_in_progress_are_shown_only_to_its_analyst(client, incident, pm, responder):
    analysis = AnalysisSessionFactory(responder=incident.responders.get())
    KeyEventFactory(analysis=analysis, description="Not yet shared")
    client.force_login(pm)
    assert "Not yet shared" not in client.get(incident.get_absolute_url()).text
    client.force_login(responder)
    assert "Not yet shared" in client.get(incident.get_absolute_url()).text


def test_the_timeline_counts_and_dates_only_the_events_its_viewer_may_see(
    client, incident, pm, responder, teammate
):
    in_progress = AnalysisSessionFactory(responder=incident.responders.get())
    KeyEventFactory.create_batch(2, analysis=in_progress)
    shared = AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=teammate), status=AnalysisSession.Status.SUBMITTED
    )
    KeyEventFactory(
        analysis=shared, occurred_at=datetime(2025, 3, 5, 14, 3, tzinfo=UTC), description="Shared"
    )
    client.force_login(pm)
    text = client.get(incident.get_absolute_url()).text
    assert "1 key event." in text
    assert '<time datetime="2025-03-05T14:03:00+00:00">5 Mar 14:03</time>' in text
    client.force_login(responder)
    assert "3 key events." in client.get(incident.get_absolute_url()).text


def test_markdown_preview_is_sanitised(client, responder):
    client.force_login(responder)
    response = client.post(reverse("incidents:preview"), {"report": "**bold** <script>alert(1)</script>"})
    assert "<strong>bold</strong>" in response.text
    assert "<script>" not in response.text


def test_incident_list_filters_by_severity_and_title(client, team, service, pm):
    IncidentFactory(team=team, service=service, severity="sev1", title="Database failover")
    IncidentFactory(team=team, service=service, severity="sev4", title="Typo in banner")
    client.force_login(pm)
    response = client.get("/incidents/", {"severity": "sev1"})
    assert "Database failover" in response.text and "Typo in banner" not in response.text
    response = client.get("/incidents/", {"q": "banner"})
    assert "Typo in banner" in response.text and "Database failover" not in response.text
    assert client.get("/incidents/", {"severity": "bogus", "page": "x"}).status_code == 200


def test_account_settings_opt_out_and_feed_token_rotation(client, responder):
    client.force_login(responder)
    old_token = responder.feed_token
    client.post(reverse("incidents:settings"), {"broadcast_opt_out": "on"})
    client.post(reverse("incidents:settings"), {"rotate_feed_token": "1"})
    responder.refresh_from_db()
    assert responder.broadcast_opt_out is True
    assert responder.feed_token != old_token


def queries_for(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_incident_list_queries_do_not_grow_with_rows(client, team, service, pm):
    client.force_login(pm)
    IncidentFactory.create_batch(10, team=team, service=service)
    small = queries_for(client, "/incidents/")
    IncidentFactory.create_batch(190, team=team, service=service)
    assert queries_for(client, "/incidents/") == small


def test_incident_page_queries_do_not_grow_with_key_events(client, incident, pm, teammate):
    client.force_login(pm)
    analyses = [
        AnalysisSessionFactory(responder=incident.responders.get(), status=AnalysisSession.Status.SUBMITTED),
        AnalysisSessionFactory(
            responder=ResponderFactory(incident=incident, user=teammate),
            status=AnalysisSession.Status.SUBMITTED,
        ),
    ]
    for index in range(10):
        KeyEventFactory(analysis=analyses[index % 2])
    small = queries_for(client, incident.get_absolute_url())
    KeyEvent.objects.bulk_create(
        KeyEvent(
            analysis=analyses[index % 2],
            incident=incident,
            occurred_at=incident.started_at,
            description=f"e{index}",
        )
        for index in range(190)
    )
    assert queries_for(client, incident.get_absolute_url()) == small


def test_a_long_timeline_is_shown_a_page_at_a_time(client, incident, pm, other_team_member):
    analysis = AnalysisSessionFactory(
        responder=incident.responders.get(), status=AnalysisSession.Status.SUBMITTED
    )
    KeyEvent.objects.bulk_create(
        KeyEvent(
            analysis=analysis,
            incident=incident,
            occurred_at=incident.started_at + timedelta(seconds=index),
            description=f"event-{index:03d}",
        )
        for index in range(150)
    )
    client.force_login(pm)
    page = client.get(incident.get_absolute_url()).text
    assert "event-049" in page and "event-050" not in page
    assert "150 key events" in page
    more = client.get(
        reverse("incidents:timeline", args=[incident.pk]), {"timeline_page": 3}, HTTP_HX_REQUEST="true"
    )
    assert "event-100" in more.text and "event-149" in more.text and "event-099" not in more.text
    assert "Show the next events" not in more.text
    client.force_login(other_team_member)
    assert client.get(reverse("incidents:timeline", args=[incident.pk])).status_code == 404
