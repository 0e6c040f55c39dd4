"""Library search order on PostgreSQL: title matches first, then the newest, whatever the body says."""

from datetime import timedelta

from django.utils import timezone

from incidents.models import User
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
