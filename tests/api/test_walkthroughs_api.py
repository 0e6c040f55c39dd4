"""Walkthroughs and playbacks through the API: scheduled with their kind and preparation, listed
with the narratives the reader may read, their preparation recorded later; bad input refused."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.models import Walkthrough
from reviews.services import narrative as narrative_services
from tests.api.conftest import client_for
from tests.factories import IncidentFactory, NarrativeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def narrative(team, service, pm):
    incident = IncidentFactory(team=team, service=service, declared_by=pm)
    return NarrativeFactory(incident=incident, created_by=pm, status="published", published_at=timezone.now())


@pytest.fixture
def walkthrough(narrative, pm):
    return narrative_services.walkthrough_schedule(
        narrative=narrative,
        by=pm,
        scheduled_at=timezone.now() + timedelta(days=2),
        time_zone="UTC",
        duration_minutes=45,
        audience_email="engineering@example.org",
    )


def body(narrative, **overrides):
    return {
        "narrative": narrative.pk,
        "kind": "playback",
        "scheduled_at": (timezone.now() + timedelta(days=3)).isoformat(),
        "duration_minutes": 30,
        "audience_email": "payments@example.org",
        "preparation_minutes": 90,
        **overrides,
    }


def test_a_playback_is_scheduled_with_its_preparation(narrative, pm, teammate):
    response = client_for(pm).post(
        "/api/walkthroughs/", body(narrative, attendees=[teammate.pk]), format="json"
    )
    assert response.status_code == 201, response.data
    playback = Walkthrough.objects.get()
    assert (playback.kind, playback.preparation_minutes, playback.presenter) == ("playback", 90, pm)
    assert response.data["kind"] == "playback"
    assert response.data["preparation_minutes"] == 90
    assert response.data["attendees"] == [teammate.pk]
    assert response.data["is_held"] is False


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "keynote"}, "kind"),
        ({"preparation_minutes": -1}, "preparation_minutes"),
        ({"preparation_minutes": 2401}, "preparation_minutes"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"scheduled_at": "soon"}, "scheduled_at"),
        ({"audience_email": "", "attendees": []}, "non_field_errors"),
    ],
)
def test_bad_input_is_refused_with_the_field_named(narrative, pm, overrides, field):
    response = client_for(pm).post("/api/walkthroughs/", body(narrative, **overrides), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Walkthrough.objects.exists()


def test_a_draft_or_unreadable_narrative_is_reported_as_missing(team, service, pm, other_team_member):
    confidential = IncidentFactory(team=team, service=service, declared_by=pm, confidential=True)
    narrative = NarrativeFactory(
        incident=confidential, created_by=pm, status="published", published_at=timezone.now()
    )
    response = client_for(other_team_member).post("/api/walkthroughs/", body(narrative), format="json")
    assert response.status_code == 400
    assert "narrative" in response.json()
    draft = NarrativeFactory(incident=IncidentFactory(team=team, service=service), created_by=pm)
    response = client_for(pm).post("/api/walkthroughs/", body(draft), format="json")
    assert response.status_code == 400
    assert "Publish the narrative" in str(response.json())


def test_a_reader_from_another_team_may_not_schedule(narrative, other_team_member):
    response = client_for(other_team_member).post("/api/walkthroughs/", body(narrative), format="json")
    assert response.status_code == 403
    assert not Walkthrough.objects.exists()


def test_the_presenter_records_the_preparation_later(walkthrough, pm):
    response = client_for(pm).patch(
        f"/api/walkthroughs/{walkthrough.pk}/", {"preparation_minutes": 120}, format="json"
    )
    assert response.status_code == 200, response.data
    assert response.data["preparation_minutes"] == 120
    walkthrough.refresh_from_db()
    assert walkthrough.preparation_minutes == 120


@pytest.mark.parametrize("value", [-5, 2401, "two hours", None])
def test_a_bad_preparation_time_is_refused(walkthrough, pm, value):
    response = client_for(pm).patch(
        f"/api/walkthroughs/{walkthrough.pk}/", {"preparation_minutes": value}, format="json"
    )
    assert response.status_code == 400
    assert "preparation_minutes" in response.json()


def test_only_those_who_may_change_it_record_the_preparation(walkthrough, other_team_member):
    response = client_for(other_team_member).patch(
        f"/api/walkthroughs/{walkthrough.pk}/", {"preparation_minutes": 30}, format="json"
    )
    assert response.status_code == 403
    walkthrough.refresh_from_db()
    assert walkthrough.preparation_minutes == 0


def test_walkthroughs_of_confidential_incidents_are_listed_to_their_participants_only(
    team, service, pm, other_team_member, walkthrough
):
    incident = IncidentFactory(team=team, service=service, declared_by=pm, confidential=True)
    secret = NarrativeFactory(
        incident=incident, created_by=pm, status="published", published_at=timezone.now()
    )
    hidden = narrative_services.walkthrough_schedule(
        narrative=secret,
        by=pm,
        scheduled_at=timezone.now() + timedelta(days=2),
        time_zone="UTC",
        duration_minutes=45,
        audience_email="payments@example.org",
    )
    listed = client_for(other_team_member).get("/api/walkthroughs/").json()["results"]
    assert [row["id"] for row in listed] == [walkthrough.pk]
    assert client_for(other_team_member).get(f"/api/walkthroughs/{hidden.pk}/").status_code == 404
    listed = client_for(pm).get("/api/walkthroughs/", {"kind": "walkthrough"}).json()["results"]
    assert [row["id"] for row in listed] == [walkthrough.pk, hidden.pk]
