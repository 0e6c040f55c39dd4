"""The longest lists read their rows as values (ybiyri.api_rows): each row is byte for byte what the
list's serializer shows for the same object, as it was when the lists serialised model instances."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from incidents.api.serializers import IncidentSerializer, KeyEventSerializer
from incidents.models import AnalysisSession, Incident, KeyEvent, User
from reviews.api.serializers import ActionSerializer, NarrativeListSerializer
from reviews.models import ImprovementAction, Narrative
from tests.api.conftest import client_for
from tests.factories import (
    AnalysisSessionFactory,
    ContributingFactorFactory,
    ImprovementActionFactory,
    IncidentFactory,
    KeyEventFactory,
    LearningFactory,
    NarrativeFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)
from ybiyri.api_rows import ValueRows


def as_serialized(serializer_class, instance) -> bytes:
    """What the serializer shows for the object, through the JSON renderer as a response is."""
    return JSONRenderer().render(serializer_class(instance).data)


def assert_rows_serialized(response, serializer_class, queryset) -> list[dict]:
    assert response.status_code == 200, response.content[:300]
    rows = response.json()["results"]
    assert rows
    instances = queryset.in_bulk([row["id"] for row in rows])
    for row in rows:
        assert JSONRenderer().render(row) == as_serialized(serializer_class, instances[row["id"]])
    return rows


@pytest.fixture
def busy_incident(team, service, pm, responder):
    """An incident with a responder who analysed it, one who did not, and one with no full name."""
    incident = IncidentFactory(team=team, service=service, declared_by=pm, resolved_at=timezone.now())
    analysed = ResponderFactory(incident=incident, user=responder, role="Incident commander")
    ResponderFactory(incident=incident, user=pm, role="")
    ResponderFactory(incident=incident, user=UserFactory(username="nameless", first_name="", last_name=""))
    analysis = AnalysisSessionFactory(
        responder=analysed,
        scheduled_by=pm,
        status=AnalysisSession.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )
    KeyEventFactory(analysis=analysis, evidence_url="https://logs.example.org/1")
    KeyEventFactory(analysis=analysis)
    return incident


def test_incident_rows_and_their_responders_are_what_the_serializer_shows(busy_incident, team, service, pm):
    IncidentFactory(team=team, service=service, declared_by=pm, confidential=True)
    rows = assert_rows_serialized(client_for(pm).get("/api/incidents/"), IncidentSerializer, Incident.objects)
    listed = next(row for row in rows if row["id"] == busy_incident.pk)
    assert [responder["display_name"] for responder in listed["responders"]] == [
        "Rui Oncall",
        "Priya Manager",
        "nameless",
    ]
    assert [responder["analysis"] is None for responder in listed["responders"]] == [False, True, True]


def test_incident_rows_page_on_by_cursor_in_the_order_asked(busy_incident, team, service, pm):
    IncidentFactory.create_batch(50, team=team, service=service, declared_by=pm)
    client = client_for(pm)
    for ordering in ("-started_at", "severity"):
        first = client.get("/api/incidents/", {"ordering": ordering})
        shown = [row["id"] for row in assert_rows_serialized(first, IncidentSerializer, Incident.objects)]
        following = client.get(first.json()["next"])
        shown += [
            row["id"] for row in assert_rows_serialized(following, IncidentSerializer, Incident.objects)
        ]
        assert following.json()["next"] is None
        expected = Incident.objects.order_by(ordering, "-id" if ordering.startswith("-") else "id")
        assert shown == list(expected.values_list("id", flat=True))


def test_key_event_rows_are_what_the_serializer_shows(busy_incident, pm):
    events = KeyEvent.objects.select_related("analysis__analyst")
    rows = assert_rows_serialized(client_for(pm).get("/api/key-events/"), KeyEventSerializer, events)
    assert {row["analyst_name"] for row in rows} == {"Rui Oncall"}


def test_action_rows_and_their_links_are_what_the_serializer_shows(busy_incident, pm, responder):
    review = ReviewFactory(incident=busy_incident, facilitator=pm, scheduled_at=timezone.now())
    # Created out of their order: the links are listed in the models' order (rank; creation).
    second, first = LearningFactory(review=review, rank=2), LearningFactory(review=review, rank=1)
    older = ContributingFactorFactory(review=review, created_at=timezone.now() - timedelta(days=1))
    newer = ContributingFactorFactory(review=review)
    linked = ImprovementActionFactory(
        incident=busy_incident, review=review, owner=responder, effort_estimate_hours=Decimal("2.5")
    )
    linked.learnings.add(second, first)
    linked.factors.add(newer, older)
    ImprovementActionFactory(
        incident=busy_incident,
        raised_at=timezone.now() - timedelta(days=3),
        done_at=timezone.now(),
        status=ImprovementAction.Status.DONE,
    )
    with time_machine.travel(timezone.now(), tick=False):
        rows = assert_rows_serialized(
            client_for(pm).get("/api/actions/"), ActionSerializer, ImprovementAction.objects
        )
    listed = next(row for row in rows if row["id"] == linked.pk)
    assert (listed["learnings"], listed["factors"]) == ([first.pk, second.pk], [older.pk, newer.pk])
    assert listed["effort_estimate_hours"] == "2.50"


def test_narrative_rows_of_the_library_drafts_and_search_are_what_the_serializer_shows(
    busy_incident, team, service, pm
):
    for title in ("Herd of retries", "Quiet night"):
        NarrativeFactory(
            incident=IncidentFactory(team=team, service=service, declared_by=pm),
            title=title,
            status=Narrative.Status.PUBLISHED,
            published_at=timezone.now(),
            published_by=pm,
            blend={"timeline": "as drafted"},
        )
    NarrativeFactory(incident=busy_incident, created_by=pm, title="Draft of the herd")
    client = client_for(pm)
    library = assert_rows_serialized(
        client.get("/api/narratives/"), NarrativeListSerializer, Narrative.objects
    )
    assert len(library) == 2
    drafts = client.get("/api/narratives/", {"status": "draft"})
    assert [
        row["title"] for row in assert_rows_serialized(drafts, NarrativeListSerializer, Narrative.objects)
    ] == ["Draft of the herd"]
    found = client.get("/api/narratives/", {"search": "herd"})
    assert [
        row["title"] for row in assert_rows_serialized(found, NarrativeListSerializer, Narrative.objects)
    ] == ["Herd of retries"]


def test_a_list_cannot_read_as_a_column_what_the_caller_must_compute():
    with pytest.raises(ImproperlyConfigured, match="learnings"):
        ValueRows(ActionSerializer)


@pytest.mark.parametrize(
    ("first_name", "last_name", "shown"),
    [("Rui", "Oncall", "Rui Oncall"), ("Rui", "", "Rui"), ("", "Oncall", "Oncall"), ("", "", "rui")],
)
def test_a_member_is_named_alike_in_rows_and_on_objects(first_name, last_name, shown, db):
    user = User(username="rui", first_name=first_name, last_name=last_name)
    assert user.display_name == shown == (user.get_full_name() or user.username)
