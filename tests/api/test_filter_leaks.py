"""What the API tells someone about rows they may not see: nothing, in JSON or in the browsable HTML.

The persona is a member of another team (``outsider``): the Payments incidents — one of them
confidential — their analyses, review, draft narrative and deliveries are all hidden from them.
For every list and every filter on a related row, a filter on a hidden id answers exactly like a
filter on an id that does not exist, and no answer carries a hidden title; every detail route
answers a hidden row exactly like a missing one.
"""

import pytest
from django.db import models

from incidents.models import AnalysisSession, Incident, Interview, KeyEvent
from reviews.models import ContributingFactor, Delivery, ImprovementAction, Learning, Narrative, Review
from tests.api.conftest import client_for
from ybiyri.api_filters import ApiFilterBackend, IdFilter
from ybiyri.api_urls import router

ABSENT_ID = 987_654_321
HIDDEN_TITLES = ["Checkout timeouts", "Card data exposure"]

# Filters handled by a view's own filter serializer (the backlog and the library own their filtering).
SERIALIZER_FILTERS = {
    "actions": {"incident": Incident, "team": None, "owner": None},
    "narratives": {"team": None, "service": None, "theme": None},
}


def relation_filters(prefix: str, viewset: type) -> dict[str, type[models.Model] | None]:
    """Every filter of a list that names a related row by id, with the model of that row."""
    if prefix in SERIALIZER_FILTERS:
        return SERIALIZER_FILTERS[prefix]
    view = viewset()
    model = viewset.schema_model or viewset.queryset.model
    filterset_class = ApiFilterBackend().get_filterset_class(view, model.objects.none())
    if filterset_class is None:
        return {}
    found = {}
    for name, declared in filterset_class.base_filters.items():
        if isinstance(declared, IdFilter):
            found[name] = model._meta.get_field(declared.field_name).related_model
    return found


def hidden_rows(world) -> dict[type[models.Model], list[models.Model]]:
    return {
        Incident: [world.incident, world.confidential],
        AnalysisSession: [world.submitted, world.analysis],
        Review: [world.review],
        Narrative: [world.draft],
    }


LISTS = [(prefix, viewset) for prefix, viewset, _ in router.registry]


def test_every_relation_filter_is_an_id_filter_without_choices():
    for prefix, viewset in LISTS:
        if prefix in SERIALIZER_FILTERS:
            continue
        view = viewset()
        model = viewset.schema_model or viewset.queryset.model
        filterset_class = ApiFilterBackend().get_filterset_class(view, model.objects.none())
        if filterset_class is None:
            continue
        for name, declared in filterset_class.base_filters.items():
            if declared.method is not None:  # searches over the row's own text
                continue
            field = model._meta.get_field(declared.field_name.split("__")[0])
            if field.is_relation:
                assert isinstance(declared, IdFilter), f"/api/{prefix}/?{name}= is not an id filter"


@pytest.mark.parametrize(("prefix", "viewset"), LISTS, ids=[prefix for prefix, _ in LISTS])
def test_a_filter_on_a_hidden_row_answers_like_a_filter_on_a_missing_one(world, prefix, viewset):
    client = client_for(world.people["outsider"])
    hidden = hidden_rows(world)
    for name, related in relation_filters(prefix, viewset).items():
        for row in hidden.get(related, []):
            on_hidden = client.get(f"/api/{prefix}/", {name: row.pk})
            on_absent = client.get(f"/api/{prefix}/", {name: ABSENT_ID})
            assert on_hidden.status_code == on_absent.status_code == 200, (prefix, name)
            assert on_hidden.json() == on_absent.json(), (prefix, name)
            assert on_hidden.json()["results"] == []


@pytest.mark.parametrize(("prefix", "viewset"), LISTS, ids=[prefix for prefix, _ in LISTS])
def test_the_browsable_list_shows_no_hidden_title_or_id(world, prefix, viewset):
    client = client_for(world.people["outsider"])
    queries = [{}] + [
        {name: row.pk}
        for name, related in relation_filters(prefix, viewset).items()
        for row in hidden_rows(world).get(related, [])
    ]
    for query in queries:
        for accept in ("text/html", "application/json"):
            response = client.get(f"/api/{prefix}/", query, HTTP_ACCEPT=accept)
            assert response.status_code == 200, (prefix, query, accept)
            text = response.content.decode()
            for title in HIDDEN_TITLES:
                assert title not in text, (prefix, query, accept, title)
            for rows in hidden_rows(world).values():
                for row in rows:
                    assert f'<option value="{row.pk}"' not in text, (prefix, query)


def detail_routes(world) -> list[tuple[str, models.Model]]:
    return [
        ("incidents", world.confidential),
        ("analyses", world.submitted),
        ("interviews", world.interview),
        ("key-events", world.helper_key_event),
        ("key-events", world.key_event),
        ("reviews", world.review),
        ("contributing-factors", world.factor),
        ("learnings", world.learning),
        ("actions", world.action),
        ("narratives", world.draft),
        ("deliveries", world.delivery),
    ]


def test_a_hidden_row_answers_like_a_missing_one_on_every_detail_route(world):
    client = client_for(world.people["outsider"])
    for prefix, row in detail_routes(world):
        on_hidden = client.get(f"/api/{prefix}/{row.pk}/")
        on_absent = client.get(f"/api/{prefix}/{ABSENT_ID}/")
        assert on_hidden.status_code == on_absent.status_code == 404, prefix
        assert on_hidden.json() == on_absent.json(), prefix


def test_the_detail_routes_cover_every_model_with_hidden_rows(world):
    covered = {type(row) for _, row in detail_routes(world)}
    assert covered >= {
        Incident,
        AnalysisSession,
        Interview,
        KeyEvent,
        Review,
        ContributingFactor,
        Learning,
        ImprovementAction,
        Narrative,
        Delivery,
    }


@pytest.mark.parametrize("path", ["/api/users/", "/api/incidents/", "/api/themes/"])
def test_overlong_text_filters_are_bad_input(world, path):
    client = client_for(world.people["pm"])
    name = {"/api/themes/": "name__icontains"}.get(path, "search")

    response = client.get(path, {name: "x" * 100_000})

    assert response.status_code == 400
    assert name in response.json()
