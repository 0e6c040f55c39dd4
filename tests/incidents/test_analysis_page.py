"""The analysis page: one form with Save and Save-and-submit, autosave, in-place corrections,
the incident for context, the organisation's guiding prompts and the time-box warning."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents import services
from incidents.models import AnalysisSession, AuditEntry, ReportGuide
from tests.factories import AnalysisSessionFactory, InterviewFactory, KeyEventFactory, LearningThemeFactory

pytestmark = pytest.mark.django_db


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def analysis(incident, pm):
    return AnalysisSessionFactory(responder=incident.responders.get(), scheduled_by=pm, allocated_minutes=90)


def test_save_and_submit_saves_what_was_typed_before_submitting(client, analysis, responder):
    theme = LearningThemeFactory(name="Alert fatigue")
    client.force_login(responder)
    response = client.post(
        analysis.get_absolute_url(),
        {
            "version": 1,
            "report": "## What happened\n\nThe pool ran dry.",
            "time_spent_minutes": 75,
            "themes": [theme.pk],
            "new_themes": "Retry storms",
            "action": "submit",
        },
    )
    assert response.status_code == 302
    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.SUBMITTED
    assert analysis.report == "## What happened\n\nThe pool ran dry."
    assert analysis.time_spent_minutes == 75
    assert sorted(analysis.themes.values_list("name", flat=True)) == ["Alert fatigue", "Retry storms"]


def test_save_and_submit_with_an_empty_report_submits_nothing_and_keeps_the_input(
    client, analysis, responder
):
    client.force_login(responder)
    response = client.post(
        analysis.get_absolute_url(),
        {"version": 1, "report": "  ", "time_spent_minutes": 33, "action": "submit"},
    )
    assert response.status_code == 400
    assert "Write the analysis report before submitting." in response.text
    assert 'value="33"' in response.text
    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.SCHEDULED
    assert analysis.version == 1


def test_a_stale_save_and_submit_is_refused_with_a_diff_and_a_preview_of_the_kept_text(
    client, analysis, responder
):
    client.force_login(responder)
    client.post(
        analysis.get_absolute_url(),
        {"version": 1, "report": "Line one\nsaved elsewhere", "time_spent_minutes": 5},
    )
    response = client.post(
        analysis.get_absolute_url(),
        {
            "version": 1,
            "report": "Line one\n**my careful words**",
            "time_spent_minutes": 9,
            "action": "submit",
        },
    )
    assert response.status_code == 409
    assert "<del>saved elsewhere</del>" in response.text
    assert "<ins>**my careful words**</ins>" in response.text
    assert (
        '<div class="markdown conflict-preview"><p>Line one\n<strong>my careful words</strong></p>'
        in response.text
    )
    assert 'name="version" value="2"' in response.text
    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.IN_PROGRESS
    assert analysis.report == "Line one\nsaved elsewhere"


def test_autosave_saves_the_draft_and_answers_with_the_new_version(client, analysis, responder):
    client.force_login(responder)
    url = reverse("incidents:analysis_autosave", args=[analysis.pk])
    response = client.post(
        url, {"version": 1, "report": "Draft", "time_spent_minutes": 10, "new_themes": "X"}
    )
    assert response.status_code == 200
    assert response.json()["version"] == 2
    analysis.refresh_from_db()
    assert (analysis.report, analysis.version, analysis.themes.count()) == ("Draft", 2, 0)


def test_autosave_never_overwrites_a_newer_save(client, analysis, responder):
    client.force_login(responder)
    client.post(
        analysis.get_absolute_url(),
        {"version": 1, "report": "Saved in the other tab", "time_spent_minutes": 5},
    )
    url = reverse("incidents:analysis_autosave", args=[analysis.pk])
    response = client.post(url, {"version": 1, "report": "Stale draft", "time_spent_minutes": 5})
    assert response.status_code == 409
    assert response.json()["current_version"] == 2
    analysis.refresh_from_db()
    assert analysis.report == "Saved in the other tab"


@pytest.mark.parametrize(
    "data",
    [
        {"version": 1, "report": "x", "time_spent_minutes": -1},
        {"version": "one", "report": "x", "time_spent_minutes": 1},
        {"report": "x", "time_spent_minutes": 1},
        {"version": 1, "report": "x" * 100001, "time_spent_minutes": 1},
    ],
)
def test_autosave_refuses_bad_input_with_a_400(client, analysis, responder, data):
    client.force_login(responder)
    response = client.post(reverse("incidents:analysis_autosave", args=[analysis.pk]), data)
    assert response.status_code == 400
    assert "errors" in response.json()
    analysis.refresh_from_db()
    assert analysis.version == 1


def test_autosave_is_for_the_analyst_only(client, analysis, teammate, other_team_member):
    url = reverse("incidents:analysis_autosave", args=[analysis.pk])
    data = {"version": 1, "report": "not mine", "time_spent_minutes": 1}
    client.force_login(teammate)
    assert client.post(url, data).status_code == 403
    client.force_login(other_team_member)
    assert client.post(url, data).status_code == 404
    analysis.refresh_from_db()
    assert analysis.report == ""


def test_autosave_of_a_submitted_analysis_is_refused(client, analysis, responder):
    analysis.status = AnalysisSession.Status.SUBMITTED
    analysis.save()
    client.force_login(responder)
    response = client.post(
        reverse("incidents:analysis_autosave", args=[analysis.pk]),
        {"version": 1, "report": "late", "time_spent_minutes": 1},
    )
    assert response.status_code == 400


def test_the_page_shows_the_incident_the_guiding_prompts_and_durations_for_people(
    client, analysis, responder
):
    client.force_login(responder)
    response = client.get(analysis.get_absolute_url())
    assert analysis.incident.summary in response.text
    assert "What got in the way?" in response.text
    assert "Time-box: 1 h 30 min" in response.text
    assert "(after 5 min)" in response.text
    assert "(after 2 h)" in response.text
    assert "Save and submit" in response.text


def test_the_guiding_prompts_are_the_organisations_own_once_edited(client, analysis, responder):
    ReportGuide.objects.create(prompts="Which signals did you trust?\n\nWho did you call first?")
    client.force_login(responder)
    response = client.get(analysis.get_absolute_url())
    assert "<li>Which signals did you trust?</li>" in response.text
    assert "<li>Who did you call first?</li>" in response.text
    assert "What got in the way?" not in response.text


def test_the_guide_is_one_row_whatever_is_saved(db):
    ReportGuide(prompts="One").save()
    ReportGuide(prompts="Two").save()
    assert list(ReportGuide.objects.values_list("prompts", flat=True)) == ["Two"]


def test_time_spent_past_the_allocation_is_pointed_out(client, analysis, responder):
    client.force_login(responder)
    assert (
        'id="time-warning" class="warning" role="status" hidden'
        in client.get(analysis.get_absolute_url()).text
    )
    client.post(analysis.get_absolute_url(), {"version": 1, "report": "x", "time_spent_minutes": 120})
    response = client.get(analysis.get_absolute_url())
    assert 'id="time-warning" class="warning" role="status">' in response.text
    assert "passes the 1 h 30 min allocated" in response.text


# Key events and interviews corrected in place -------------------------------------------------


def test_key_event_update_corrects_the_event_and_audits_it(analysis, responder):
    event = KeyEventFactory(analysis=analysis, description="Alert fired")
    moment = analysis.incident.started_at + timedelta(minutes=7)
    services.key_event_update(
        key_event=event, by=responder, occurred_at=moment, description=" Alert fired twice ", evidence_url=""
    )
    event.refresh_from_db()
    assert (event.description, event.occurred_at) == ("Alert fired twice", moment)
    entry = AuditEntry.objects.get(verb="key_event.updated")
    assert entry.changes["description"] == ["Alert fired", "Alert fired twice"]


def test_a_submitted_analysis_keeps_its_key_events_and_interviews(analysis, responder):
    event = KeyEventFactory(analysis=analysis, description="Alert fired")
    interview = InterviewFactory(analysis=analysis, interviewee="Dana")
    analysis.status = AnalysisSession.Status.SUBMITTED
    analysis.save()
    with pytest.raises(services.ValidationError):
        services.key_event_update(
            key_event=event, by=responder, occurred_at=event.occurred_at, description="Changed"
        )
    with pytest.raises(services.ValidationError):
        services.interview_update(
            interview=interview, by=responder, interviewee="Eve", held_at=timezone.now()
        )
    event.refresh_from_db()
    interview.refresh_from_db()
    assert (event.description, interview.interviewee) == ("Alert fired", "Dana")


def test_interview_update_corrects_the_interview_and_audits_it(analysis, responder):
    interview = InterviewFactory(analysis=analysis, interviewee="Dana")
    services.interview_update(
        interview=interview, by=responder, interviewee="Dana Db", held_at=interview.held_at, notes="More"
    )
    interview.refresh_from_db()
    assert (interview.interviewee, interview.notes) == ("Dana Db", "More")
    assert AuditEntry.objects.get(verb="interview.updated").changes == {"interviewee": ["Dana", "Dana Db"]}


def test_a_key_event_is_edited_in_place_with_htmx(client, analysis, responder):
    event = KeyEventFactory(analysis=analysis, description="Alert fired")
    client.force_login(responder)
    prefix = f"key-event-{event.pk}"
    response = client.post(
        reverse("incidents:key_event_edit", args=[analysis.pk, event.pk]),
        {
            f"{prefix}-occurred_at": local(event.occurred_at),
            f"{prefix}-description": "Alert fired at 10:03",
            f"{prefix}-evidence_url": "https://logs.example.org/2",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="key-events"')
    assert 'data-announce="Key event updated."' in response.text
    event.refresh_from_db()
    assert event.description == "Alert fired at 10:03"


def test_a_bad_key_event_correction_is_a_400_that_keeps_the_typed_input(client, analysis, responder):
    event = KeyEventFactory(analysis=analysis, description="Alert fired")
    client.force_login(responder)
    prefix = f"key-event-{event.pk}"
    response = client.post(
        reverse("incidents:key_event_edit", args=[analysis.pk, event.pk]),
        {f"{prefix}-occurred_at": "", f"{prefix}-description": "Typed", f"{prefix}-evidence_url": "nope"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    assert "Enter a valid URL." in response.text
    assert 'value="nope"' in response.text
    assert '<details class="inline-edit" open>' in response.text
    event.refresh_from_db()
    assert event.description == "Alert fired"


def test_an_interview_is_corrected_without_javascript(client, analysis, responder):
    interview = InterviewFactory(analysis=analysis, interviewee="Dana")
    client.force_login(responder)
    prefix = f"interview-{interview.pk}"
    url = reverse("incidents:interview_edit", args=[analysis.pk, interview.pk])
    response = client.post(
        url, {f"{prefix}-interviewee": "Dana Db", f"{prefix}-held_at": local(interview.held_at)}
    )
    assert response.status_code == 302
    interview.refresh_from_db()
    assert interview.interviewee == "Dana Db"
    response = client.post(url, {f"{prefix}-interviewee": "", f"{prefix}-held_at": "soon"})
    assert response.status_code == 400
    assert "<h1>" in response.text


def test_someone_else_cannot_correct_an_analysis(client, analysis, teammate, other_team_member, responder):
    event = KeyEventFactory(analysis=analysis, description="Alert fired")
    interview = InterviewFactory(analysis=analysis, interviewee="Dana")
    urls = {
        reverse("incidents:key_event_edit", args=[analysis.pk, event.pk]): {
            f"key-event-{event.pk}-occurred_at": local(event.occurred_at),
            f"key-event-{event.pk}-description": "Hijacked",
        },
        reverse("incidents:interview_edit", args=[analysis.pk, interview.pk]): {
            f"interview-{interview.pk}-interviewee": "Hijacked",
            f"interview-{interview.pk}-held_at": local(interview.held_at),
        },
    }
    for user, status in ((teammate, 403), (other_team_member, 404)):
        client.force_login(user)
        for url, data in urls.items():
            assert client.post(url, data).status_code == status
    other = AnalysisSessionFactory()
    client.force_login(responder)
    foreign = reverse("incidents:key_event_edit", args=[analysis.pk, KeyEventFactory(analysis=other).pk])
    assert client.post(foreign, {}).status_code == 404
    event.refresh_from_db()
    interview.refresh_from_db()
    assert (event.description, interview.interviewee) == ("Alert fired", "Dana")
