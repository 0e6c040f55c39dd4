"""Library search order on PostgreSQL: title matches first, then the newest, whatever the body says."""

import re
from datetime import timedelta

from django.core.paginator import Paginator
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from incidents.models import User
from reviews import selectors
from reviews.models import Narrative
from reviews.selectors import narrative_library
from reviews.services.narrative import narrative_search_vector_update
from tests.factories import IncidentFactory


def published(team, service, pm, *, title: str, body: str, days_ago: int, confidential: bool = False) -> None:
    incident = IncidentFactory(team=team, service=service, title=title, confidential=confidential)
    narrative = Narrative.objects.create(
        incident=incident,
        title=title,
        body=body,
        status=Narrative.Status.PUBLISHED,
        published_at=timezone.now() - timedelta(days=days_ago),
        created_by=pm,
    )
    narrative_search_vector_update(narrative)


def titles(viewer: User, query: str) -> list[str]:
    return [narrative.title for narrative in narrative_library(viewer=viewer, query=query)]


def test_matches_in_the_body_come_newest_first_however_often_the_word_appears(postgres, team, service, pm):
    published(team, service, pm, title="Old outage", body="kafka " * 40, days_ago=30)
    published(team, service, pm, title="New outage", body="One kafka broker restarted.", days_ago=1)
    published(team, service, pm, title="Kafka lag", body="Consumers stalled.", days_ago=60)
    assert titles(pm, "kafka") == ["Kafka lag", "New outage", "Old outage"]


def test_search_never_lists_a_confidential_narrative_to_an_outsider(postgres, team, service, pm, outsider):
    published(team, service, pm, title="Kafka lag", body="Consumers stalled.", days_ago=1, confidential=True)
    published(team, service, pm, title="Kafka rebalance", body="Slow.", days_ago=2)
    assert titles(pm, "kafka") == ["Kafka lag", "Kafka rebalance"]
    assert titles(outsider, "kafka") == ["Kafka rebalance"]


def test_pages_run_from_the_title_matches_on_into_the_body_matches(postgres, team, service, pm):
    for days_ago in (1, 2, 3):
        published(
            team, service, pm, title=f"Kafka lag {days_ago}", body="Consumers stalled.", days_ago=days_ago
        )
    for days_ago in (4, 5, 6):
        published(
            team, service, pm, title=f"Outage {days_ago}", body="A kafka broker died.", days_ago=days_ago
        )
    paginator = Paginator(narrative_library(viewer=pm, query="kafka"), 2)
    assert paginator.count == 6
    assert [[n.title for n in paginator.page(number)] for number in (1, 2, 3)] == [
        ["Kafka lag 1", "Kafka lag 2"],
        ["Kafka lag 3", "Outage 4"],
        ["Outage 5", "Outage 6"],
    ]


def test_a_common_word_counts_up_to_the_cap_and_the_page_says_so(
    postgres, team, service, pm, client, monkeypatch
):
    monkeypatch.setattr(selectors, "SEARCH_RESULTS_CAP", 3)
    published(team, service, pm, title="Kafka lag", body="Consumers stalled.", days_ago=1)
    for days_ago in range(2, 6):
        published(
            team, service, pm, title=f"Outage {days_ago}", body="A kafka broker died.", days_ago=days_ago
        )
    results = narrative_library(viewer=pm, query="kafka")
    assert (results.count(), results.capped) == (3, True)
    assert [n.title for n in results] == ["Kafka lag", "Outage 2", "Outage 3"]
    client.force_login(pm)
    page = client.get(reverse("reviews:library"), {"q": "kafka"}).text
    assert "More than 3 narratives match “kafka”" in page
    assert "Outage 3" in page and "Outage 4" not in page
    exact = client.get(reverse("reviews:library"), {"q": "lag"}).text
    assert "1 narrative matching “lag”" in exact


def test_the_title_tier_asks_for_the_very_expression_the_title_index_holds(postgres, team, service, pm):
    """PostgreSQL uses an expression index only for the identical expression: the planner's own
    rendering of the title condition must be the indexed one, or every search computes every title."""
    published(team, service, pm, title="Kafka lag", body="Consumers stalled.", days_ago=1)
    title_hits = narrative_library(viewer=pm, query="kafka").title_hits
    sql, params = title_hits.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("SELECT pg_get_indexdef('narrative_title_search'::regclass)")
        index = cursor.fetchone()[0]
    condition = re.search(r"(to_tsvector\(.*\)) @@ '''kafka'''", plan).group(1)
    assert f"gin ({condition})" in index
