"""What each outcome traces back to — factor ↔ themes and key events, learning ↔ factors, action ↔
learnings and factors — written through the API and the review page, shown on the review and the
narrative, and kept within one incident."""

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import AnalysisSession
from reviews.services import narrative as narrative_services
from tests.factories import (
    AnalysisSessionFactory,
    ContributingFactorFactory,
    ImprovementActionFactory,
    IncidentFactory,
    KeyEventFactory,
    LearningFactory,
    LearningThemeFactory,
    ReviewFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def traced(incident, pm, responder):
    submitted = AnalysisSessionFactory(
        responder=incident.responders.get(user=responder),
        status=AnalysisSession.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )
    theme = LearningThemeFactory(name="Retry storms")
    submitted.themes.add(theme)
    review = ReviewFactory(incident=incident, facilitator=pm)
    elsewhere = ReviewFactory(incident=IncidentFactory(team=incident.team), facilitator=pm)
    return {
        "review": review,
        "theme": theme,
        "event": KeyEventFactory(analysis=submitted, description="Pool exhausted"),
        "factor": ContributingFactorFactory(review=review, description="Retries without backoff"),
        "learning": LearningFactory(review=review, rank=1, description="Budgets beat retries"),
        "action": ImprovementActionFactory(
            incident=incident, review=review, raised_by=pm, title="Cap retries"
        ),
        "foreign_factor": ContributingFactorFactory(review=elsewhere, description="Elsewhere"),
        "foreign_event": KeyEventFactory(
            analysis=AnalysisSessionFactory(
                responder__incident=elsewhere.incident, status=AnalysisSession.Status.SUBMITTED
            )
        ),
    }


def api_for(user) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_factors_learnings_and_actions_carry_their_links_through_the_api(traced, pm):
    api = api_for(pm)
    factor = api.post(
        "/api/contributing-factors/",
        {
            "review": traced["review"].pk,
            "description": "Dashboards hid the dependency",
            "kind": "technical",
            "themes": [traced["theme"].pk],
            "key_events": [traced["event"].pk],
        },
        format="json",
    ).json()
    assert factor["themes"] == [traced["theme"].pk] and factor["key_events"] == [traced["event"].pk]

    learning = api.post(
        "/api/learnings/",
        {"review": traced["review"].pk, "description": "Watch dependencies", "factors": [factor["id"]]},
        format="json",
    ).json()
    assert learning["factors"] == [factor["id"]]

    action = api.post(
        "/api/actions/",
        {
            "incident": traced["review"].incident_id,
            "title": "Dependency dashboard",
            "kind": "technical",
            "learnings": [learning["id"]],
            "factors": [factor["id"]],
        },
        format="json",
    ).json()
    assert action["learnings"] == [learning["id"]] and action["factors"] == [factor["id"]]

    changed = api.patch(f"/api/actions/{action['id']}/", {"factors": []}, format="json").json()
    assert changed["factors"] == [] and changed["learnings"] == [learning["id"]]
    relinked = api.patch(
        f"/api/contributing-factors/{factor['id']}/", {"key_events": []}, format="json"
    ).json()
    assert relinked["key_events"] == [] and relinked["themes"] == [traced["theme"].pk]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("contributing-factors/{factor}", {"key_events": ["{foreign_event}"]}),
        ("contributing-factors/{factor}", {"key_events": [987654]}),
        ("contributing-factors/{factor}", {"themes": [987654]}),
        ("learnings/{learning}", {"factors": ["{foreign_factor}"]}),
        ("actions/{action}", {"factors": ["{foreign_factor}"]}),
        ("actions/{action}", {"learnings": [987654]}),
        ("actions/{action}", {"learnings": "not a list"}),
    ],
)
def test_links_outside_the_incident_are_refused_like_missing_ones(traced, pm, path, body):
    ids = {name: row.pk for name, row in traced.items()}
    body = {key: value if isinstance(value, str) else [int(str(v).format(**ids)) for v in value]
            for key, value in body.items()}  # fmt: skip

    response = api_for(pm).patch(f"/api/{path.format(**ids)}/", body, format="json")

    assert response.status_code == 400
    assert "Elsewhere" not in response.content.decode()
    traced["factor"].refresh_from_db()
    assert not traced["factor"].key_events.exists() and not traced["action"].factors.exists()


def test_an_in_progress_analysis_key_event_cannot_be_linked(traced, pm, incident, teammate):
    from tests.factories import ResponderFactory

    draft = AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=teammate),
        status=AnalysisSession.Status.IN_PROGRESS,
    )
    private = KeyEventFactory(analysis=draft)

    response = api_for(pm).patch(
        f"/api/contributing-factors/{traced['factor'].pk}/", {"key_events": [private.pk]}, format="json"
    )

    assert response.status_code == 400


def test_only_the_reviews_managers_link_factors(traced, teammate, other_team_member):
    url = f"/api/contributing-factors/{traced['factor'].pk}/"
    assert api_for(teammate).patch(url, {"themes": []}, format="json").status_code == 403
    assert api_for(other_team_member).patch(url, {"themes": []}, format="json").status_code == 404


def test_the_review_page_links_a_factor_and_shows_it(traced, pm, client):
    client.force_login(pm)
    factor = traced["factor"]
    prefix = f"factor-links-{factor.pk}"

    response = client.post(
        reverse("reviews:factor_links", args=[traced["review"].pk, factor.pk]),
        {f"{prefix}-themes": [traced["theme"].pk], f"{prefix}-key_events": [traced["event"].pk]},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "Themes: Retry storms" in response.text and "Pool exhausted" in response.text
    assert list(factor.themes.all()) == [traced["theme"]]


def test_the_review_page_refuses_a_foreign_factor_for_a_learning(traced, pm, client):
    client.force_login(pm)
    learning = traced["learning"]
    prefix = f"learning-links-{learning.pk}"

    response = client.post(
        reverse("reviews:learning_links", args=[traced["review"].pk, learning.pk]),
        {f"{prefix}-factors": [traced["foreign_factor"].pk]},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 400
    assert not learning.factors.exists()


def test_the_review_page_links_are_for_its_managers(traced, teammate, client):
    client.force_login(teammate)
    url = reverse("reviews:learning_links", args=[traced["review"].pk, traced["learning"].pk])
    assert client.post(url, {}).status_code == 403


def test_the_narrative_shows_what_each_action_traces_to(traced, pm, client):
    traced["action"].learnings.add(traced["learning"])
    traced["action"].factors.add(traced["factor"])
    narrative = narrative_services.narrative_draft(incident=traced["review"].incident, by=pm)
    client.force_login(pm)

    page = client.get(narrative.get_absolute_url()).text

    assert "Puts into practice: “Budgets beat retries”" in page
    assert "addresses “Retries without backoff”" in page
