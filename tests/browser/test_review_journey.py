"""Journey 2: a product manager schedules the review with a facilitator and an attendee from another
team, and the two run it together in two browsers, from step 1 to step 6 without a page reload."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from incidents.models import AnalysisSession
from reviews.models import ContributingFactor, ImprovementAction, Learning, Perspective, Review
from tests.factories import (
    AnalysisSessionFactory,
    IncidentFactory,
    InterviewFactory,
    ResponderFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)

# The live refresh polls every 3 seconds: what one person saves reaches the other within this.
REFRESH_MS = 10_000


@pytest.fixture
def people(transactional_db):
    payments, search = TeamFactory(name="Payments"), TeamFactory(name="Search")
    pm = UserFactory(username="pm", first_name="Priya", last_name="Manager")
    payments.members.add(pm)
    payments.product_managers.add(pm)
    responder = UserFactory(username="responder", first_name="Rui", last_name="Oncall")
    late = UserFactory(username="late", first_name="Lee", last_name="Late")
    payments.members.add(responder, late)
    facilitator = UserFactory(username="fran", first_name="Fran", last_name="Facilitator")
    attendee = UserFactory(username="olga", first_name="Olga", last_name="Elsewhere")
    search.members.add(facilitator, attendee)
    incident = IncidentFactory(
        team=payments, service=ServiceFactory(team=payments), declared_by=pm, title="Checkout timeouts"
    )
    analysis = AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=responder, role="Incident commander"),
        report="## What I saw\nRetries piled up on the database.",
        status=AnalysisSession.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )
    InterviewFactory(analysis=analysis, interviewee="The on-call DBA", notes="Saw lock waits climb.")
    AnalysisSessionFactory(responder=ResponderFactory(incident=incident, user=late, role="Scribe"))
    return {"pm": pm, "facilitator": facilitator, "attendee": attendee, "incident": incident}


def schedule_with_the_keyboard(manager, incident, facilitator, attendee) -> Review:
    page = manager.page
    manager.visit(reverse("reviews:schedule", args=[incident.pk]), "review-schedule")
    start = timezone.now() + timedelta(days=1)
    page.fill("#id_scheduled_at", start.strftime("%Y-%m-%dT10:00"))
    manager.tab_to("#id_duration_minutes")
    page.keyboard.press("Control+A")
    page.keyboard.type("60")
    manager.tab_to("#id_facilitator")
    page.keyboard.press("Control+A")
    page.keyboard.type(facilitator.username)
    manager.tab_to("#id_attendees")
    page.keyboard.press("Control+A")
    page.keyboard.type(f"{attendee.username}, responder")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    review = Review.objects.get(incident=incident)
    manager.wait_for_path(review.get_absolute_url())
    return review


def count_loads(person) -> list[str]:
    """Every document the page loads from now on: a full reload, or a navigation to another
    document. Moving to an anchor of the same document (the step links) loads nothing."""
    loads: list[str] = []
    page = person.page
    page.on("load", lambda: loads.append(page.url))
    return loads


def settled(person) -> None:
    """Wait until htmx has finished swapping and set up what it swapped in (a control pressed
    before that would post as a plain form)."""
    person.page.wait_for_function(
        "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"
    )
    person.page.wait_for_timeout(50)


def press(person, selector: str) -> None:
    """Reach a control with Tab alone and press it."""
    settled(person)
    person.tab_to(selector)
    person.page.keyboard.press("Enter")


def type_into(person, selector: str, text: str) -> None:
    person.tab_to(selector)
    person.page.keyboard.type(text)


def test_the_review_runs_in_two_browsers_from_step_one_to_six_without_a_reload(open_browser, people) -> None:
    manager = open_browser(people["pm"])
    review = schedule_with_the_keyboard(
        manager, people["incident"], people["facilitator"], people["attendee"]
    )
    assert review.facilitator == people["facilitator"]

    facilitator = open_browser(people["facilitator"])
    attendee = open_browser(people["attendee"])
    facilitator.visit(review.get_absolute_url(), "review-facilitate")
    attendee.visit(review.get_absolute_url(), "review-attend")
    reloads = {"facilitator": count_loads(facilitator), "attendee": count_loads(attendee)}
    fpage, apage = facilitator.page, attendee.page

    # Before anything is done, starting is the primary action, not "held".
    assert fpage.locator("#review-start.primary").is_visible()
    assert not fpage.locator("#review-held.primary").count()
    press(facilitator, "#review-start")
    fpage.locator("[data-timer]").wait_for()
    apage.locator("[data-timer]").wait_for(timeout=REFRESH_MS)

    # Step 1: the reports, who has not submitted, and the interviews — for the other team too.
    reports = apage.locator("#review-reports")
    assert "Lee Late" in reports.inner_text() and "The on-call DBA" in reports.inner_text()
    facilitator.check("review-step-1")
    press(facilitator, "#step-reports-done")
    # The attendee, who was on the meeting's step, follows it to step 2.
    apage.locator("#step-context").wait_for(state="visible", timeout=REFRESH_MS)

    # Steps 2 and 3 at once: the facilitator writes the context while the attendee types a
    # perspective; the refresh brings the context over without touching the attendee's typing.
    apage.click("#review-steps-nav a[data-step=perspectives]")
    type_into(attendee, "#id_perspective-body", "From Search: our cache ")
    type_into(facilitator, "#id_context_notes-text", "Quarter-end release freeze.")
    press(facilitator, "#notes-context_notes-save")
    fpage.locator('#notes-context_notes[data-version="2"]').wait_for()
    assert Review.objects.get(pk=review.pk).context_notes == "Quarter-end release freeze."
    apage.wait_for_timeout(4_000)  # at least one refresh has come and gone
    assert apage.input_value("#id_perspective-body") == "From Search: our cache "
    apage.click("#review-steps-nav a[data-step=context]")
    apage.locator("#notes-context_notes .markdown", has_text="Quarter-end").wait_for(timeout=REFRESH_MS)
    apage.click("#review-steps-nav a[data-step=perspectives]")
    apage.focus("#id_perspective-body")
    apage.keyboard.press("End")
    apage.keyboard.type("expired at the same time.")
    press(attendee, "#perspective-save")
    apage.get_by_role("button", name="Save my perspective").wait_for()
    assert Perspective.objects.get().body == "From Search: our cache expired at the same time."
    attendee.check("review-perspective-saved")
    press(facilitator, "#step-context-done")
    fpage.locator("#step-perspectives").wait_for(state="visible")
    fpage.locator(".perspective .markdown", has_text="our cache expired").wait_for(timeout=REFRESH_MS)
    press(facilitator, "#step-perspectives-done")

    # Step 4: a factor with no text is refused in place; the attendee suggests one, the
    # facilitator accepts it.
    fpage.locator("#step-factors").wait_for(state="visible")
    press(facilitator, "#factor-add")
    fpage.locator("#review-factors .error-summary").wait_for()
    expect(fpage.locator("#id_factor-description")).to_be_focused()
    facilitator.check("review-factor-refused")
    fpage.keyboard.type("Retries without backoff")
    facilitator.tab_to("#id_factor-kind_0")
    fpage.keyboard.press("ArrowDown")
    press(facilitator, "#factor-add")
    fpage.locator("#review-factors li", has_text="Retries without backoff").wait_for()
    apage.locator("#step-factors").wait_for(state="visible", timeout=REFRESH_MS)
    type_into(attendee, "#id_suggest-description", "Shared cache expiry")
    attendee.tab_to("#id_suggest-kind_0")
    apage.keyboard.press("ArrowDown")
    press(attendee, "#factor-suggest")
    fpage.locator("#review-factors li", has_text="Shared cache expiry").wait_for(timeout=REFRESH_MS)
    fpage.locator("#review-factors summary", has_text="Accept").first.click()
    fpage.get_by_role("button", name="Accept as a factor").click()
    apage.locator("#review-factors .badge", has_text="Technical").nth(1).wait_for(timeout=REFRESH_MS)
    press(facilitator, "#step-factors-done")

    # Step 5: learnings and an improvement action, seen by the attendee.
    type_into(facilitator, "#id_learning-description", "Retry budgets per client")
    press(facilitator, "#learning-add")
    fpage.locator("#learnings li", has_text="Retry budgets per client").wait_for()
    fpage.locator("#review-actions summary", has_text="Raise an improvement action").click()
    type_into(facilitator, "#id_action-title", "Add a retry budget to the checkout client")
    press(facilitator, "#action-add")
    fpage.locator("#review-actions li", has_text="Add a retry budget").wait_for()
    apage.locator("#review-actions li", has_text="Add a retry budget").wait_for(timeout=REFRESH_MS)
    facilitator.check("review-step-5")
    attendee.check("review-step-5-attendee")
    press(facilitator, "#step-learnings-done")
    press(facilitator, "#step-narrative-done")

    # Every step done: now "held" is the primary action.
    fpage.locator("#review-held.primary").wait_for()
    press(facilitator, "#review-held")
    fpage.locator("#review-meeting .badge-held").wait_for()
    apage.locator("#review-meeting .badge-held").wait_for(timeout=REFRESH_MS)
    facilitator.check("review-held")

    assert reloads == {"facilitator": [], "attendee": []}
    review.refresh_from_db()
    assert review.status == Review.Status.HELD and review.all_steps_done
    assert sorted(ContributingFactor.objects.values_list("description", flat=True)) == [
        "Retries without backoff",
        "Shared cache expiry",
    ]
    assert Learning.objects.count() == ImprovementAction.objects.count() == 1
