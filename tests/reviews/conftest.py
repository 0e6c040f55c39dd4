"""Fixtures shared by the reviews' tests."""

from datetime import timedelta

import pytest
from django.utils import timezone

from reviews.services import review as review_services


@pytest.fixture
def review(incident, pm, teammate):
    """Facilitated by the product manager; the responder and a teammate attend."""
    return review_services.review_schedule(
        incident=incident,
        by=pm,
        scheduled_at=timezone.now() + timedelta(days=1),
        time_zone="UTC",
        duration_minutes=60,
        facilitator=pm,
        attendees=[incident.responders.get().user, teammate],
    )
