"""The reviews side of the API: reviews and their outcomes, improvement actions, narratives and
deliveries — what each endpoint writes, and how it refuses bad input."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Team
from reviews.models import ContributingFactor, Delivery, ImprovementAction, Learning, Narrative, Review
from reviews.services.narrative import narrative_search_vector_update
from tests.api.conftest import client_for
from tests.factories import ImprovementActionFactory, IncidentFactory, NarrativeFactory


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).isoformat()


@pytest.fixture
def as_pm(pm):
    return client_for(pm)


def schedule_body(incident, facilitator, **overrides):
    return {
        "incident": incident.pk,
        "scheduled_at": iso(timedelta(days=3)),
        "time_zone": "Europe/London",
        "duration_minutes": 90,
        "facilitator": facilitator.pk,
        "location": "Room 4",
        **overrides,
    }


def test_scheduling_a_review_invites_the_responders_and_managers(as_pm, incident, pm, responder):
    response = as_pm.post("/api/reviews/", schedule_body(incident, pm), format="json")

    assert response.status_code == 201, response.data
    review = Review.objects.get()
    assert set(review.attendees.all()) == {pm, responder}
    assert response.data["ends_at"] == (review.scheduled_at + timedelta(minutes=90)).isoformat().replace(
        "+00:00", "Z"
    )
    again = as_pm.post("/api/reviews/", schedule_body(incident, pm), format="json")
    assert again.status_code == 400  # one review per incident: reschedule it instead


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"scheduled_at": iso(-timedelta(days=1))}, "scheduled_at"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"duration_minutes": 5}, "duration_minutes"),
        ({"facilitator": 999999}, "facilitator"),
        ({"video_url": "not a url"}, "video_url"),
        ({"incident": 999999}, "incident"),
        ({"attendees": "everyone"}, "attendees"),
    ],
)
def test_scheduling_with_bad_input_is_refused(as_pm, incident, pm, overrides, field):
    response = as_pm.post("/api/reviews/", schedule_body(incident, pm) | overrides, format="json")
    assert response.status_code == 400
    assert field in response.data, response.data
    assert not Review.objects.exists()


def test_rescheduling_bumps_the_sequence_and_cancelling_ends_it(as_pm, incident, pm):
    review_id = as_pm.post("/api/reviews/", schedule_body(incident, pm), format="json").data["id"]

    moved = as_pm.patch(f"/api/reviews/{review_id}/", {"duration_minutes": 60}, format="json")
    assert moved.status_code == 200
    assert (moved.data["sequence"], moved.data["duration_minutes"]) == (1, 60)

    cancelled = as_pm.post(f"/api/reviews/{review_id}/cancel/")
    assert cancelled.data["status"] == "cancelled"
    assert as_pm.post(f"/api/reviews/{review_id}/held/").status_code == 400


def test_factors_and_learnings_are_recorded_and_ranked(as_pm, incident, pm):
    review_id = as_pm.post("/api/reviews/", schedule_body(incident, pm), format="json").data["id"]

    factor = as_pm.post(
        "/api/contributing-factors/",
        {"review": review_id, "description": "Retries without backoff", "kind": "technical"},
        format="json",
    )
    assert factor.status_code == 201
    bad_kind = as_pm.post(
        "/api/contributing-factors/",
        {"review": review_id, "description": "x", "kind": "cosmic"},
        format="json",
    )
    assert bad_kind.status_code == 400
    assert "kind" in bad_kind.data
    first = as_pm.post("/api/learnings/", {"review": review_id, "description": "Budgets"}, format="json")
    second = as_pm.post("/api/learnings/", {"review": review_id, "description": "Alerts"}, format="json")
    assert (first.data["rank"], second.data["rank"]) == (1, 2)

    assert as_pm.delete(f"/api/learnings/{first.data['id']}/").status_code == 204
    assert Learning.objects.get().rank == 1
    assert as_pm.delete(f"/api/contributing-factors/{factor.data['id']}/").status_code == 204
    assert not ContributingFactor.objects.exists()


def test_raising_and_changing_an_action(as_pm, incident, responder):
    raised = as_pm.post(
        "/api/actions/",
        {"incident": incident.pk, "title": "Retry budget", "kind": "technical", "owner": responder.pk},
        format="json",
    )
    assert raised.status_code == 201, raised.data
    assert (raised.data["priority"], raised.data["sync_state"]) == ("medium", "not_synced")

    done = as_pm.patch(f"/api/actions/{raised.data['id']}/", {"status": "done"}, format="json")
    assert done.status_code == 200
    assert done.data["done_at"] is not None
    action = ImprovementAction.objects.get()
    assert action.status == "done"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ""}, "title"),
        ({"kind": "magic"}, "kind"),
        ({"priority": "urgent"}, "priority"),
        ({"owner": 999999}, "owner"),
        ({"due_date": "next week"}, "due_date"),
        ({"description": "x" * 10_001}, "description"),
        ({"review": 999999}, "review"),
    ],
)
def test_raising_an_action_with_bad_input_is_refused(as_pm, incident, body, field):
    full = {"incident": incident.pk, "title": "Retry budget", "kind": "technical"}
    response = as_pm.post("/api/actions/", full | body, format="json")
    assert response.status_code == 400
    assert field in response.data, response.data


def test_retrying_a_sync_needs_a_tracker(as_pm, incident, team):
    action = ImprovementActionFactory(incident=incident)
    refused = as_pm.post(f"/api/actions/{action.pk}/retry-sync/")
    assert refused.status_code == 400
    assert "sync_state" in refused.data

    team.tracker = Team.Tracker.JIRA
    team.save()
    action.sync_state = ImprovementAction.SyncState.FAILED
    action.tracker = "jira"
    action.save()
    # The push runs eagerly here; with no Jira configured it cannot succeed, so the state shows
    # the outbox at work (pending, or failed with the reason), never "not_synced".
    retried = as_pm.post(f"/api/actions/{action.pk}/retry-sync/")
    assert retried.status_code == 200
    assert retried.data["sync_state"] in {"pending", "syncing", "failed"}


def test_the_backlog_filters_and_orders(as_pm, incident):
    low = ImprovementActionFactory(incident=incident, priority="low", title="Low one")
    high = ImprovementActionFactory(incident=incident, priority="high", title="High one")
    ordered = as_pm.get("/api/actions/", {"ordering": "priority"}).data["results"]
    assert [row["id"] for row in ordered] == [high.pk, low.pk]
    assert [row["id"] for row in as_pm.get("/api/actions/", {"priority": "low"}).data["results"]] == [low.pk]
    assert as_pm.get("/api/actions/", {"priority": "urgent"}).status_code == 400
    assert as_pm.get("/api/actions/", {"team": "payments"}).status_code == 400


def test_a_narrative_is_drafted_saved_with_versions_and_published(as_pm, incident, pm):
    drafted = as_pm.post("/api/narratives/", {"incident": incident.pk}, format="json")
    assert drafted.status_code == 201
    narrative_id = drafted.data["id"]
    assert as_pm.post("/api/narratives/", {"incident": incident.pk}, format="json").status_code == 400

    saved = as_pm.patch(
        f"/api/narratives/{narrative_id}/",
        {"version": 1, "body": "## Story\n\nIt *was* slow."},
        format="json",
    )
    assert saved.status_code == 200
    assert saved.data["version"] == 2
    assert "<em>was</em>" in saved.data["body_html"]
    stale = as_pm.patch(f"/api/narratives/{narrative_id}/", {"version": 1, "body": "Mine!"}, format="json")
    assert stale.status_code == 409
    assert stale.data["current_version"] == 2
    assert (
        as_pm.patch(
            f"/api/narratives/{narrative_id}/", {"version": 2, "body": "  "}, format="json"
        ).status_code
        == 400
    )

    refused = as_pm.post(f"/api/narratives/{narrative_id}/publish/", {}, format="json")
    assert refused.status_code == 409 and refused.data["missing"] == ["review"]
    override = {"override_reason": "Customers asked"}
    published = as_pm.post(f"/api/narratives/{narrative_id}/publish/", override, format="json")
    assert published.status_code == 200
    assert published.data["status"] == "published"
    assert published.data["published_at"] is not None
    library = as_pm.get("/api/narratives/").data["results"]
    assert [row["id"] for row in library] == [narrative_id]


def test_the_library_searches_and_lists_drafts_only_on_request(as_pm, team, service, pm):
    published = NarrativeFactory(
        incident=IncidentFactory(team=team, service=service, declared_by=pm),
        title="Cache stampede",
        body="The thundering herd woke up.",
        status=Narrative.Status.PUBLISHED,
        published_at=timezone.now(),
    )
    narrative_search_vector_update(published)  # as the narrative services do on every save
    draft = NarrativeFactory(incident=IncidentFactory(team=team, service=service, declared_by=pm))

    found = as_pm.get("/api/narratives/", {"search": "thundering"}).data["results"]
    assert [row["id"] for row in found] == [published.pk]
    assert as_pm.get("/api/narratives/", {"search": "nothing-like-it"}).data["count"] == 0
    drafts = as_pm.get("/api/narratives/", {"status": "draft"}).data["results"]
    assert [row["id"] for row in drafts] == [draft.pk]
    assert as_pm.get("/api/narratives/", {"severity": "sev7"}).status_code == 400


def test_deliveries_show_where_a_publication_went(as_pm, incident, settings):
    settings.BROADCAST_EMAIL_TO = ["everyone@example.org"]
    narrative_id = as_pm.post("/api/narratives/", {"incident": incident.pk}, format="json").data["id"]
    as_pm.post(f"/api/narratives/{narrative_id}/publish/", {"override_reason": "Urgent"}, format="json")

    rows = as_pm.get("/api/deliveries/", {"narrative": narrative_id}).data["results"]

    assert [(row["channel"], row["recipient"], row["publication"]) for row in rows] == [
        ("email", "everyone@example.org", 1)
    ]
    assert as_pm.post("/api/deliveries/", {}, format="json").status_code == 405


def test_deliveries_show_webhook_urls_shortened_except_to_superusers(as_pm, pm, admin_user, incident):
    narrative = NarrativeFactory(incident=incident, created_by=pm, status=Narrative.Status.PUBLISHED)
    secret_url = "https://hooks.example.org/services/T000/B000/s3cr3t-token"
    Delivery.objects.create(
        narrative=narrative, publication=1, channel=Delivery.Channel.WEBHOOK, recipient=secret_url
    )

    as_manager = as_pm.get("/api/deliveries/", {"narrative": narrative.pk})
    as_admin = client_for(admin_user).get("/api/deliveries/", {"narrative": narrative.pk})

    assert [row["recipient"] for row in as_manager.data["results"]] == ["https://hooks.example.org/…"]
    assert "s3cr3t-token" not in as_manager.content.decode()
    assert [row["recipient"] for row in as_admin.data["results"]] == [secret_url]
