"""Journey 1: a responder fills in and submits their analysis, at desktop and phone size."""

import pytest
from django.urls import reverse

from tests.factories import AnalysisSessionFactory


@pytest.fixture
def analysis(incident, responder, pm):
    return AnalysisSessionFactory(responder=incident.responders.get(user=responder), scheduled_by=pm)


def test_an_invalid_key_event_shows_its_errors_in_place_and_keeps_what_was_typed(
    open_browser, analysis, responder
) -> None:
    visitor = open_browser(responder)
    page = visitor.page
    visitor.visit(analysis.get_absolute_url(), "analysis")
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
    assert page.evaluate("document.activeElement.id") == "id_occurred_at"
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
    assert page.evaluate("document.activeElement.id") == "id_held_at"
    assert page.locator("#interviews [aria-invalid=true]").count() == 1
    assert page.get_by_role("status").first.count() == 1
    visitor.check("analysis-interview-invalid")
    assert reverse("incidents:analysis", args=[analysis.pk]) in page.url
