"""Every API list issues the same number of queries whatever the amount of data behind it."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import AnalysisSession, User
from reviews.models import Delivery, Narrative, Walkthrough
from tests.api.conftest import client_for
from tests.factories import (
    AnalysisSessionFactory,
    ContributingFactorFactory,
    ImprovementActionFactory,
    IncidentFactory,
    InterviewFactory,
    KeyEventFactory,
    LearningFactory,
    NarrativeFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)

LISTS = [
    "/api/users/",
    "/api/teams/",
    "/api/services/",
    "/api/themes/",
    "/api/incidents/",
    "/api/analyses/",
    "/api/interviews/",
    "/api/key-events/",
    "/api/reviews/",
    "/api/contributing-factors/",
    "/api/learnings/",
    "/api/actions/",
    "/api/narratives/",
    "/api/narratives/?search=herd",
    "/api/narratives/?status=draft",
    "/api/deliveries/",
    "/api/walkthroughs/",
]


def grow(*, copies: int, team, service, pm, responder) -> None:
    """`copies` incidents of Payments, each with one of everything."""
    for index in range(copies):
        incident = IncidentFactory(team=team, service=service, declared_by=pm, title=f"Incident {index}")
        member = UserFactory()
        team.members.add(member)
        analysis = AnalysisSessionFactory(
            responder=ResponderFactory(incident=incident, user=responder),
            scheduled_by=pm,
            status=AnalysisSession.Status.SUBMITTED,
            submitted_at=timezone.now(),
            report="Report",
        )
        InterviewFactory(analysis=analysis)
        KeyEventFactory(analysis=analysis)
        review = ReviewFactory(
            incident=incident, facilitator=pm, scheduled_at=timezone.now() + timedelta(days=1)
        )
        review.attendees.add(responder, member)
        ContributingFactorFactory(review=review)
        LearningFactory(review=review)
        ImprovementActionFactory(incident=incident, review=review, owner=responder)
        narrative = NarrativeFactory(
            incident=incident,
            title=f"Herd {index}",
            body="The thundering herd.",
            status=Narrative.Status.PUBLISHED if index % 2 else Narrative.Status.DRAFT,
            published_at=timezone.now() if index % 2 else None,
        )
        Delivery.objects.create(
            narrative=narrative, publication=1, channel="email", recipient=f"r{index}@x.org"
        )
        walkthrough = Walkthrough.objects.create(
            narrative=narrative, scheduled_at=timezone.now() + timedelta(days=2), presenter=pm
        )
        walkthrough.attendees.add(member, responder)


def queries_for(viewer, path: str) -> int:
    # A fresh user object per request, as in production (the access rules cache team ids on it).
    client = client_for(User.objects.get(pk=viewer.pk))
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.content[:300])
    return len(captured)


@pytest.mark.parametrize("path", LISTS)
def test_lists_issue_a_fixed_number_of_queries(path, team, service, pm, responder):
    grow(copies=2, team=team, service=service, pm=pm, responder=responder)
    few = queries_for(pm, path)

    grow(copies=12, team=team, service=service, pm=pm, responder=responder)
    many = queries_for(pm, path)

    assert many == few, f"{path}: {few} queries with little data, {many} with more"


# The main lists, read by an ordinary team member: what each costs when computed, and when served
# again from its versioned cache (reviews.caches) while nothing it reads has changed: none, the
# entry being the member's own. Pins may only go down.
PINNED = {
    "/api/incidents/": (3, 0),  # the member's teams, the page, its responders
    "/api/key-events/": (2, 0),  # the member's teams, the page
    "/api/actions/": (6, 0),  # the member's teams, the total (2), the page, its learnings, its factors
    "/api/narratives/": (3, 0),  # the member's teams, the total, the page
}


@pytest.mark.parametrize(("path", "pinned"), PINNED.items())
def test_main_lists_issue_no_more_queries_than_pinned(path, pinned, team, service, pm, responder):
    grow(copies=3, team=team, service=service, pm=pm, responder=responder)
    cache.clear()
    computed = queries_for(responder, path)
    assert (computed, queries_for(responder, path)) == pinned
