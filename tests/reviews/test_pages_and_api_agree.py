"""Pages and the API answer the same question the same way: an action's status, a review's
default attendees and who sees draft narratives each go through one service or selector."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import AuditEntry
from reviews.models import ImprovementAction, Narrative, Review
from reviews.services.review import review_schedule
from tests.api.conftest import client_for
from tests.factories import ImprovementActionFactory, IncidentFactory, NarrativeFactory


@pytest.fixture
def action(incident, pm):
    return ImprovementActionFactory(incident=incident, raised_by=pm, owner=pm)


def status_entries() -> list[tuple[str, dict]]:
    return list(
        AuditEntry.objects.filter(target_type="reviews.improvementaction").values_list("verb", "changes")
    )


def test_marking_an_action_done_on_the_page_and_through_the_api_records_the_same(client, pm, action):
    client.force_login(pm)
    client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "done"})
    through_page = status_entries()
    action.refresh_from_db()
    assert action.status == ImprovementAction.Status.DONE
    assert action.done_at is not None
    AuditEntry.objects.all().delete()
    ImprovementAction.objects.filter(pk=action.pk).update(status=ImprovementAction.Status.OPEN, done_at=None)

    response = client_for(pm).patch(f"/api/actions/{action.pk}/", {"status": "done"}, format="json")

    assert response.status_code == 200, response.data
    assert status_entries() == through_page == [("action.updated", {"status": ["open", "done"]})]


def test_reopening_on_the_page_records_the_change_as_the_api_does(client, pm, action):
    ImprovementAction.objects.filter(pk=action.pk).update(
        status=ImprovementAction.Status.DONE, done_at=timezone.now()
    )
    client.force_login(pm)
    client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "open"})
    action.refresh_from_db()
    assert action.done_at is None
    assert status_entries() == [("action.updated", {"status": ["done", "open"]})]


def test_an_outsider_cannot_set_an_actions_status_on_either_path(client, outsider, action):
    client.force_login(outsider)
    assert (
        client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "done"}).status_code == 404
    )
    api = client_for(outsider).patch(f"/api/actions/{action.pk}/", {"status": "done"}, format="json")
    assert api.status_code == 404
    action.refresh_from_db()
    assert action.status == ImprovementAction.Status.OPEN
    assert status_entries() == []


def meeting(**overrides) -> dict:
    return {
        "scheduled_at": timezone.now() + timedelta(days=3),
        "time_zone": "Europe/London",
        "duration_minutes": 60,
        **overrides,
    }


def test_the_service_invites_the_responders_and_managers_when_no_attendees_are_named(
    incident, pm, responder, teammate
):
    review = review_schedule(incident=incident, by=pm, facilitator=teammate, **meeting())
    assert set(review.attendees.all()) == {pm, responder}


def test_an_empty_attendee_list_through_the_api_invites_the_defaults_as_the_page_does(
    client, incident, pm, responder
):
    body = {
        "incident": incident.pk,
        "scheduled_at": (timezone.now() + timedelta(days=3)).isoformat(),
        "time_zone": "Europe/London",
        "duration_minutes": 60,
        "facilitator": pm.pk,
        "attendees": [],
    }
    response = client_for(pm).post("/api/reviews/", body, format="json")
    assert response.status_code == 201, response.data
    assert set(Review.objects.get().attendees.all()) == {pm, responder}


def test_scheduling_on_the_page_with_nobody_chosen_invites_the_defaults(client, incident, pm, responder):
    client.force_login(pm)
    form = {
        "scheduled_at": (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "time_zone": "Europe/London",
        "duration_minutes": 60,
        "facilitator": pm.username,
        "attendees": "",
        "location": "",
        "video_url": "",
    }
    response = client.post(reverse("reviews:schedule", args=[incident.pk]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert set(Review.objects.get().attendees.all()) == {pm, responder}


@pytest.fixture
def drafts(incident, pm, other_team):
    ours = NarrativeFactory(incident=incident, created_by=pm, title="Our draft of the timeouts")
    theirs = NarrativeFactory(
        incident=IncidentFactory(team=other_team, title="Search outage"),
        title="Their draft of the search outage",
    )
    published = NarrativeFactory(
        incident=IncidentFactory(team=incident.team, title="Old outage"),
        title="A published story",
        status=Narrative.Status.PUBLISHED,
        published_at=timezone.now(),
    )
    return {"ours": ours, "theirs": theirs, "published": published}


def draft_titles_in_api(user) -> set[str]:
    response = client_for(user).get("/api/narratives/", {"status": "draft"})
    assert response.status_code == 200
    return {row["title"] for row in response.data["results"]}


def drafts_section(client, user) -> str:
    client.force_login(user)
    page = client.get(reverse("reviews:library")).content.decode()
    return (
        page.split('id="drafts-heading"')[1].split("</section>")[0] if 'id="drafts-heading"' in page else ""
    )


def test_the_team_sees_its_drafts_on_the_library_page_and_in_the_api(client, responder, drafts):
    section = drafts_section(client, responder)
    assert "Our draft of the timeouts" in section
    assert "Their draft" not in section
    assert "A published story" not in section
    assert draft_titles_in_api(responder) == {"Our draft of the timeouts"}


def test_problem_managers_see_every_draft_on_both(client, problem_manager, drafts):
    section = drafts_section(client, problem_manager)
    assert "Our draft of the timeouts" in section
    assert "Their draft of the search outage" in section
    assert draft_titles_in_api(problem_manager) == {
        "Our draft of the timeouts",
        "Their draft of the search outage",
    }


@pytest.mark.parametrize("persona", ["outsider", "other_team_member"])
def test_people_outside_the_team_see_no_drafts_on_either(client, request, drafts, persona):
    user = request.getfixturevalue(persona)
    if persona == "other_team_member":
        Narrative.objects.filter(pk=drafts["theirs"].pk).delete()
    client.force_login(user)
    page = client.get(reverse("reviews:library")).content.decode()
    assert 'id="drafts-heading"' not in page
    assert "Our draft of the timeouts" not in page
    assert draft_titles_in_api(user) == set()


def test_the_drafts_section_costs_one_query_whatever_the_number_of_drafts(client, pm, team, drafts):
    client.force_login(pm)
    url = reverse("reviews:library")
    client.get(url)
    cache.clear()  # the results are computed each time, as the drafts always are
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(5):
        NarrativeFactory(incident=IncidentFactory(team=team, title=f"Outage {index}"), title=f"Draft {index}")
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        page = client.get(url)
    assert len(few) == len(many)
    assert "Draft 4" in page.content.decode()
