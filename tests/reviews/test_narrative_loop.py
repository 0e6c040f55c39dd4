"""The narrative goes out once the learning loop is closed — every analysis submitted or waived,
the review held — by any member of the incident's team; product and problem managers may publish
before that, with a reason that is recorded and shown."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import AnalysisSession, AuditEntry
from reviews.models import Narrative, Review
from reviews.services import narrative as narrative_services
from reviews.services.narrative import LoopOpen
from tests.factories import AnalysisSessionFactory, NarrativeFactory, ReviewFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def open_loop(incident, pm, responder):
    """An incident whose analysis is in progress and whose review is only scheduled, with a draft."""
    analysis = AnalysisSessionFactory(
        responder=incident.responders.get(user=responder), status=AnalysisSession.Status.IN_PROGRESS
    )
    review = ReviewFactory(incident=incident, facilitator=pm)
    narrative = NarrativeFactory(incident=incident, created_by=pm, title="Checkout timeouts")
    return {"analysis": analysis, "review": review, "narrative": narrative}


def hold(review: Review) -> None:
    Review.objects.filter(pk=review.pk).update(status=Review.Status.HELD, held_at=timezone.now())


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_publishing_with_the_loop_open_is_refused_naming_what_is_missing(open_loop, pm):
    with pytest.raises(LoopOpen) as refused:
        narrative_services.narrative_publish(narrative=open_loop["narrative"], by=pm)

    assert refused.value.missing == ["analyses", "review"]
    assert Narrative.objects.get(pk=open_loop["narrative"].pk).status == Narrative.Status.DRAFT


def test_the_api_answers_an_open_loop_with_409_and_what_is_missing(open_loop, pm):
    response = api_for(pm).post(f"/api/narratives/{open_loop['narrative'].pk}/publish/", {}, format="json")

    assert response.status_code == 409
    assert response.json()["missing"] == ["analyses", "review"]
    assert "loop is still open" in response.json()["detail"]


def test_a_held_review_and_a_waived_analysis_close_the_loop(open_loop, pm, teammate):
    hold(open_loop["review"])
    response = api_for(pm).post(f"/api/narratives/{open_loop['narrative'].pk}/publish/", {}, format="json")
    assert response.json()["missing"] == ["analyses"]

    waived = api_for(pm).post(
        f"/api/analyses/{open_loop['analysis'].pk}/waive/", {"reason": "On leave for a month"}, format="json"
    )
    assert waived.status_code == 200 and waived.json()["waive_reason"] == "On leave for a month"
    assert "report" not in waived.json()  # the manager still cannot read an analysis in progress

    published = api_for(teammate).post(
        f"/api/narratives/{open_loop['narrative'].pk}/publish/", {}, format="json"
    )
    assert published.status_code == 200
    assert published.json()["status"] == "published" and published.json()["override_reason"] == ""


@pytest.mark.parametrize("reason", ["", "   "])
def test_waiving_needs_a_reason(open_loop, pm, reason):
    response = api_for(pm).post(f"/api/analyses/{open_loop['analysis'].pk}/waive/", {"reason": reason})

    assert response.status_code == 400
    assert AnalysisSession.objects.get(pk=open_loop["analysis"].pk).waived_at is None


def test_only_the_incidents_managers_waive(open_loop, teammate, other_team_member, responder):
    url = f"/api/analyses/{open_loop['analysis'].pk}/waive/"
    assert api_for(teammate).post(url, {"reason": "x"}).status_code == 403
    assert api_for(responder).post(url, {"reason": "x"}).status_code == 403
    assert api_for(other_team_member).post(url, {"reason": "x"}).status_code == 404
    assert api_for(other_team_member).post("/api/analyses/987654/waive/", {"reason": "x"}).status_code == 404


def test_a_submitted_analysis_cannot_be_waived(open_loop, pm):
    AnalysisSession.objects.filter(pk=open_loop["analysis"].pk).update(
        status=AnalysisSession.Status.SUBMITTED
    )

    response = api_for(pm).post(f"/api/analyses/{open_loop['analysis'].pk}/waive/", {"reason": "x"})

    assert response.status_code == 400


def test_a_manager_publishes_before_the_loop_closes_with_a_recorded_reason(open_loop, pm, client):
    body = {"override_reason": "Customers asked; analysis follows next week"}
    response = api_for(pm).post(f"/api/narratives/{open_loop['narrative'].pk}/publish/", body, format="json")

    assert response.status_code == 200
    narrative = Narrative.objects.get(pk=open_loop["narrative"].pk)
    assert narrative.is_published and narrative.override_reason == body["override_reason"]
    entry = AuditEntry.objects.get(verb="narrative.published")
    assert entry.changes["override_reason"] == body["override_reason"]
    client.force_login(pm)
    assert "Published before the loop was closed." in client.get(narrative.get_absolute_url()).text


def test_a_team_member_cannot_override_the_loop(open_loop, teammate):
    body = {"override_reason": "I think it is fine"}
    response = api_for(teammate).post(
        f"/api/narratives/{open_loop['narrative'].pk}/publish/", body, format="json"
    )

    assert response.status_code == 403
    assert not Narrative.objects.get(pk=open_loop["narrative"].pk).is_published


def test_the_page_shows_what_is_open_and_refuses_without_a_reason(open_loop, pm, teammate, client):
    client.force_login(teammate)
    page = client.get(open_loop["narrative"].get_absolute_url()).text
    assert "Before it goes out" in page
    assert "Rui Oncall's analysis — in progress" in page
    assert "has not been held yet" in page
    assert "Publish anyway" not in page  # teammates cannot override

    response = client.post(
        reverse("reviews:narrative_publish", args=[open_loop["narrative"].pk]), follow=True
    )

    assert "learning loop is still open" in response.text
    assert not Narrative.objects.get(pk=open_loop["narrative"].pk).is_published
    client.force_login(pm)
    assert "Publish anyway" in client.get(open_loop["narrative"].get_absolute_url()).text


def test_the_page_waives_an_analysis_and_returns_to_the_narrative(open_loop, pm, client):
    client.force_login(pm)
    narrative_url = open_loop["narrative"].get_absolute_url()

    response = client.post(
        reverse("incidents:analysis_waive", args=[open_loop["analysis"].pk]),
        {"reason": "Left the company", "next": narrative_url},
    )

    assert response.status_code == 302 and response.url == narrative_url
    assert AnalysisSession.objects.get(pk=open_loop["analysis"].pk).waive_reason == "Left the company"


def test_the_page_ignores_a_foreign_return_address_after_waiving(open_loop, pm, client):
    client.force_login(pm)

    response = client.post(
        reverse("incidents:analysis_waive", args=[open_loop["analysis"].pk]),
        {"reason": "Left the company", "next": "https://evil.example/"},
    )

    assert response.url == open_loop["analysis"].incident.get_absolute_url()


def test_any_team_member_records_actions(open_loop, teammate, other_team_member):
    body = {"incident": open_loop["narrative"].incident_id, "title": "Cap retries", "kind": "technical"}

    assert api_for(teammate).post("/api/actions/", body, format="json").status_code == 201
    assert api_for(other_team_member).post("/api/actions/", body, format="json").status_code == 400


def test_the_markdown_download_is_for_readers(open_loop, pm, other_team_member, client):
    narrative = open_loop["narrative"]
    client.force_login(pm)

    response = client.get(f"/narratives/{narrative.pk}/download.md")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response.content.decode().startswith("# Checkout timeouts\n\n")
    assert "attachment" in response["Content-Disposition"]
    client.force_login(other_team_member)
    assert client.get(f"/narratives/{narrative.pk}/download.md").status_code == 404


def test_the_library_offers_the_private_feed_to_subscribe(client, pm):
    client.force_login(pm)

    page = client.get(reverse("reviews:library")).text

    assert "Subscribe" in page
    assert reverse("reviews:private_feed", args=[pm.feed_token]) in page
    assert 'data-copy="#private-feed-url"' in page


def test_someone_else_cannot_publish_even_when_the_loop_is_closed(open_loop, responder):
    hold(open_loop["review"])
    AnalysisSession.objects.filter(pk=open_loop["analysis"].pk).update(
        status=AnalysisSession.Status.SUBMITTED
    )
    helper = UserFactory(username="helper")

    assert api_for(helper).post(f"/api/narratives/{open_loop['narrative'].pk}/publish/").status_code == 404
