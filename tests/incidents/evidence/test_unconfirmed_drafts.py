"""A draft from the pager is not yet an incident of consequence: nothing allocates analyses,
schedules its review or announces its narrative until a product manager confirms it — in the
services, on the pages and through the API alike."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from incidents.models import AnalysisSession, Incident, Notification
from incidents.services import Allocation, analysis_allocate
from reviews.models import Delivery, Narrative, Review
from reviews.services.narrative import narrative_publish
from reviews.services.review import review_schedule
from tests.api.conftest import client_for
from tests.factories import NarrativeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[Incident.Status.DRAFT, Incident.Status.DISMISSED])
def unconfirmed(request, incident):
    incident.status = request.param
    incident.source = Incident.Source.PAGERDUTY
    incident.external_id = "Q1PAGE"
    incident.save()
    return incident


def allocation(incident) -> Allocation:
    return Allocation(
        responder=incident.responders.get(),
        allocated_minutes=120,
        due_at=timezone.now() + timedelta(days=3),
    )


def schedule(incident, pm) -> Review:
    return review_schedule(
        incident=incident,
        by=pm,
        scheduled_at=timezone.now() + timedelta(days=2),
        time_zone="Europe/London",
        duration_minutes=60,
        facilitator=pm,
        attendees=[pm],
    )


def test_allocating_analyses_on_an_unconfirmed_draft_is_refused(unconfirmed, pm):
    with pytest.raises(ValidationError, match="pager"):
        analysis_allocate(incident=unconfirmed, by=pm, allocations=[allocation(unconfirmed)])

    assert not AnalysisSession.objects.exists()
    assert not Notification.objects.exists()


def test_scheduling_the_review_of_an_unconfirmed_draft_is_refused(unconfirmed, pm):
    with pytest.raises(ValidationError, match="pager"):
        schedule(unconfirmed, pm)

    assert not Review.objects.exists()
    assert not Notification.objects.exists()


def test_publishing_the_narrative_of_an_unconfirmed_draft_is_refused(unconfirmed, pm):
    narrative = NarrativeFactory(incident=unconfirmed, created_by=pm, title="Pager draft")

    with pytest.raises(ValidationError, match="pager"):
        narrative_publish(narrative=narrative, by=pm, override_reason="Urgent")

    assert Narrative.objects.get(pk=narrative.pk).status == Narrative.Status.DRAFT
    assert not Delivery.objects.exists()


def test_once_confirmed_the_draft_is_allocated_and_reviewed_as_any_incident(client, incident, pm):
    incident.status = Incident.Status.DRAFT
    incident.save()
    client.force_login(pm)

    client.post(f"/incidents/{incident.pk}/confirm/")
    analysis_allocate(incident=incident, by=pm, allocations=[allocation(incident)])
    schedule(incident, pm)

    assert AnalysisSession.objects.filter(incident=incident).count() == 1
    assert Incident.objects.get(pk=incident.pk).status == Incident.Status.REVIEWING


def test_the_incident_page_of_a_draft_offers_confirmation_not_planning(client, incident, pm):
    incident.status = Incident.Status.DRAFT
    incident.source = Incident.Source.OPSGENIE
    incident.save()
    client.force_login(pm)

    body = client.get(f"/incidents/{incident.pk}/").content.decode()

    assert f'action="/incidents/{incident.pk}/confirm/"' in body
    assert "A draft from Opsgenie" in body
    assert f'href="/incidents/{incident.pk}/allocate/"' not in body
    assert f'href="/incidents/{incident.pk}/review/schedule/"' not in body
    assert "Schedule the review" not in body


def test_the_incident_page_of_a_confirmed_incident_offers_planning(client, incident, pm):
    client.force_login(pm)

    body = client.get(f"/incidents/{incident.pk}/").content.decode()

    assert "Allocate analysis time" in body and "Schedule the review" in body
    assert 'id="unconfirmed"' not in body


def test_the_allocation_and_review_forms_send_a_draft_back_to_its_page(client, unconfirmed, pm):
    client.force_login(pm)

    for path in (f"/incidents/{unconfirmed.pk}/allocate/", f"/incidents/{unconfirmed.pk}/review/schedule/"):
        response = client.get(path, follow=True)
        assert response.redirect_chain[-1][0] == f"/incidents/{unconfirmed.pk}/", path
        assert "pager" in response.content.decode()


def test_posting_an_allocation_for_a_draft_shows_the_refusal(client, unconfirmed, pm):
    responder = unconfirmed.responders.get()
    client.force_login(pm)

    response = client.post(
        f"/incidents/{unconfirmed.pk}/allocate/",
        {
            f"r{responder.pk}_include": "on",
            f"r{responder.pk}_minutes": "120",
            f"r{responder.pk}_due": (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert response.status_code == 400
    assert "pager" in response.content.decode()
    assert not AnalysisSession.objects.exists()


def test_the_narrative_page_of_a_draft_offers_no_publishing(client, incident, pm):
    incident.status = Incident.Status.DRAFT
    incident.save()
    narrative = NarrativeFactory(incident=incident, created_by=pm, title="Pager draft")
    client.force_login(pm)

    body = client.get(f"/narratives/{narrative.pk}/").content.decode()

    assert f'action="/narratives/{narrative.pk}/publish/"' not in body
    assert "confirms it as an incident of consequence" in body


def test_the_api_refuses_analyses_reviews_and_publishing_on_a_draft(unconfirmed, pm):
    api = client_for(pm)
    responder = unconfirmed.responders.get()
    narrative = NarrativeFactory(incident=unconfirmed, created_by=pm, title="Pager draft")
    due = (timezone.now() + timedelta(days=3)).isoformat()

    allocated = api.post(
        "/api/analyses/",
        {"responder": responder.pk, "allocated_minutes": 60, "due_at": due},
        format="json",
    )
    scheduled = api.post(
        "/api/reviews/",
        {
            "incident": unconfirmed.pk,
            "scheduled_at": due,
            "time_zone": "Europe/London",
            "duration_minutes": 60,
            "facilitator": pm.pk,
        },
        format="json",
    )
    published = api.post(
        f"/api/narratives/{narrative.pk}/publish/", {"override_reason": "Urgent"}, format="json"
    )

    for response in (allocated, scheduled, published):
        assert response.status_code == 400, response.data
        assert "pager" in str(response.data)
    assert not AnalysisSession.objects.exists() and not Review.objects.exists()
    assert not Delivery.objects.exists()


def test_my_work_offers_no_allocation_for_a_draft_with_proposed_responders(client, unconfirmed, pm):
    client.force_login(pm)

    body = client.get("/").content.decode()

    assert f'href="/incidents/{unconfirmed.pk}/allocate/"' not in body
    Incident.objects.filter(pk=unconfirmed.pk).update(status=Incident.Status.DECLARED)
    assert f'href="/incidents/{unconfirmed.pk}/allocate/"' in client.get("/").content.decode()
