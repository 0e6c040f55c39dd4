from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from icalendar import Calendar

from incidents import services
from incidents.models import AnalysisSession, AuditEntry, Incident, LearningTheme, Notification, Responder
from tests.factories import AnalysisSessionFactory, ResponderFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


def declare(pm, team, service, **overrides):
    now = timezone.now()
    arguments = {
        "by": pm,
        "team": team,
        "service": service,
        "title": "Payments failing",
        "severity": Incident.Severity.SEV2,
        "started_at": now - timedelta(hours=3),
        "detected_at": now - timedelta(hours=2),
        "resolved_at": now - timedelta(hours=1),
    }
    return services.incident_declare(**(arguments | overrides))


def allocate(incident, pm, *responders, minutes=120):
    due = timezone.now() + timedelta(days=3)
    return services.analysis_allocate(
        incident=incident,
        by=pm,
        allocations=[
            services.Allocation(responder=r, allocated_minutes=minutes, due_at=due) for r in responders
        ],
    )


def test_declaring_an_incident_records_it_with_responders_and_an_audit_entry(pm, team, service, responder):
    incident = declare(pm, team, service, responders=[(responder, "Incident commander")])

    assert incident.status == Incident.Status.DECLARED
    assert list(incident.responders.values_list("user__username", "role")) == [
        ("responder", "Incident commander")
    ]
    assert AuditEntry.objects.filter(verb="incident.declared", target_id=str(incident.pk), actor=pm).exists()


def test_resolved_before_started_is_refused_with_a_field_message(pm, team, service):
    now = timezone.now()
    with pytest.raises(ValidationError) as error:
        declare(
            pm,
            team,
            service,
            started_at=now - timedelta(hours=1),
            detected_at=None,
            resolved_at=now - timedelta(hours=2),
        )

    assert "resolved_at" in error.value.message_dict
    assert not Incident.objects.exists()


def test_a_service_of_another_team_is_refused(pm, team, other_team):
    foreign_service = ServiceFactory(team=other_team)
    with pytest.raises(ValidationError) as error:
        declare(pm, team, foreign_service)
    assert error.value.message_dict["service"] == ["This service belongs to another team."]


def test_a_responder_outside_the_organisation_is_refused(incident, pm):
    former = UserFactory(username="former", is_active=False)
    with pytest.raises(ValidationError) as error:
        services.responder_add(incident=incident, by=pm, user=former, role="")
    assert "not an active member" in error.value.message_dict["user"][0]


def test_the_same_responder_cannot_be_added_twice(incident, pm, responder):
    with pytest.raises(ValidationError):
        services.responder_add(incident=incident, by=pm, user=responder)


@contextmanager
def competing_insert_after(query_fragment: str, insert: Callable[[], object]) -> Iterator[None]:
    """Run `insert` (another person's request) right after the first query containing
    `query_fragment`: the race between a service's check and its own insert, made certain."""
    done = False

    def wrapper(execute, sql, params, many, context):
        nonlocal done
        result = execute(sql, params, many, context)
        if not done and query_fragment in sql:
            done = True
            insert()
        return result

    with connection.execute_wrapper(wrapper):
        yield


def test_a_responder_added_by_someone_else_since_the_check_is_refused_not_a_crash(incident, pm, teammate):
    with (
        competing_insert_after(
            'FROM "incidents_responder"',
            lambda: Responder.objects.create(incident=incident, user=teammate, role="Scribe"),
        ),
        pytest.raises(ValidationError) as error,
    ):
        services.responder_add(incident=incident, by=pm, user=teammate, role="Comms")
    assert "already a responder" in error.value.message_dict["user"][0]
    assert not AuditEntry.objects.filter(verb="responder.added").exists()


def test_a_theme_created_by_someone_else_since_the_check_is_the_one_returned(responder):
    with competing_insert_after(
        'FROM "incidents_learningtheme"',
        lambda: LearningTheme.objects.create(name="Retry storms", slug="retry-storms"),
    ):
        theme = services.theme_get_or_create(name="retry storms", by=responder)
    assert theme.slug == "retry-storms"
    assert LearningTheme.objects.count() == 1
    assert not AuditEntry.objects.filter(verb="theme.created").exists()


def test_a_slug_taken_by_another_theme_since_the_check_moves_to_the_next_one(responder):
    with competing_insert_after(
        '"incidents_learningtheme"."slug" =',
        lambda: LearningTheme.objects.create(name="Retry storms?", slug="retry-storms"),
    ):
        theme = services.theme_get_or_create(name="Retry storms!", by=responder)
    assert theme.slug == "retry-storms-2"
    assert theme.name == "Retry storms!"


def test_allocation_creates_one_session_per_responder_and_emails_a_calendar_block(
    incident, pm, teammate, django_capture_on_commit_callbacks
):
    second = ResponderFactory(incident=incident, user=teammate)
    first = incident.responders.get(user__username="responder")
    with django_capture_on_commit_callbacks(execute=True):
        sessions = allocate(incident, pm, first, second, minutes=90)

    assert [s.analyst.username for s in sessions] == ["responder", "teammate"]
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ANALYSING
    assert sorted(m.to[0] for m in mail.outbox) == ["responder@example.org", "teammate@example.org"]
    message = next(m for m in mail.outbox if m.to == ["responder@example.org"])
    assert "90 min" in message.subject
    _filename, content, mimetype = message.attachments[0]
    assert mimetype.startswith("text/calendar")
    event = Calendar.from_ical(content).walk("VEVENT")[0]
    assert event["UID"] == f"analysis-{sessions[0].pk}@ybiyri"
    assert event.decoded("DTEND") == sessions[0].due_at.replace(microsecond=0)
    assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(minutes=90)
    assert Notification.objects.filter(state=Notification.State.SENT).count() == 2


def test_allocating_again_with_the_same_values_sends_nothing_new(
    incident, pm, django_capture_on_commit_callbacks
):
    responder = incident.responders.get()
    due = timezone.now() + timedelta(days=2)
    allocation = services.Allocation(responder=responder, allocated_minutes=60, due_at=due)
    with django_capture_on_commit_callbacks(execute=True):
        services.analysis_allocate(incident=incident, by=pm, allocations=[allocation])
        services.analysis_allocate(incident=incident, by=pm, allocations=[allocation])
    assert len(mail.outbox) == 1
    assert AnalysisSession.objects.count() == 1


def test_adjusting_an_allocation_sends_an_updated_invite(incident, pm, django_capture_on_commit_callbacks):
    responder = incident.responders.get()
    due = timezone.now() + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.analysis_allocate(
            incident=incident,
            by=pm,
            allocations=[services.Allocation(responder=responder, allocated_minutes=60, due_at=due)],
        )
        services.analysis_allocate(
            incident=incident,
            by=pm,
            allocations=[services.Allocation(responder=responder, allocated_minutes=180, due_at=due)],
        )
    assert len(mail.outbox) == 2
    sequences = [Calendar.from_ical(m.attachments[0][1]).walk("VEVENT")[0]["SEQUENCE"] for m in mail.outbox]
    assert sequences[0] == 0 and sequences[1] > 0
    assert AnalysisSession.objects.get().allocated_minutes == 180


@pytest.mark.parametrize(("minutes", "days"), [(0, 2), (99999, 2), (60, -1)])
def test_allocation_with_bad_minutes_or_past_due_date_is_refused(incident, pm, minutes, days):
    allocation = services.Allocation(
        responder=incident.responders.get(),
        allocated_minutes=minutes,
        due_at=timezone.now() + timedelta(days=days),
    )
    with pytest.raises(ValidationError):
        services.analysis_allocate(incident=incident, by=pm, allocations=[allocation])
    assert not AnalysisSession.objects.exists()


def test_saving_with_a_stale_version_is_refused_and_keeps_the_stored_report(incident, responder):
    analysis = AnalysisSessionFactory(responder=incident.responders.get())
    services.analysis_save(
        analysis=analysis, by=responder, version=1, changes={"report": "first", "time_spent_minutes": 10}
    )

    with pytest.raises(services.StaleVersion) as stale:
        services.analysis_save(
            analysis=analysis, by=responder, version=1, changes={"report": "second", "time_spent_minutes": 20}
        )

    assert stale.value.current_version == 2
    analysis.refresh_from_db()
    assert (analysis.report, analysis.version, analysis.status) == (
        "first",
        2,
        AnalysisSession.Status.IN_PROGRESS,
    )


def test_themes_are_shared_case_insensitively(responder):
    first = services.theme_get_or_create(name="Retry  storms", by=responder)
    again = services.theme_get_or_create(name="retry storms", by=responder)
    assert first == again
    assert first.name == "Retry storms"
    assert LearningTheme.objects.count() == 1


def test_submitting_locks_the_analysis_and_tells_the_product_manager(
    incident, pm, responder, django_capture_on_commit_callbacks
):
    analysis = AnalysisSessionFactory(responder=incident.responders.get(), scheduled_by=pm)
    analysis = services.analysis_save(
        analysis=analysis, by=responder, version=1, changes={"report": "# Done", "time_spent_minutes": 50}
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.analysis_submit(analysis=analysis, by=responder)

    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.SUBMITTED
    assert analysis.submitted_at is not None
    assert [m.to for m in mail.outbox] == [["pm@example.org"]]
    with pytest.raises(ValidationError, match="locked"):
        services.analysis_save(
            analysis=analysis,
            by=responder,
            version=analysis.version,
            changes={"report": "x", "time_spent_minutes": 1},
        )
    with pytest.raises(ValidationError, match="locked"):
        services.key_event_add(
            analysis=analysis, by=responder, occurred_at=timezone.now(), description="late"
        )


def test_an_empty_report_cannot_be_submitted(incident, responder):
    analysis = AnalysisSessionFactory(responder=incident.responders.get())
    with pytest.raises(ValidationError) as error:
        services.analysis_submit(analysis=analysis, by=responder)
    assert "report" in error.value.message_dict


def test_key_events_belong_to_the_incident_timeline_and_start_the_analysis(incident, responder):
    analysis = AnalysisSessionFactory(responder=incident.responders.get())
    event = services.key_event_add(
        analysis=analysis,
        by=responder,
        occurred_at=incident.started_at,
        description="Alert fired",
        evidence_url="",
    )
    assert event.incident_id == incident.pk
    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.IN_PROGRESS


def test_a_key_event_with_a_bad_evidence_link_is_refused(incident, responder):
    analysis = AnalysisSessionFactory(responder=incident.responders.get())
    with pytest.raises(ValidationError) as error:
        services.key_event_add(
            analysis=analysis,
            by=responder,
            occurred_at=incident.started_at,
            description="x",
            evidence_url="javascript:alert(1)",
        )
    assert "evidence_url" in error.value.message_dict


def test_a_responder_who_has_analysed_cannot_be_removed(incident, pm, responder):
    responder_row = incident.responders.get()
    analysis = AnalysisSessionFactory(responder=responder_row)
    services.analysis_save(
        analysis=analysis, by=responder, version=1, changes={"report": "notes", "time_spent_minutes": 5}
    )
    with pytest.raises(ValidationError):
        services.responder_remove(responder=responder_row, by=pm)
    assert incident.responders.exists()


def test_titles_are_kept_to_one_line(pm, team, service, django_capture_on_commit_callbacks, mailoutbox):
    incident = declare(pm, team, service, title="Checkout\r\nBcc: victim@example.org")
    assert incident.title == "Checkout Bcc: victim@example.org"
    services.incident_update(incident=incident, by=pm, changes={"title": "Two\nlines"})
    assert incident.title == "Two lines"
