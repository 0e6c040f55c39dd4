"""The insights are served from the cache until a table they read is written, and only ever to the
viewers they were computed for."""

from contextlib import suppress
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import KeyEvent
from reviews.insights.cache import VERSION_KEY, data_version
from reviews.models import ImprovementAction
from tests.factories import (
    AnalysisSessionFactory,
    ImprovementActionFactory,
    IncidentFactory,
    ResponderFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(team, service, pm):
    incident = IncidentFactory(
        team=team, service=service, declared_by=pm, started_at=timezone.now() - timedelta(days=3)
    )
    ImprovementActionFactory(incident=incident, raised_at=timezone.now() - timedelta(days=2))
    return incident


def page(client, **params) -> tuple[str, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("reviews:insights"), params)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


def figures(html: str) -> str:
    return html[html.index('id="insights-scope"') : html.index("<script", html.index("<h1>"))]


def test_a_second_look_is_served_from_the_cache_with_the_same_figures(incident, client, pm):
    client.force_login(pm)
    first, computed = page(client)
    again, served = page(client)
    assert figures(again) == figures(first)
    assert "over 1 incident" in again
    # The session and the user; the figures and the team filter's choices come from the cache.
    assert served <= 3 < computed


def test_an_update_that_bypasses_the_models_still_refreshes_the_figures(incident, client, pm):
    client.force_login(pm)
    assert "no action done yet" in page(client)[0]
    # A conditional update, as the tracker's webhooks make: no model method, no signal.
    ImprovementAction.objects.filter(incident=incident).update(status="done", done_at=timezone.now())
    assert "for the 1 action done" in page(client)[0]
    IncidentFactory(team=incident.team, service=incident.service, started_at=timezone.now())
    assert "over 2 incidents" in page(client)[0]


def test_the_export_is_refreshed_by_writes_as_the_page_is(incident, client, pm):
    client.force_login(pm)
    url = reverse("reviews:insights_export")
    assert "opportunity,actions_raised,,,1,count" in client.get(url).content.decode()
    ImprovementActionFactory(incident=incident)
    assert "opportunity,actions_raised,,,2,count" in client.get(url).content.decode()


def test_a_member_made_problem_manager_sees_everything_at_once(incident, client, other_team_member):
    client.force_login(other_team_member)
    assert "over 0 incidents" in page(client)[0]
    type(other_team_member).objects.filter(pk=other_team_member.pk).update(is_problem_manager=True)
    assert "over 1 incident" in page(client)[0]


def test_figures_cached_for_one_viewer_are_never_served_to_another(incident, client, pm, other_team_member):
    client.force_login(pm)
    assert "over 1 incident" in page(client)[0]
    client.force_login(other_team_member)
    assert "over 0 incidents" in page(client)[0]


def test_a_responder_sees_figures_of_their_own_not_their_teams(incident, client, pm, outsider):
    client.force_login(outsider)
    assert "over 0 incidents" in page(client)[0]
    # Responding to the incident makes it the outsider's to see, and their figures change with it.
    ResponderFactory(incident=incident, user=outsider)
    assert "over 1 incident" in page(client)[0]


def test_each_filter_has_figures_of_its_own(incident, client, pm):
    client.force_login(pm)
    assert "over 1 incident" in page(client, period="30d")[0]
    assert "over 0 incidents" in page(client, severity="sev1")[0]
    # A filter that is not valid is its default, and shares the default's figures.
    assert page(client, period="forever")[0].count("over 1 incident") == 1


@pytest.mark.django_db(transaction=True)
def test_writes_to_tables_the_insights_do_not_read_keep_the_version(incident, responder, client):
    analysis = AnalysisSessionFactory(responder=ResponderFactory(incident=incident, user=responder))
    version = data_version()
    KeyEvent.objects.create(
        analysis=analysis, incident=incident, occurred_at=timezone.now(), description="Pager fired"
    )
    # Signing in writes the user's row (last_login) and a session: neither is a figure.
    client.force_login(responder)
    assert data_version() == version
    ImprovementActionFactory(incident=incident)
    assert data_version() != version


@pytest.mark.django_db(transaction=True)
def test_a_transaction_reads_its_own_writes_and_others_see_them_once_committed(team, service):
    incident = IncidentFactory(team=team, service=service)
    committed = data_version()
    with transaction.atomic():
        ImprovementActionFactory(incident=incident)
        # Its own figures under a token of its own; every other connection keeps the committed ones.
        assert data_version() != committed
        assert cache.get(VERSION_KEY) == committed
    assert data_version() == cache.get(VERSION_KEY) != committed
    committed = data_version()
    with suppress(RuntimeError), transaction.atomic():
        ImprovementActionFactory(incident=incident)
        raise RuntimeError("rolled back")
    assert data_version() == committed


def test_the_page_says_when_its_figures_were_computed(incident, client, pm):
    client.force_login(pm)
    assert f"Computed at {timezone.localtime():%H:%M}" in page(client)[0]
