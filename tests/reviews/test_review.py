from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from incidents.models import AnalysisSession, Incident
from reviews.models import ContributingFactor, ImprovementAction, Learning, Review
from reviews.services import review as review_services
from reviews.services.actions import action_raise
from tests.factories import AnalysisSessionFactory, ResponderFactory

pytestmark = pytest.mark.django_db


def invites(mailoutbox):
    """(recipient, METHOD, UID, SEQUENCE, DTSTART) of each calendar email."""
    parsed = []
    for message in mailoutbox:
        calendar = Calendar.from_ical(message.attachments[0][1])
        event = calendar.walk("VEVENT")[0]
        parsed.append(
            (
                message.to[0],
                str(calendar["METHOD"]),
                str(event["UID"]),
                int(event["SEQUENCE"]),
                event.decoded("DTSTART"),
            )
        )
    return parsed


def schedule(incident, pm, **overrides):
    arguments = {
        "incident": incident,
        "by": pm,
        "scheduled_at": timezone.now() + timedelta(days=2),
        "time_zone": "Europe/Paris",
        "duration_minutes": 60,
        "facilitator": pm,
        "attendees": review_services.default_attendees(incident),
        "location": "Room Ada",
    }
    return review_services.review_schedule(**(arguments | overrides))


def test_scheduling_invites_responders_and_managers_with_a_request(
    incident, pm, responder, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        review = schedule(incident, pm)

    parsed = invites(mailoutbox)
    assert sorted(entry[0] for entry in parsed) == ["pm@example.org", "responder@example.org"]
    assert {entry[1:4] for entry in parsed} == {("REQUEST", f"review-{review.uid}@ybiyri", 0)}
    assert parsed[0][4] == review.scheduled_at.replace(microsecond=0)
    assert str(
        Calendar.from_ical(mailoutbox[0].attachments[0][1]).walk("VEVENT")[0]["DTSTART"].to_ical()
    ).endswith("Z'")
    incident.refresh_from_db()
    assert incident.status == Incident.Status.REVIEWING


def test_rescheduling_sends_an_update_with_the_same_uid_and_a_higher_sequence(
    incident, pm, teammate, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        review = schedule(incident, pm)
    mailoutbox.clear()
    later = timezone.now() + timedelta(days=5)
    with django_capture_on_commit_callbacks(execute=True):
        review_services.review_reschedule(
            review=review, by=pm, attendees=[teammate],
            changes={"scheduled_at": later, "time_zone": "UTC", "duration_minutes": 90, "facilitator": pm},
        )  # fmt: skip

    parsed = {entry[0]: entry for entry in invites(mailoutbox)}
    assert parsed["teammate@example.org"][1:4] == ("REQUEST", f"review-{review.uid}@ybiyri", 1)
    assert parsed["pm@example.org"][1] == "REQUEST"
    assert parsed["teammate@example.org"][4] == later.replace(microsecond=0)
    assert parsed["responder@example.org"][1:4] == ("CANCEL", f"review-{review.uid}@ybiyri", 1)


def test_cancelling_sends_cancel_to_everyone(incident, pm, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        review = schedule(incident, pm)
        review_services.review_cancel(review=review, by=pm)
    cancels = [entry for entry in invites(mailoutbox) if entry[1] == "CANCEL"]
    assert sorted(entry[0] for entry in cancels) == ["pm@example.org", "responder@example.org"]
    assert {entry[3] for entry in cancels} == {1}
    incident.refresh_from_db()
    assert incident.status == Incident.Status.ANALYSING


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"scheduled_at": timezone.now() - timedelta(days=1)}, "scheduled_at"),
    ],
)
def test_scheduling_bad_input_is_refused_per_field(incident, pm, overrides, field):
    with pytest.raises(ValidationError) as error:
        schedule(incident, pm, **overrides)
    assert field in error.value.message_dict
    assert not Review.objects.exists()


def test_a_second_review_cannot_be_scheduled(incident, pm):
    schedule(incident, pm)
    with pytest.raises(ValidationError):
        schedule(incident, pm)


def test_learnings_are_ranked_and_reorderable(incident, pm):
    review = schedule(incident, pm)
    first = review_services.learning_add(review=review, by=pm, description="A")
    second = review_services.learning_add(review=review, by=pm, description="B")
    third = review_services.learning_add(review=review, by=pm, description="C")
    review_services.learning_move(learning=third, by=pm, offset=-1)
    assert list(review.learnings.values_list("description", flat=True)) == ["A", "C", "B"]
    with pytest.raises(ValidationError):
        review_services.learning_reorder(review=review, by=pm, ordered_ids=[first.pk, second.pk])
    review_services.learning_delete(learning=first, by=pm)
    assert list(Learning.objects.order_by("rank").values_list("description", "rank")) == [("C", 1), ("B", 2)]


def test_steps_are_marked_done_in_agenda_order_and_the_review_held(incident, pm):
    review = schedule(incident, pm)
    review_services.review_step_set(review=review, by=pm, step="factors", done=True)
    review = review_services.review_step_set(review=review, by=pm, step="reports", done=True)
    assert review.completed_steps == ["reports", "factors"]
    with pytest.raises(ValidationError):
        review_services.review_step_set(review=review, by=pm, step="dance", done=True)
    review = review_services.review_mark_held(review=review, by=pm)
    assert review.status == Review.Status.HELD and review.held_at is not None


def test_schedule_page_warns_about_unsubmitted_analyses(client, incident, pm):
    AnalysisSessionFactory(responder=incident.responders.get())
    client.force_login(pm)
    response = client.get(reverse("reviews:schedule", args=[incident.pk]))
    assert response.status_code == 200
    assert "Not every analysis is submitted yet" in response.text
    assert response.context["form"].initial["facilitator"] == pm


def test_scheduling_through_the_page_reads_the_time_in_the_chosen_zone(client, incident, pm, responder):
    client.force_login(pm)
    day = (timezone.now() + timedelta(days=10)).date()
    response = client.post(
        reverse("reviews:schedule", args=[incident.pk]),
        {
            "scheduled_at": f"{day.isoformat()}T10:00",
            "time_zone": "America/New_York",
            "duration_minutes": 60,
            "facilitator": "pm",
            "attendees": "responder",
        },
    )
    review = Review.objects.get()
    assert response.status_code == 302
    assert timezone.localtime(review.scheduled_at, timezone=ZoneInfo("America/New_York")).hour == 10


def test_schedule_page_bad_input_is_a_400(client, incident, pm):
    client.force_login(pm)
    response = client.post(
        reverse("reviews:schedule", args=[incident.pk]),
        {"scheduled_at": "soon", "time_zone": "Nowhere", "duration_minutes": 2, "facilitator": "ghost"},
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {
        "scheduled_at",
        "time_zone",
        "duration_minutes",
        "facilitator",
    }


def test_only_managers_schedule_and_other_teams_get_404(client, incident, teammate, other_team_member):
    client.force_login(teammate)
    assert client.get(reverse("reviews:schedule", args=[incident.pk])).status_code == 403
    client.force_login(other_team_member)
    assert client.get(reverse("reviews:schedule", args=[incident.pk])).status_code == 404


def test_facilitation_page_shows_reports_side_by_side_and_records_outcomes(client, incident, pm, teammate):
    for user, report in ((incident.responders.get().user, "## Alpha view"), (teammate, "## Beta view")):
        responder = incident.responders.filter(user=user).first() or ResponderFactory(
            incident=incident, user=user
        )
        AnalysisSessionFactory(
            responder=responder,
            report=report,
            status=AnalysisSession.Status.SUBMITTED,
            submitted_at=timezone.now(),
        )
    review = schedule(incident, pm)
    client.force_login(pm)
    page = client.get(review.get_absolute_url())
    assert "<h2>Alpha view</h2>" in page.text and "<h2>Beta view</h2>" in page.text
    for label in Review.Step.labels:
        assert label in page.text
    client.post(
        reverse("reviews:factor_add", args=[review.pk]),
        {"factor-description": "No backoff", "factor-kind": "technical"},
    )
    client.post(
        reverse("reviews:learning_add", args=[review.pk]), {"learning-description": "Budgets for retries"}
    )
    client.post(
        reverse("reviews:action_add", args=[review.pk]),
        {
            "action-title": "Add retry budget",
            "action-kind": "technical",
            "action-priority": "high",
            "action-owner": "pm",
            "action-description": "",
        },
    )
    client.post(reverse("reviews:step", args=[review.pk]), {"step": "factors", "done": "1"})
    client.post(reverse("reviews:held", args=[review.pk]))
    review.refresh_from_db()
    assert ContributingFactor.objects.get().kind == "technical"
    assert Learning.objects.get().rank == 1
    assert ImprovementAction.objects.get().review == review
    assert review.completed_steps == ["factors"]
    assert review.status == Review.Status.HELD


def test_facilitation_forms_with_bad_input_are_400s(client, incident, pm):
    review = schedule(incident, pm)
    client.force_login(pm)
    assert (
        client.post(
            reverse("reviews:factor_add", args=[review.pk]),
            {"factor-description": "", "factor-kind": "magic"},
        ).status_code
        == 400
    )
    assert (
        client.post(
            reverse("reviews:learning_add", args=[review.pk]), {"learning-description": ""}
        ).status_code
        == 400
    )
    response = client.post(
        reverse("reviews:action_add", args=[review.pk]),
        {"action-title": "", "action-kind": "x", "action-priority": "urgent", "action-owner": "ghost"},
    )
    assert response.status_code == 400
    assert set(response.context["action_form"].errors) >= {"title", "kind", "priority", "owner"}
    assert not ImprovementAction.objects.exists()


def test_team_members_read_the_review_but_cannot_change_it(client, incident, pm, teammate, other_team_member):
    review = schedule(incident, pm)
    client.force_login(teammate)
    assert client.get(review.get_absolute_url()).status_code == 200
    assert (
        client.post(
            reverse("reviews:factor_add", args=[review.pk]),
            {"factor-description": "x", "factor-kind": "human"},
        ).status_code
        == 403
    )
    client.force_login(other_team_member)
    assert client.get(review.get_absolute_url()).status_code == 404


def test_the_backlog_view_filters_and_sorts_actions(client, incident, pm):
    review = schedule(incident, pm)
    for title, priority in (("Low thing", "low"), ("Urgent thing", "highest")):
        action_raise(
            incident=incident,
            review=review,
            by=pm,
            title=title,
            description="",
            kind="human",
            owner=None,
            priority=priority,
            due_date=None,
        )
    client.force_login(pm)
    response = client.get(reverse("reviews:actions"), {"sort": "priority"})
    assert response.text.index("Urgent thing") < response.text.index("Low thing")
    response = client.get(reverse("reviews:actions"), {"priority": "low"})
    assert "Low thing" in response.text and "Urgent thing" not in response.text


def test_an_untracked_action_is_marked_done_from_the_backlog(client, incident, pm, other_team_member):
    action = action_raise(
        incident=incident, review=None, by=pm, title="Write the runbook", description="",
        kind="human", owner=None, priority="medium", due_date=None,
    )  # fmt: skip
    client.force_login(pm)
    page = client.get(reverse("reviews:actions"))
    assert f'action="{reverse("reviews:action_status", args=[action.pk])}"' in page.text
    response = client.post(
        reverse("reviews:action_status", args=[action.pk]), {"status": "done", "next": "/actions/"}
    )
    assert response["Location"] == "/actions/"
    action.refresh_from_db()
    assert action.status == "done" and action.done_at is not None
    helper = other_team_member
    ResponderFactory(incident=incident, user=helper)  # sees the action, is not of the incident's team
    client.force_login(helper)
    assert 'class="status-form"' not in client.get(reverse("reviews:actions")).text
    assert (
        client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "open"}).status_code == 403
    )
    client.force_login(pm)
    client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "nonsense"})
    action.refresh_from_db()
    assert action.status == "done"


def test_the_facilitator_sets_action_status_from_the_backlog_too(client, incident, pm, teammate):
    review_services.review_schedule(
        incident=incident, by=pm, scheduled_at=timezone.now() + timedelta(days=1), time_zone="UTC",
        duration_minutes=60, facilitator=teammate, attendees=[],
    )  # fmt: skip
    action = action_raise(
        incident=incident, review=None, by=pm, title="Pair on the runbook", description="",
        kind="human", owner=None, priority="low", due_date=None,
    )  # fmt: skip
    client.force_login(teammate)
    page = client.get(reverse("reviews:actions"))
    assert f'action="{reverse("reviews:action_status", args=[action.pk])}"' in page.text
