"""Trainings recorded in the browser and through the API."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from reviews.models import Training
from tests.api.conftest import client_for
from tests.factories import TrainingFactory

pytestmark = pytest.mark.django_db


def form(team, **overrides) -> dict:
    data = {
        "team": team.pk,
        "kind": "analysis",
        "title": "Interviewing responders",
        "held_on": (timezone.localdate() - timedelta(days=1)).isoformat(),
        "duration_minutes": 90,
        "trainer": "pm",
        "attendees": "responder, teammate",
    }
    return data | overrides


def test_a_product_manager_records_a_training_held(client, pm, responder, teammate, team):
    client.force_login(pm)
    response = client.post(reverse("reviews:trainings"), form(team))
    assert response.status_code == 302
    training = Training.objects.get()
    assert (training.kind, training.duration_minutes, training.trainer, training.recorded_by) == (
        "analysis",
        90,
        pm,
        pm,
    )
    assert set(training.attendees.all()) == {responder, teammate}
    assert "Interviewing responders" in client.get(reverse("reviews:trainings")).content.decode()


def test_a_training_still_to_come_or_with_bad_values_is_refused(client, pm, responder, teammate, team):
    client.force_login(pm)
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    response = client.post(reverse("reviews:trainings"), form(team, held_on=tomorrow))
    assert response.status_code == 400
    assert "once it has been held" in response.content.decode()
    response = client.post(
        reverse("reviews:trainings"), form(team, kind="juggling", duration_minutes=0, trainer="nobody")
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"kind", "duration_minutes", "trainer"}
    assert not Training.objects.exists()


def test_members_read_trainings_but_only_managers_record_or_remove_them(
    client, teammate, pm, responder, team, other_team
):
    training = TrainingFactory(team=team, trainer=pm)
    client.force_login(teammate)
    page = client.get(reverse("reviews:trainings"))
    assert page.status_code == 200
    assert page.context["form"] is None
    assert client.post(reverse("reviews:trainings"), form(team)).status_code == 403
    assert client.post(reverse("reviews:training_remove", args=[training.pk])).status_code == 403
    client.force_login(pm)
    # A product manager records for the teams they manage only.
    assert client.post(reverse("reviews:trainings"), form(other_team)).status_code == 400
    assert client.post(reverse("reviews:training_remove", args=[training.pk])).status_code == 302
    assert not Training.objects.exists()


def test_the_api_records_lists_and_removes_trainings(pm, teammate, responder, team, other_team):
    body = {
        "kind": "review",
        "held_on": timezone.localdate().isoformat(),
        "duration_minutes": 60,
        "trainer": pm.pk,
        "attendees": [responder.pk],
        "team": team.pk,
    }
    created = client_for(pm).post("/api/trainings/", body, format="json")
    assert created.status_code == 201
    assert created.data["kind"] == "review"
    assert created.data["attendees"] == [responder.pk]
    listed = client_for(teammate).get("/api/trainings/").data["results"]
    assert [row["id"] for row in listed] == [created.data["id"]]
    assert client_for(teammate).post("/api/trainings/", body, format="json").status_code == 403
    assert (
        client_for(pm).post("/api/trainings/", body | {"team": other_team.pk}, format="json").status_code
        == 403
    )
    bad = client_for(pm).post("/api/trainings/", body | {"kind": "x", "duration_minutes": -1}, format="json")
    assert bad.status_code == 400
    assert set(bad.data) >= {"kind", "duration_minutes"}
    assert client_for(teammate).delete(f"/api/trainings/{created.data['id']}/").status_code == 403
    assert client_for(pm).delete(f"/api/trainings/{created.data['id']}/").status_code == 204
