"""The incident page is served again from its versioned cache (reviews.caches.INCIDENT_PAGES): each
person gets their own page, with their own visit's CSRF token, a change is there at the next visit,
and a page with a form's error is never served again."""

import pytest

from tests.factories import ResponderFactory, UserFactory
from tests.pages import CSRF_TOKEN, signed_in
from tests.pages import visit as visit_page

pytestmark = pytest.mark.django_db


def visit(client, incident) -> tuple[str, int]:
    return visit_page(client, incident.get_absolute_url())


def role_url(incident, responder) -> str:
    return f"/incidents/{incident.pk}/responders/{responder.pk}/role/"


def test_a_managers_page_served_again_takes_a_role_with_the_token_it_carries(incident, pm):
    manager = signed_in(pm)
    _, computed = visit(manager, incident)
    page, served = visit(manager, incident)
    assert served < computed
    responder = incident.responders.get()
    token = CSRF_TOKEN.findall(page)[0]
    response = manager.post(
        role_url(incident, responder),
        {"csrfmiddlewaretoken": token, f"responder-{responder.pk}-role": "Scribe"},
    )
    assert response.status_code == 302
    assert "— Scribe" in visit(manager, incident)[0]


def test_a_member_never_gets_the_managers_forms(incident, pm, teammate):
    assert "/role/" in visit(signed_in(pm), incident)[0]
    assert "/role/" not in visit(signed_in(teammate), incident)[0]


def test_a_responder_added_elsewhere_is_on_the_page_at_the_next_visit(incident, teammate):
    member = signed_in(teammate)
    assert "Rosa Newcomer" not in visit(member, incident)[0]
    ResponderFactory(incident=incident, user=UserFactory(first_name="Rosa", last_name="Newcomer"))
    assert "Rosa Newcomer" in visit(member, incident)[0]


def test_a_refused_role_shows_its_error_once_and_the_page_stays_clean(incident, pm):
    manager = signed_in(pm)
    page, _ = visit(manager, incident)
    responder = incident.responders.get()
    response = manager.post(
        role_url(incident, responder),
        {"csrfmiddlewaretoken": CSRF_TOKEN.findall(page)[0], f"responder-{responder.pk}-role": "x" * 101},
    )
    assert response.status_code == 400
    assert "at most 100 characters" in response.content.decode()
    assert "at most 100 characters" not in visit(manager, incident)[0]
