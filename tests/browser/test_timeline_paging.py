"""A long merged timeline, on the incident page and on the review: fifty events at a time, the next
ones appended in place with JavaScript and on the page's own next page without it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import AnalysisSession, KeyEvent
from reviews.services import review as review_services
from tests.factories import AnalysisSessionFactory


@pytest.fixture
def long_timeline(incident):
    analysis = AnalysisSessionFactory(
        responder=incident.responders.get(), status=AnalysisSession.Status.SUBMITTED
    )
    KeyEvent.objects.bulk_create(
        KeyEvent(
            analysis=analysis,
            incident=incident,
            occurred_at=incident.started_at + timedelta(seconds=index),
            description=f"event-{index:03d}",
        )
        for index in range(120)
    )
    return incident


@pytest.fixture
def review(long_timeline, pm):
    return review_services.review_schedule(
        incident=long_timeline,
        by=pm,
        scheduled_at=timezone.now() + timedelta(days=1),
        time_zone="UTC",
        duration_minutes=60,
        facilitator=pm,
        attendees=[],
    )


@pytest.mark.parametrize("where", ["incident", "review"])
def test_the_next_events_are_appended_in_place_and_reachable_without_javascript(
    open_browser, long_timeline, review, pm, where
) -> None:
    path = long_timeline.get_absolute_url() if where == "incident" else review.get_absolute_url()
    visitor = open_browser(pm)
    page = visitor.page
    loads = []
    page.on("load", lambda _page: loads.append(page.url))
    visitor.visit(path, f"{where}-timeline")
    events = page.locator("ol.timeline > li:not(.more)")
    assert events.count() == 50
    page.get_by_role("link", name="Show the next events").click()
    page.locator("ol.timeline li", has_text="event-099").wait_for()
    assert events.count() == 100 and len(loads) == 1, "appended without a reload"
    page.get_by_role("link", name="Show the next events").click()
    page.locator("ol.timeline li", has_text="event-119").wait_for()
    assert events.count() == 120
    assert page.get_by_role("link", name="Show the next events").count() == 0
    visitor.check(f"{where}-timeline-all")

    offline = open_browser(pm, javascript=False)
    offline.visit(path, f"{where}-timeline-no-js")
    offline.page.get_by_role("link", name="Show the next events").click()
    offline.wait_for_path(path)
    offline.page.locator("ol.timeline li", has_text="event-050").wait_for()
    assert offline.page.locator("ol.timeline li", has_text="event-049").count() == 0
