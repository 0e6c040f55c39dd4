"""Journey 1: a responder fills in and submits their analysis, at desktop and phone size."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from incidents import services
from incidents.models import AnalysisSession
from tests.factories import AnalysisSessionFactory, KeyEventFactory

REPORT = "## What happened\n\nThe connection pool ran dry while the retries piled up."


@pytest.fixture
def analysis(incident, responder, pm):
    return AnalysisSessionFactory(
        responder=incident.responders.get(user=responder), scheduled_by=pm, allocated_minutes=90
    )


def local(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def fill_focused_datetime(page, moment) -> None:
    """Headless Chromium's date-time fields ignore typed digits: set the focused one's value."""
    page.locator(":focus").fill(local(moment))


def test_a_responder_fills_in_and_submits_their_analysis_with_the_keyboard(
    open_browser, analysis, responder
) -> None:
    visitor = open_browser(responder)
    page = visitor.page
    visitor.visit(reverse("incidents:my_work"), "my-work")
    visitor.tab_to(f'main a[href="{analysis.get_absolute_url()}"]')
    page.keyboard.press("Enter")
    visitor.wait_for_path(analysis.get_absolute_url())
    assert page.get_by_text("Questions to guide your report").is_visible()
    assert page.get_by_text(analysis.incident.summary).is_visible()
    visitor.check("analysis")

    # A key event, by keyboard; the add form stays open with the focus on its first field.
    visitor.tab_to("#key-events details > summary")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    fill_focused_datetime(page, analysis.incident.started_at + timedelta(minutes=4))
    visitor.tab_to("#id_description")
    page.keyboard.type("Error-rate alert fired for checkout")
    visitor.tab_to("#id_evidence_url")
    page.keyboard.type("https://logs.example.org/alert/1")
    page.keyboard.press("Enter")
    page.locator("#key-events .timeline li", has_text="Error-rate alert fired").wait_for()
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'id_occurred_at'")
    assert page.input_value("#id_description") == ""
    visitor.check("analysis-key-event-added")

    # Corrected in place.
    event = analysis.key_events.get()
    visitor.tab_to("#key-events li details.inline-edit > summary >> nth=0")
    page.keyboard.press("Enter")
    description = page.locator(f"#id_key-event-{event.pk}-description")
    description.focus()
    page.keyboard.press("Control+A")
    page.keyboard.type("Error-rate alert fired for checkout and payments")
    visitor.tab_to(f"#id_key-event-{event.pk}-evidence_url")
    page.keyboard.press("Enter")
    page.locator("#key-events .timeline li", has_text="checkout and payments").wait_for()

    # The report: time spent past the allocation is pointed out; the draft saves itself.
    visitor.tab_to("#id_report")
    page.keyboard.type(REPORT)
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("120")
    assert page.locator("#time-warning").is_visible()
    page.locator("#autosave-status", has_text="Draft saved at").wait_for()
    analysis.refresh_from_db()
    assert (analysis.report.replace("\r\n", "\n"), analysis.time_spent_minutes) == (REPORT, 120)
    visitor.check("analysis-autosaved")

    # Leaving with text not yet saved asks first.
    visitor.tab_to("#id_report")
    page.keyboard.press("End")
    page.keyboard.type(" Nobody saw the pool metric.")
    asked = []

    def dismiss(dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("link", name=analysis.incident.title).first.click()
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"]
    assert page.url.endswith(analysis.get_absolute_url())

    # Save and submit with text still unsaved: what was typed is saved, then submitted.
    page.once("dialog", lambda dialog: dialog.accept())
    visitor.tab_to("button[value=submit]")
    page.keyboard.press("Enter")
    page.get_by_text("Analysis saved and submitted").wait_for()
    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.SUBMITTED
    assert analysis.report.endswith("Nobody saw the pool metric.")
    visitor.check("analysis-submitted")


def test_an_invalid_key_event_shows_its_errors_in_place_and_keeps_what_was_typed(
    open_browser, analysis, responder
) -> None:
    visitor = open_browser(responder)
    page = visitor.page
    page.goto(analysis.get_absolute_url())
    page.get_by_text("Add a key event").click()
    page.fill("#id_description", "Checkout error rate alert fired")
    page.fill("#id_evidence_url", "not a link")
    page.get_by_role("button", name="Add event").click()

    summary = page.locator("#key-events .error-summary")
    summary.wait_for()
    assert "When it happened" in summary.inner_text()
    assert "Enter a valid URL" in summary.inner_text()
    assert page.input_value("#id_description") == "Checkout error rate alert fired"
    assert page.input_value("#id_evidence_url") == "not a link"
    expect(page.locator("#id_occurred_at")).to_be_focused()
    assert page.url.endswith(analysis.get_absolute_url()), "the page itself did not change"
    visitor.check("analysis-key-event-invalid")


def test_an_invalid_interview_shows_its_errors_in_place_and_keeps_what_was_typed(
    open_browser, analysis, responder
) -> None:
    visitor = open_browser(responder)
    page = visitor.page
    page.goto(analysis.get_absolute_url())
    page.get_by_text("Add an interview").click()
    page.fill("#id_interviewee", "Dana from the database team")
    page.fill("#id_notes", "Saw the connection pool saturate.")
    page.get_by_role("button", name="Add interview").click()

    page.locator("#interviews .error-summary").wait_for()
    assert page.input_value("#id_interviewee") == "Dana from the database team"
    assert page.input_value("#id_notes") == "Saw the connection pool saturate."
    expect(page.locator("#id_held_at")).to_be_focused()
    assert page.locator("#interviews [aria-invalid=true]").count() == 1
    visitor.check("analysis-interview-invalid")


def test_a_save_based_on_a_stale_version_keeps_the_text_and_shows_what_differs(
    open_browser, analysis, responder
) -> None:
    visitor = open_browser(responder)
    page = visitor.page
    page.goto(analysis.get_absolute_url())
    services.analysis_save(
        analysis=analysis,
        by=responder,
        version=1,
        changes={"report": "Saved in another window", "time_spent_minutes": 5},
    )
    page.fill("#id_report", "My own words, " + "long " * 60 + "https://example.org/" + "x" * 120)
    page.fill("#id_time_spent_minutes", "30")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    conflict = page.locator("#conflict")
    assert conflict.is_visible()
    assert "Saved in another window" in conflict.locator("pre.diff del").inner_text()
    assert page.input_value("#id_report").startswith("My own words")
    visitor.check("analysis-conflict")


def test_the_analysis_page_works_without_javascript(open_browser, analysis, responder) -> None:
    KeyEventFactory(analysis=analysis, description="Alert fired")
    visitor = open_browser(responder, javascript=False)
    page = visitor.page
    visitor.visit(analysis.get_absolute_url(), "analysis-no-javascript")

    page.get_by_text("Add an interview").click()
    page.fill("#id_interviewee", "Dana")
    with page.expect_navigation():
        page.get_by_role("button", name="Add interview").click()
    assert page.locator("#interviews .error-summary").is_visible()
    assert page.input_value("#id_interviewee") == "Dana"
    visitor.check("analysis-no-javascript-invalid")

    page.fill("#id_held_at", local(timezone.now() - timedelta(hours=1)))
    with page.expect_navigation():
        page.get_by_role("button", name="Add interview").click()
    assert page.locator("#interviews li", has_text="Dana").is_visible()

    page.fill("#id_report", REPORT)
    page.fill("#id_time_spent_minutes", "45")
    with page.expect_navigation():
        page.get_by_role("button", name="Save and submit").click()
    analysis.refresh_from_db()
    assert analysis.status == AnalysisSession.Status.SUBMITTED
    assert analysis.report.replace("\r\n", "\n") == REPORT
    assert analysis.interviews.get().interviewee == "Dana"
