"""Journeys 3 and 4: a product manager tells and publishes the incident's story; a member of
another team finds it by search, and cannot reach a narrative still in draft."""

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import AnalysisSession
from reviews.models import Narrative, Review
from reviews.services import narrative as narrative_services
from tests.factories import AnalysisSessionFactory, IncidentFactory, NarrativeFactory, ReviewFactory

STORY = "Checkout timed out for forty minutes while the payment provider slowed down."


@pytest.fixture
def draft(incident, responder, pm) -> Narrative:
    """The draft that the review page's "Draft the narrative" makes, from the organisation's template,
    with the loop closed: the analysis submitted and the review held."""
    ReviewFactory(incident=incident, facilitator=pm, status=Review.Status.HELD, held_at=timezone.now())
    AnalysisSessionFactory(
        responder=incident.responders.get(user=responder),
        scheduled_by=pm,
        status=AnalysisSession.Status.SUBMITTED,
        report="The pool ran dry.",
    )
    return narrative_services.narrative_draft(incident=incident, by=pm)


def test_a_product_manager_tells_the_story_and_publishes_it_with_the_keyboard(
    open_browser, draft, pm
) -> None:
    visitor = open_browser(pm)
    page = visitor.page
    visitor.visit(reverse("reviews:narrative_edit", args=[draft.pk]), "narrative-edit")
    visitor.tab_to("#id_body")
    page.keyboard.press("Control+Home")
    page.keyboard.type(f"{STORY}\n\n")
    visitor.tab_to("main button[type=submit].primary")
    page.keyboard.press("Enter")
    visitor.wait_for_path(draft.get_absolute_url())
    assert page.get_by_text("Draft — visible to the Payments team only.").is_visible()
    visitor.check("narrative-draft")

    page.once("dialog", lambda dialog: dialog.accept())
    visitor.tab_to("main form[action$='/publish/'] button")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_text("Published: the organisation is being told.").is_visible()
    draft.refresh_from_db()
    assert draft.is_published
    assert STORY in draft.body
    visitor.check("narrative-published")


def test_a_member_of_another_team_finds_the_story_by_search_but_not_a_draft(
    open_browser, draft, pm, other_team_member, team
) -> None:
    narrative_services.narrative_publish(narrative=draft, by=pm, broadcast=False)
    unpublished = NarrativeFactory(
        incident=IncidentFactory(team=team, title="Search outage"), title="Search outage", created_by=pm
    )
    visitor = open_browser(other_team_member)
    page = visitor.page
    visitor.visit(reverse("reviews:library"), "library")
    visitor.tab_to("#id_q")
    page.keyboard.type("Checkout")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    results = page.locator("#narrative-results")
    # The results also update as one types (htmx); wait for them to settle.
    page.wait_for_load_state("networkidle")
    results.get_by_role("link", name=draft.title).wait_for()
    assert "Search outage" not in results.inner_text()
    visitor.check("library-search")

    results.get_by_role("link", name=draft.title).click()
    visitor.wait_for_path(draft.get_absolute_url())
    visitor.check("narrative-read")

    response = page.goto(unpublished.get_absolute_url())
    assert response.status == 404
    response = page.goto(reverse("reviews:narrative_edit", args=[unpublished.pk]))
    assert response.status == 404
    visitor.check("narrative-draft-not-found")
