"""Walkthroughs and playbacks: their kind and the presenter's preparation, from the pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import AuditEntry
from reviews.models import Walkthrough
from reviews.services import narrative as narrative_services
from tests.factories import IncidentFactory, NarrativeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def narrative(team, service, pm):
    incident = IncidentFactory(team=team, service=service, declared_by=pm)
    return NarrativeFactory(incident=incident, created_by=pm, status="published", published_at=timezone.now())


@pytest.fixture
def walkthrough(narrative, pm, teammate):
    return narrative_services.walkthrough_schedule(
        narrative=narrative,
        by=pm,
        scheduled_at=timezone.now() + timedelta(days=7),
        time_zone="UTC",
        duration_minutes=45,
        attendees=[teammate],
    )


def schedule(client, narrative, **changes):
    data = {
        "kind": "playback",
        "scheduled_at": (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        "time_zone": "UTC",
        "duration_minutes": "30",
        "preparation_minutes": "90",
        "audience_email": "payments@example.org",
        **changes,
    }
    return client.post(reverse("reviews:walkthrough_schedule", args=[narrative.pk]), data)


def test_a_playback_is_scheduled_with_the_preparation_it_took(
    client, narrative, pm, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(pm)
    with django_capture_on_commit_callbacks(execute=True):
        response = schedule(client, narrative)
    assert response.status_code == 302
    playback = Walkthrough.objects.get()
    assert (playback.kind, playback.preparation_minutes, playback.presenter) == ("playback", 90, pm)
    assert mailoutbox[0].subject == f"Invitation: incident playback of {narrative.title}"
    assert "plays back the incident" in mailoutbox[0].body
    page = client.get(narrative.get_absolute_url()).content.decode()
    assert "Playback · " in page
    assert "90 min preparation" in page


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"kind": "keynote"}, "Select a valid choice"),
        ({"preparation_minutes": "-5"}, "greater than or equal to 0"),
        ({"preparation_minutes": "2401"}, "less than or equal to 2400"),
        ({"preparation_minutes": "an afternoon"}, "Enter a whole number"),
    ],
)
def test_a_bad_kind_or_preparation_is_refused_with_the_field_named(client, narrative, pm, changes, error):
    client.force_login(pm)
    response = schedule(client, narrative, **changes)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Walkthrough.objects.exists()


def test_the_presenter_records_the_preparation_once_done(client, walkthrough, pm):
    client.force_login(pm)
    response = client.post(
        reverse("reviews:walkthrough_preparation", args=[walkthrough.pk]), {"preparation_minutes": "75"}
    )
    assert response.status_code == 302
    walkthrough.refresh_from_db()
    assert walkthrough.preparation_minutes == 75
    entry = AuditEntry.objects.get(verb="walkthrough.preparation")
    assert entry.changes == {"preparation_minutes": [0, 75]}


@pytest.mark.parametrize("value", ["-1", "2401", "", "lots"])
def test_a_bad_preparation_time_is_refused_and_nothing_changes(client, walkthrough, pm, value):
    client.force_login(pm)
    response = client.post(
        reverse("reviews:walkthrough_preparation", args=[walkthrough.pk]),
        {"preparation_minutes": value},
        follow=True,
    )
    assert "Preparation:" in response.content.decode()
    walkthrough.refresh_from_db()
    assert walkthrough.preparation_minutes == 0


def test_a_cancelled_session_takes_no_preparation(client, walkthrough, pm):
    narrative_services.walkthrough_cancel(walkthrough=walkthrough, by=pm)
    client.force_login(pm)
    response = client.post(
        reverse("reviews:walkthrough_preparation", args=[walkthrough.pk]),
        {"preparation_minutes": "30"},
        follow=True,
    )
    assert "A cancelled session took no preparation" in response.content.decode()
    walkthrough.refresh_from_db()
    assert walkthrough.preparation_minutes == 0


@pytest.mark.parametrize(("persona", "status"), [("other_team_member", 403), ("outsider", 403)])
def test_only_those_who_may_change_the_walkthrough_record_its_preparation(
    client, walkthrough, request, persona, status
):
    client.force_login(request.getfixturevalue(persona))
    response = client.post(
        reverse("reviews:walkthrough_preparation", args=[walkthrough.pk]), {"preparation_minutes": "30"}
    )
    assert response.status_code == status
    walkthrough.refresh_from_db()
    assert walkthrough.preparation_minutes == 0


def test_recording_preparation_takes_a_post(client, walkthrough, pm):
    client.force_login(pm)
    assert client.get(reverse("reviews:walkthrough_preparation", args=[walkthrough.pk])).status_code == 405
