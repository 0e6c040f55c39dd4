from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviews.insights import insights_for
from reviews.models import ImprovementAction
from reviews.templatetags.ybiyri_format import duration
from tests.factories import ImprovementActionFactory, IncidentFactory

pytestmark = pytest.mark.django_db


def test_cost_of_delay_counts_done_actions_and_open_age(incident, pm):
    raised = timezone.now() - timedelta(days=10)
    ImprovementActionFactory(
        incident=incident, raised_at=raised, done_at=raised + timedelta(days=4), status="done"
    )
    ImprovementActionFactory(incident=incident, raised_at=raised)
    figures = insights_for(viewer=pm, since=timezone.now() - timedelta(days=30))
    assert figures.actions["raised"] == 2
    assert figures.actions["done"] == 1
    assert figures.actions["mean_cost_of_delay_done"] == timedelta(days=4)
    assert figures.actions["open_age_total"] >= timedelta(days=10)


def test_insights_only_count_incidents_the_viewer_can_see(incident, other_team_member):
    ImprovementActionFactory(incident=incident)
    figures = insights_for(viewer=other_team_member, since=timezone.now() - timedelta(days=30))
    assert figures.incidents["total"] == 0
    assert figures.actions["raised"] == 0


def test_the_insights_page_costs_the_same_queries_at_any_size(client, team, service, pm):
    client.force_login(pm)
    IncidentFactory.create_batch(5, team=team, service=service)

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("reviews:insights"), {"days": 365}).status_code == 200
        return len(captured)

    small = count()
    for incident in IncidentFactory.create_batch(40, team=team, service=service):
        ImprovementActionFactory(incident=incident)
    assert count() == small
    assert ImprovementAction.objects.count() == 40


def test_bad_filters_fall_back_to_the_default_period(client, pm):
    client.force_login(pm)
    assert client.get(reverse("reviews:insights"), {"days": "forever", "team": "x"}).status_code == 200


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(days=5, hours=1), "5 d 1 h"),
    ],
)
def test_durations_read_naturally(value, shown):
    assert duration(value) == shown
