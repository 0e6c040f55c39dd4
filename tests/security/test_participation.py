"""One participation rule for an incident, its submitted analyses and its review, on every path.

The participants are the incident's team, its responders, and its review's facilitator and
attendees while the review stands — whatever their team (good practice asks for a neutral
facilitator from elsewhere). They open the incident, its review and its submitted analyses, on the
pages and in the API alike; nobody else learns the incident exists; a cancelled review's
facilitator and attendees are participants no more, and the facilitator loses their powers.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import AnalysisSession
from reviews.models import Review
from tests.factories import (
    AnalysisSessionFactory,
    IncidentFactory,
    KeyEventFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)

REPORT = "The retry budget ran out at 14:02."


@pytest.fixture
def scene(team, other_team, service, pm, responder, other_team_member):
    """A confidential Payments incident with a submitted analysis (by `responder`) and one in
    progress (by `helper`, a responder from the Search team); the review is facilitated by
    `neutral` and attended by `guest`, both of Search and neither a responder."""
    helper = UserFactory(username="helper")
    neutral = UserFactory(username="neutral")
    guest = UserFactory(username="guest")
    other_team.members.add(helper, neutral, guest)
    incident = IncidentFactory(
        team=team, service=service, declared_by=pm, confidential=True, title="Card data exposure"
    )
    submitted = AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=responder),
        scheduled_by=pm,
        status=AnalysisSession.Status.SUBMITTED,
        report=REPORT,
        submitted_at=timezone.now(),
    )
    in_progress = AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=helper),
        scheduled_by=pm,
        status=AnalysisSession.Status.IN_PROGRESS,
        report="Half a thought",
    )
    event = KeyEventFactory(analysis=submitted, description="Retry budget exhausted")
    review = ReviewFactory(
        incident=incident, facilitator=neutral, scheduled_at=timezone.now() + timedelta(days=1)
    )
    review.attendees.add(guest, responder)
    return {
        "incident": incident,
        "submitted": submitted,
        "in_progress": in_progress,
        "event": event,
        "review": review,
        "helper": helper,
        "neutral": neutral,
        "guest": guest,
        "stranger": other_team_member,
    }


def page_statuses(client, scene) -> dict[str, int]:
    incident, review = scene["incident"], scene["review"]
    return {
        "incident": client.get(f"/incidents/{incident.pk}/").status_code,
        "timeline": client.get(f"/incidents/{incident.pk}/timeline/").status_code,
        "review": client.get(f"/reviews/{review.pk}/").status_code,
        "submitted analysis": client.get(f"/analyses/{scene['submitted'].pk}/").status_code,
    }


def api_statuses(user, scene) -> dict[str, int]:
    api = APIClient()
    api.force_authenticate(user)
    incident = scene["incident"]
    return {
        "incident": api.get(f"/api/incidents/{incident.pk}/").status_code,
        "timeline": api.get(f"/api/incidents/{incident.pk}/timeline/").status_code,
        "review": api.get(f"/api/reviews/{scene['review'].pk}/").status_code,
        "submitted analysis": api.get(f"/api/analyses/{scene['submitted'].pk}/").status_code,
    }


ALL_OPEN = {"incident": 200, "timeline": 200, "review": 200, "submitted analysis": 200}
ALL_HIDDEN = {"incident": 404, "timeline": 404, "review": 404, "submitted analysis": 404}


@pytest.mark.parametrize("who", ["helper", "neutral", "guest"])
def test_participants_from_another_team_open_the_incident_review_and_submitted_analyses(client, scene, who):
    client.force_login(scene[who])
    assert page_statuses(client, scene) == ALL_OPEN
    assert api_statuses(scene[who], scene) == ALL_OPEN
    assert REPORT in client.get(f"/analyses/{scene['submitted'].pk}/").content.decode()


@pytest.mark.parametrize("who", ["helper", "neutral", "guest"])
def test_participants_read_the_same_analyses_and_key_events_on_every_path(client, scene, who):
    client.force_login(scene[who])
    api = APIClient()
    api.force_authenticate(scene[who])
    incident = scene["incident"]
    review_page = client.get(f"/reviews/{scene['review'].pk}/").content.decode()
    listed = {row["id"] for row in api.get("/api/analyses/", {"incident": incident.pk}).json()["results"]}
    events = {row["id"] for row in api.get("/api/key-events/", {"incident": incident.pk}).json()["results"]}
    timeline = {row["id"] for row in api.get(f"/api/incidents/{incident.pk}/timeline/").json()["results"]}
    assert REPORT in review_page
    assert scene["submitted"].pk in listed
    assert events == timeline == {scene["event"].pk}


@pytest.mark.parametrize("who", ["neutral", "guest"])
def test_an_analysis_in_progress_stays_its_analysts_alone(client, scene, who):
    client.force_login(scene[who])
    assert client.get(f"/analyses/{scene['in_progress'].pk}/").status_code == 403
    api = APIClient()
    api.force_authenticate(scene[who])
    listed = {row["id"] for row in api.get("/api/analyses/").json()["results"]}
    assert scene["in_progress"].pk not in listed


def test_someone_else_from_another_team_learns_nothing(client, scene):
    client.force_login(scene["stranger"])
    assert page_statuses(client, scene) == ALL_HIDDEN
    assert api_statuses(scene["stranger"], scene) == ALL_HIDDEN
    assert "Card data exposure" not in client.get("/").content.decode()


def test_the_invitation_and_my_work_agree(client, scene):
    client.force_login(scene["guest"])
    assert "Card data exposure" in client.get("/").content.decode()
    assert client.get(f"/reviews/{scene['review'].pk}/").status_code == 200


@pytest.mark.parametrize("who", ["neutral", "guest"])
def test_a_cancelled_review_ends_its_participants_access(client, scene, who):
    Review.objects.filter(pk=scene["review"].pk).update(status=Review.Status.CANCELLED)
    client.force_login(scene[who])
    assert page_statuses(client, scene) == ALL_HIDDEN
    assert api_statuses(scene[who], scene) == ALL_HIDDEN


def test_the_facilitator_raises_actions_while_the_review_stands(scene):
    api = APIClient()
    api.force_authenticate(scene["neutral"])
    body = {
        "incident": scene["incident"].pk,
        "review": scene["review"].pk,
        "title": "Cap retries",
        "kind": "technical",
        "priority": "high",
    }
    assert api.post("/api/actions/", body, format="json").status_code == 201


def test_a_cancelled_reviews_facilitator_keeps_no_facilitator_powers(scene, pm):
    review = scene["review"]
    review.attendees.add(scene["neutral"])  # still nothing: the review no longer stands
    Review.objects.filter(pk=review.pk).update(status=Review.Status.CANCELLED)
    ResponderFactory(incident=scene["incident"], user=scene["neutral"])  # still sees the incident
    api = APIClient()
    api.force_authenticate(scene["neutral"])
    body = {"incident": scene["incident"].pk, "title": "Cap retries", "kind": "technical", "priority": "high"}
    assert api.post("/api/actions/", body, format="json").status_code == 403
    assert api.post(f"/api/reviews/{review.pk}/held/").status_code == 403
