"""Pages served from the versioned caches (reviews.caches) show what a page computed afresh would:
a write is seen at the next visit, whoever made it and however, and what one viewer may see is
never served to another."""

from contextlib import suppress

import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.models import AnalysisSession, Incident
from reviews.caches import INCIDENT_LIST, LIBRARY, MY_WORK, NARRATIVE
from reviews.models import ImprovementAction, Narrative
from tests.factories import (
    AnalysisSessionFactory,
    ImprovementActionFactory,
    IncidentFactory,
    LearningThemeFactory,
    NarrativeFactory,
    ResponderFactory,
    ReviewFactory,
    TeamFactory,
)
from tests.pages import visit

pytestmark = pytest.mark.django_db


def published(incident, title, **fields):
    return NarrativeFactory(
        incident=incident,
        created_by=incident.declared_by,
        title=title,
        status=Narrative.Status.PUBLISHED,
        published_at=timezone.now(),
        **fields,
    )


def results(page: str) -> str:
    return page[page.index('id="narrative-results"') :]


def test_the_library_is_served_again_from_the_cache_with_the_same_results(client, incident, responder):
    published(incident, "The thundering herd")
    client.force_login(responder)
    first, computed = visit(client, reverse("reviews:library"))
    again, served = visit(client, reverse("reviews:library"))
    assert results(again) == results(first)
    assert "The thundering herd" in again
    assert served < computed


def test_a_narrative_published_since_the_last_visit_is_listed_at_once(
    client, incident, responder, team, service
):
    published(incident, "The thundering herd")
    client.force_login(responder)
    assert "1 narrative" in visit(client, reverse("reviews:library"))[0]
    # A conditional update, as a service makes it: no model save, no signal.
    draft = NarrativeFactory(
        incident=IncidentFactory(team=team, service=service, title="Cache stampede"), title="Stampede"
    )
    Narrative.objects.filter(pk=draft.pk).update(
        status=Narrative.Status.PUBLISHED, published_at=timezone.now()
    )
    page = visit(client, reverse("reviews:library"))[0]
    assert "2 narratives" in page
    assert "Stampede" in page


def test_each_search_and_page_has_results_of_its_own(client, incident, responder):
    published(incident, "The thundering herd")
    client.force_login(responder)
    assert "The thundering herd" in visit(client, reverse("reviews:library") + "?q=herd")[0]
    assert "No published narratives match" in visit(client, reverse("reviews:library") + "?q=avalanche")[0]
    # The same parameters in another order are the same results.
    assert "The thundering herd" in visit(client, reverse("reviews:library") + "?severity=&q=herd")[0]
    assert "The thundering herd" in visit(client, reverse("reviews:library") + "?q=herd&severity=")[0]


def test_a_confidential_narrative_cached_for_its_team_is_never_served_to_others(
    client, team, service, pm, responder, other_team_member
):
    secret = IncidentFactory(team=team, service=service, declared_by=pm, confidential=True)
    published(secret, "The secret outage")
    client.force_login(responder)
    assert "The secret outage" in visit(client, reverse("reviews:library"))[0]
    client.force_login(other_team_member)
    assert "The secret outage" not in visit(client, reverse("reviews:library"))[0]
    assert "No published narratives" in visit(client, reverse("reviews:library"))[0]


def test_responding_to_a_confidential_incident_lists_its_narrative_at_once(
    client, team, service, pm, other_team_member
):
    secret = IncidentFactory(team=team, service=service, declared_by=pm, confidential=True)
    published(secret, "The secret outage")
    client.force_login(other_team_member)
    assert "The secret outage" not in visit(client, reverse("reviews:library"))[0]
    ResponderFactory(incident=secret, user=other_team_member)
    assert "The secret outage" in visit(client, reverse("reviews:library"))[0]


def test_an_incident_made_confidential_leaves_the_library_of_those_who_may_not_see_it(
    client, incident, other_team_member
):
    published(incident, "The thundering herd")
    client.force_login(other_team_member)
    assert "The thundering herd" in visit(client, reverse("reviews:library"))[0]
    Incident.objects.filter(pk=incident.pk).update(confidential=True)
    assert "The thundering herd" not in visit(client, reverse("reviews:library"))[0]


def test_a_new_team_is_a_filter_choice_at_once(client, incident, responder):
    client.force_login(responder)
    assert "Observability" not in visit(client, reverse("reviews:library"))[0]
    TeamFactory(name="Observability")
    assert "Observability" in visit(client, reverse("reviews:library"))[0]


def test_the_incident_list_counts_an_analysis_submitted_since_the_last_visit(client, incident, responder, pm):
    analysis = AnalysisSessionFactory(
        responder=incident.responders.get(user=responder), scheduled_by=pm, report="What I saw"
    )
    client.force_login(responder)
    assert "0/1 submitted" in visit(client, reverse("incidents:list"))[0]
    AnalysisSession.objects.filter(pk=analysis.pk).update(
        status=AnalysisSession.Status.SUBMITTED, submitted_at=timezone.now()
    )
    assert "1/1 submitted" in visit(client, reverse("incidents:list"))[0]


def test_the_incident_list_of_one_member_is_never_served_to_another(
    client, incident, responder, other_team_member
):
    client.force_login(responder)
    first, computed = visit(client, reverse("incidents:list"))
    assert "Checkout timeouts" in first
    assert visit(client, reverse("incidents:list"))[1] < computed
    client.force_login(other_team_member)
    assert "Checkout timeouts" not in visit(client, reverse("incidents:list"))[0]


def test_my_work_is_each_persons_own_and_follows_an_allocation(client, incident, responder, teammate, pm):
    client.force_login(responder)
    assert "No analysis has been allocated to you." in visit(client, reverse("incidents:my_work"))[0]
    AnalysisSessionFactory(responder=incident.responders.get(user=responder), scheduled_by=pm)
    mine = visit(client, reverse("incidents:my_work"))[0]
    assert "No analysis has been allocated to you." not in mine
    client.force_login(teammate)
    assert "No analysis has been allocated to you." in visit(client, reverse("incidents:my_work"))[0]


def test_a_narratives_actions_show_their_status_as_it_stands(client, incident, responder, pm):
    narrative = published(incident, "The thundering herd")
    action = ImprovementActionFactory(incident=incident, raised_by=pm, title="Add jitter to retries")
    client.force_login(responder)
    page = visit(client, narrative.get_absolute_url())[0]
    assert "Add jitter to retries" in page
    assert "badge-done" not in page
    # The tracker's webhook closes it with a conditional update.
    ImprovementAction.objects.filter(pk=action.pk).update(status="done", done_at=timezone.now())
    assert "badge-done" in visit(client, narrative.get_absolute_url())[0]


def test_an_edited_narrative_shows_its_new_body_at_once(client, incident, responder):
    narrative = published(incident, "The thundering herd", body="The first telling.")
    client.force_login(responder)
    assert "The first telling." in visit(client, narrative.get_absolute_url())[0]
    Narrative.objects.filter(pk=narrative.pk).update(body="The second telling.")
    page = visit(client, narrative.get_absolute_url())[0]
    assert "The second telling." in page
    assert "The first telling." not in page


def test_related_narratives_are_those_the_viewer_may_read(
    client, team, service, pm, responder, other_team_member
):
    theme = LearningThemeFactory(name="Retries")
    narratives = []
    for title, confidential in (("The open story", False), ("The secret story", True)):
        incident = IncidentFactory(team=team, service=service, declared_by=pm, confidential=confidential)
        analysis = AnalysisSessionFactory(
            responder=ResponderFactory(incident=incident, user=responder),
            scheduled_by=pm,
            status=AnalysisSession.Status.SUBMITTED,
            submitted_at=timezone.now(),
        )
        analysis.themes.add(theme)
        narratives.append(published(incident, title))
    client.force_login(responder)
    assert "The secret story" in visit(client, narratives[0].get_absolute_url())[0]
    client.force_login(other_team_member)
    assert "The secret story" not in visit(client, narratives[0].get_absolute_url())[0]


@pytest.mark.django_db(transaction=True)
def test_a_write_replaces_the_versions_of_the_caches_that_read_its_table_only(team, service, pm):
    incident = IncidentFactory(team=team, service=service, declared_by=pm)
    versions = {versioned: versioned.version() for versioned in (INCIDENT_LIST, LIBRARY, MY_WORK, NARRATIVE)}
    ImprovementActionFactory(incident=incident, raised_by=pm)
    # Actions are read by a narrative's page only.
    assert NARRATIVE.version() != versions.pop(NARRATIVE)
    assert {versioned: versioned.version() for versioned in versions} == versions
    ReviewFactory(incident=incident, facilitator=pm)
    # A review decides who sees the incident: every page's version moves.
    assert all(versioned.version() != before for versioned, before in versions.items())


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_write_keeps_the_version_and_a_committed_one_replaces_it(team, service, pm):
    committed = LIBRARY.version()
    with suppress(RuntimeError), transaction.atomic():
        IncidentFactory(team=team, service=service, declared_by=pm)
        assert LIBRARY.version() != committed
        raise RuntimeError("rolled back")
    assert LIBRARY.version() == committed
    with transaction.atomic():
        IncidentFactory(team=team, service=service, declared_by=pm)
        assert cache.get(LIBRARY.version_key) == committed
    assert LIBRARY.version() == cache.get(LIBRARY.version_key) != committed


def test_the_pages_answer_without_a_cache(client, incident, responder, settings):
    published(incident, "The thundering herd")
    # A cache server nobody listens on: every read and write of it fails.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    client.force_login(responder)
    assert "The thundering herd" in visit(client, reverse("reviews:library"))[0]
    assert "Checkout timeouts" in visit(client, reverse("incidents:list"))[0]
    assert "My analyses" in visit(client, reverse("incidents:my_work"))[0]


@pytest.mark.django_db(transaction=True)
def test_a_write_after_a_savepoint_rolled_back_still_replaces_the_version(team, service, pm):
    committed = LIBRARY.version()
    with transaction.atomic():
        with suppress(RuntimeError), transaction.atomic():
            IncidentFactory(team=team, service=service, declared_by=pm)
            raise RuntimeError("rolled back to the savepoint")
        # What the savepoint wrote is gone, and so is its claim on the version.
        assert LIBRARY.version() == committed
        IncidentFactory(team=team, service=service, declared_by=pm)
        assert LIBRARY.version() != committed
    assert LIBRARY.version() == cache.get(LIBRARY.version_key) != committed


@pytest.mark.django_db(transaction=True)
def test_a_request_reads_each_version_once_but_sees_its_own_commits(team, service, pm):
    request_started.send(sender=None)
    try:
        read = LIBRARY.version()
        # Another process's commit during the request: this request keeps the version it read.
        cache.set(LIBRARY.version_key, "replaced-elsewhere", timeout=None)
        assert LIBRARY.version() == read
        # Its own commit: the pages it renders afterwards are the new data's.
        IncidentFactory(team=team, service=service, declared_by=pm)
        ours = LIBRARY.version()
        assert ours not in (read, "replaced-elsewhere")
        assert ours == cache.get(LIBRARY.version_key)
    finally:
        request_finished.send(sender=None)
    # Outside a request (a task), every read asks the cache.
    cache.set(LIBRARY.version_key, "replaced-again", timeout=None)
    assert LIBRARY.version() == "replaced-again"


def test_a_first_read_is_counted_once_and_lists_its_reader_at_once(client, incident, responder, teammate):
    narrative = published(incident, "The thundering herd")
    client.force_login(responder)
    assert "Read by 1 person" in visit(client, narrative.get_absolute_url())[0]
    assert "Read by 1 person" in visit(client, narrative.get_absolute_url())[0]
    client.force_login(teammate)
    page = visit(client, narrative.get_absolute_url())[0]
    assert "Read by 2 people" in page
    assert teammate.display_name in page
    assert narrative.reads.count() == 2


def test_a_draft_is_not_counted_as_read(client, incident, teammate):
    draft = NarrativeFactory(incident=incident, created_by=incident.declared_by, title="Still drafting")
    client.force_login(teammate)
    visit(client, draft.get_absolute_url())
    assert not draft.reads.exists()


def test_reading_again_asks_the_database_nothing_about_the_read(client, incident, responder):
    narrative = published(incident, "The thundering herd")
    client.force_login(responder)
    visit(client, narrative.get_absolute_url())
    with CaptureQueriesContext(connection) as queries:
        client.get(narrative.get_absolute_url())
    assert not [query for query in queries if "reviews_narrativeread" in query["sql"]]
    # Forgotten by the cache, the read is looked up, not counted twice.
    cache.clear()
    assert "Read by 1 person" in visit(client, narrative.get_absolute_url())[0]
    assert narrative.reads.count() == 1
