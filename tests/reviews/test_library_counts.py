"""The library's total, counted by index in parts: exactly the narratives each reader may read."""

from django.utils import timezone

from incidents.models import Incident
from reviews.models import Narrative, Review
from reviews.selectors import narrative_library, narrative_library_count
from tests.api.conftest import client_for
from tests.factories import IncidentFactory, ServiceFactory


def published(incident, pm, status=Narrative.Status.PUBLISHED) -> Narrative:
    return Narrative.objects.create(
        incident=incident,
        title=incident.title,
        body="",
        status=status,
        published_at=timezone.now(),
        created_by=pm,
    )


def test_the_total_is_the_number_of_narratives_each_reader_may_read(
    client, team, other_team, service, pm, responder, other_team_member, outsider, problem_manager
):
    other_service = ServiceFactory(team=other_team)
    for severity in ("sev1", "sev2", "sev2"):
        published(IncidentFactory(team=team, service=service, severity=severity), pm)
        published(IncidentFactory(team=other_team, service=other_service, severity=severity), pm)
    published(IncidentFactory(team=team, service=service, severity="sev1", confidential=True), pm)
    published(IncidentFactory(team=other_team, service=other_service, title="Zebra crossing"), pm)
    attended = IncidentFactory(team=other_team, service=other_service, severity="sev2", confidential=True)
    published(attended, pm)
    review = Review.objects.create(
        incident=attended, scheduled_at=timezone.now(), facilitator=pm, scheduled_by=pm
    )
    review.attendees.add(outsider)
    published(IncidentFactory(team=other_team, service=other_service, confidential=True), pm)
    published(IncidentFactory(team=team, service=service), pm, status=Narrative.Status.DRAFT)
    filters = [{}, {"severity": "sev1"}, {"team_id": other_team.pk}, {"service_id": service.pk}]
    for viewer in (pm, responder, other_team_member, outsider, problem_manager):
        for chosen in filters:
            listed = narrative_library(viewer=viewer, **chosen).count()
            assert narrative_library_count(viewer=viewer, **chosen) == listed, (viewer.username, chosen)
    assert narrative_library_count(viewer=outsider) == 8  # seven open ones and the review they attend
    client.force_login(outsider)
    assert "8 narratives" in client.get("/narratives/").text
    # A search counts its own matches, not the whole library.
    assert "1 narrative matching" in client.get("/narratives/", {"q": "zebra"}).text
    assert client_for(outsider).get("/api/narratives/").json()["count"] == 8
    assert client_for(pm).get("/api/narratives/", {"status": "draft"}).json()["count"] == 1


def test_a_confidential_narrative_is_neither_listed_nor_counted_for_who_cannot_see_its_incident(
    team, other_team, service, pm, responder, other_team_member, problem_manager
):
    published(IncidentFactory(team=team, service=service), pm)
    secret = published(IncidentFactory(team=team, service=service, confidential=True), pm)
    for viewer, sees_it in (
        (pm, True),
        (responder, True),
        (problem_manager, True),
        (other_team_member, False),
    ):
        listed = client_for(viewer).get("/api/narratives/").json()
        assert (secret.pk in [row["id"] for row in listed["results"]]) is sees_it, viewer.username
        assert listed["count"] == narrative_library_count(viewer=viewer) == (2 if sees_it else 1), (
            viewer.username
        )
    # Made open, it is everyone's; made confidential again, it is hidden again.
    Incident.objects.filter(pk=secret.incident_id).update(confidential=False)
    assert narrative_library_count(viewer=other_team_member) == 2
    Incident.objects.filter(pk=secret.incident_id).update(confidential=True)
    assert narrative_library_count(viewer=other_team_member) == 1
