"""Evidence beside the analysis: a responder promotes a chat message to a key event with a marker."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.evidence.models import Evidence
from incidents.models import AnalysisSession, KeyEvent
from tests.factories import (
    AnalysisSessionFactory,
    KeyEventFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)


@pytest.fixture
def analysis(incident, responder, pm):
    return AnalysisSessionFactory(
        responder=incident.responders.get(user=responder), scheduled_by=pm, allocated_minutes=90
    )


@pytest.fixture
def transcript(incident, pm):
    start = incident.started_at
    lines = ["checkout is throwing 502s", "rolling back deploy 4711", "error rate back to normal"]
    return [
        Evidence.objects.create(
            incident=incident, source="slack", external_id=f"C0INC:{index}", kind="message",
            occurred_at=start + timedelta(minutes=2 * index + 1), text=text, author=pm, channel="C0INC",
        )
        for index, text in enumerate(lines)
    ]  # fmt: skip


def test_a_responder_promotes_a_message_to_a_key_event_with_a_marker(
    open_browser, analysis, responder, transcript
):
    visitor = open_browser(responder)
    page = visitor.page
    visitor.visit(analysis.get_absolute_url(), "analysis-with-evidence")
    panel = page.locator("#evidence")
    panel.get_by_text("rolling back deploy 4711").wait_for()
    visitor.check("evidence-panel")

    # Filtered by search, then promoted as the repair with a note.
    page.fill("#evidence-q", "rolling")
    panel.get_by_role("button", name="Filter").click()
    panel.locator(".evidence-item").filter(has_text="checkout is throwing").wait_for(state="detached")
    item = panel.locator(f"#evidence-{transcript[1].pk}")
    item.locator("summary").click()
    item.get_by_label("Marker").select_option("repair")
    item.get_by_label("Note").fill("Rolled back the bad deploy")
    item.get_by_role("button", name="Add to my key events").click()
    page.locator(f"#evidence-{transcript[1].pk} .badge-promoted").wait_for()
    page.locator("#key-events .timeline li", has_text="Rolled back the bad deploy").wait_for()
    visitor.check("evidence-promoted")

    event = KeyEvent.objects.get()
    assert (event.evidence, event.marker, event.analysis) == (transcript[1], "repair", analysis)


def test_a_promotion_without_a_marker_is_refused_on_the_form(open_browser, analysis, responder, transcript):
    visitor = open_browser(responder)
    page = visitor.page
    visitor.visit(analysis.get_absolute_url(), "analysis-with-evidence")
    item = page.locator(f"#evidence-{transcript[0].pk}")
    item.locator("summary").click()
    item.get_by_label("Marker").evaluate(
        "select => { select.innerHTML += '<option value=\"guess\">guess</option>'; select.value = 'guess'; }"
    )
    item.get_by_role("button", name="Add to my key events").click()
    page.locator(f"#evidence-{transcript[0].pk} .error").wait_for()
    visitor.check("evidence-promote-refused")
    assert not KeyEvent.objects.exists()


@pytest.mark.parametrize("javascript", [True, False], ids=["script", "no-script"])
def test_the_review_shows_where_the_analysts_picks_agree_and_differ(
    open_browser, incident, pm, responder, teammate, transcript, javascript
):
    review = ReviewFactory(incident=incident, facilitator=pm)
    review.attendees.add(responder, teammate)
    analyses = [
        AnalysisSessionFactory(
            responder=ResponderFactory(incident=incident, user=user),
            scheduled_by=pm,
            status=AnalysisSession.Status.SUBMITTED,
            submitted_at=timezone.now(),
            report="My report",
        )
        for user in (UserFactory(first_name="Ana"), UserFactory(first_name="Ben"))
    ]
    alert, rollback, _recovered = transcript
    for analysis, rollback_marker in zip(analyses, ("repair", "diagnosis"), strict=True):
        KeyEventFactory(analysis=analysis, occurred_at=alert.occurred_at, evidence=alert, marker="detection")
        KeyEventFactory(
            analysis=analysis, occurred_at=rollback.occurred_at, evidence=rollback, marker=rollback_marker
        )

    visitor = open_browser(pm, javascript=javascript)
    visitor.visit(review.get_absolute_url(), "review-evidence-picks")
    picks = visitor.page.locator("#review-picks")
    picks.scroll_into_view_if_needed()
    agreed = picks.locator(f"#pick-{alert.pk}")
    differed = picks.locator(f"#pick-{rollback.pk}")

    assert agreed.is_visible() and differed.is_visible()
    assert "checkout is throwing 502s" in agreed.inner_text()
    assert "Detection × 2" in agreed.inner_text() and "Agree" in agreed.inner_text()
    assert "Diagnosis × 1" in differed.inner_text() and "Repair × 1" in differed.inner_text()
    assert "Differ" in differed.inner_text()
    assert "2 analysts" in differed.inner_text()
    visitor.check("review-evidence-picks-seen")
