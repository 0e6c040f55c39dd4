"""Every page the benchmark measures issues a fixed number of queries, whatever the data behind it.

The pages are those of `bench/pages.py`'s table (the API lists are pinned in
tests/api/test_query_counts.py, the feed in tests/reviews/test_feed_conditional.py), each opened by
an ordinary team member. Each is measured on a small organisation, then again after it has grown
several times over: the counts must be equal, and no more than the pinned ceiling.
"""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.evidence.models import Evidence
from incidents.models import AnalysisSession
from reviews.models import Narrative, Review
from tests.factories import (
    AnalysisSessionFactory,
    ImprovementActionFactory,
    IncidentFactory,
    KeyEventFactory,
    NarrativeFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)

# Ceilings as measured when they were pinned: first the page computed (the review and narrative
# pages with the queries of their loop and blend panels, the review page with the two of its
# evidence picks, the library with its drafts section and its total counted by index, the search
# with the ids of its two tiers read apart; every page with the navigation's "may read the audit
# log", which reads the viewer's teams — shared with the visibility rules), then served again from
# the versioned caches (reviews.caches): the session, the user and the viewer's teams, plus the
# incident, review or narrative checked for access. A narrative computed also asks whether its
# viewer was counted as a reader, which the cache otherwise remembers. A page that needs more has
# grown a query per row or lost a select_related; raise one only with the reason in the commit.
PAGES = {
    "floor": ("/settings/", 3, 3),
    "my work": ("/", 6, 3),
    "library": ("/narratives/", 9, 3),
    "library search": ("/narratives/?q=herd", 10, 3),
    "incident list": ("/incidents/", 7, 3),
    "incident page": ("/incidents/{incident}/", 9, 4),
    "review page": ("/reviews/{review}/", 18, 4),
    "published narrative": ("/narratives/{narrative}/", 11, 4),
    "insights": ("/insights/", 22, 3),
}


@pytest.fixture
def organisation(team, service, pm, responder):
    """The incident the pages open, its review (the responder attends) and a published narrative."""
    incident = IncidentFactory(team=team, service=service, declared_by=pm, title="Herd of retries")
    review = ReviewFactory(
        incident=incident,
        facilitator=pm,
        status=Review.Status.HELD,
        scheduled_at=timezone.now() - timedelta(days=1),
    )
    review.attendees.add(responder)
    narrative = NarrativeFactory(
        incident=incident,
        created_by=pm,
        title="The thundering herd",
        body="## What happened\n\nA thundering herd of retries.",
        status=Narrative.Status.PUBLISHED,
        published_at=timezone.now(),
    )
    first_message = Evidence.objects.create(
        incident=incident,
        source="slack",
        external_id="C0GROW:first",
        kind="message",
        occurred_at=timezone.now(),
        text="Checkout slow",
    )
    return {
        "incident": incident.pk,
        "review": review.pk,
        "narrative": narrative.pk,
        "first_message": first_message,
    }


def grow(*, copies: int, organisation: dict, team, service, pm, responder) -> None:
    """More of everything: analyses and key events on the incident under test, incidents with
    narratives and actions around it, members in the team."""
    for index in range(copies):
        analysis = AnalysisSessionFactory(
            responder=ResponderFactory(incident_id=organisation["incident"], user=UserFactory()),
            scheduled_by=pm,
            status=AnalysisSession.Status.SUBMITTED,
            submitted_at=timezone.now(),
            report="Report",
        )
        KeyEventFactory.create_batch(3, analysis=analysis)
        # Evidence promoted by each analyst: the review page's picks beside the merged timeline.
        picked = Evidence.objects.create(
            incident_id=organisation["incident"],
            source="slack",
            external_id=f"C0GROW:{analysis.pk}",
            kind="message",
            occurred_at=timezone.now(),
            text="Retries piling up",
        )
        KeyEventFactory(analysis=analysis, evidence=picked, marker="detection")
        KeyEventFactory(analysis=analysis, evidence=organisation["first_message"], marker="diagnosis")
        other = IncidentFactory(team=team, service=service, declared_by=pm, title=f"Herd {index}")
        ResponderFactory(incident=other, user=responder)
        ImprovementActionFactory(incident=other, owner=responder, raised_by=pm)
        NarrativeFactory(
            incident=other,
            created_by=pm,
            title=f"Herd {index}",
            status=Narrative.Status.PUBLISHED,
            published_at=timezone.now(),
        )
        team.members.add(UserFactory())


def count(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(captured)


def queries(client, path: str) -> tuple[int, int]:
    """The page's queries when it is computed (every cache emptied), then when it is served again
    from the versioned caches, after a first visit has made its own writes (a narrative's read)."""
    client.get(path)
    cache.clear()
    return count(client, path), count(client, path)


@pytest.mark.parametrize("page", PAGES)
def test_page_issues_a_fixed_number_of_queries_whatever_the_data(
    page, client, organisation, team, service, pm, responder
):
    template, ceiling, cached_ceiling = PAGES[page]
    path = template.format(**organisation)
    client.force_login(responder)
    grow(
        copies=1,
        organisation=organisation,
        team=team,
        service=service,
        pm=pm,
        responder=responder,
    )
    few = queries(client, path)
    grow(
        copies=6,
        organisation=organisation,
        team=team,
        service=service,
        pm=pm,
        responder=responder,
    )
    many = queries(client, path)
    assert few == many, f"{page}: {few} queries (computed, cached) with little data, {many} with more"
    assert many[0] <= ceiling, f"{page}: {many[0]} queries computed, pinned at {ceiling}"
    assert many[1] <= cached_ceiling, f"{page}: {many[1]} queries from the caches, pinned at {cached_ceiling}"
