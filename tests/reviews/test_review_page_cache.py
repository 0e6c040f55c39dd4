"""The review's facilitation page is served again from its versioned cache (reviews.caches.INCIDENT_PAGES):
each person gets their own page, with the CSRF token of their own visit in every form, and a change
made by anyone is on the page at the next visit."""

import pytest
from django.urls import reverse

from reviews.models import Review
from reviews.services import review as review_services
from tests.pages import CSRF_TOKEN, signed_in
from tests.pages import visit as visit_page
from ybiyri.views import csrf_placeholder

pytestmark = pytest.mark.django_db


def visit(client, review) -> tuple[str, int]:
    return visit_page(client, reverse("reviews:facilitate", args=[review.pk]))


def add_factor(client, review, token: str, description: str) -> int:
    return client.post(
        reverse("reviews:factor_add", args=[review.pk]),
        {"csrfmiddlewaretoken": token, "factor-description": description, "factor-kind": "technical"},
    ).status_code


def test_the_page_served_again_carries_the_csrf_token_of_each_visit(review, pm):
    mine = signed_in(pm)
    _, computed = visit(mine, review)
    again, served = visit(mine, review)
    assert served < computed
    assert csrf_placeholder() not in again
    tokens = set(CSRF_TOKEN.findall(again))
    assert len(CSRF_TOKEN.findall(again)) > 5
    # The same cached page in another session of the same person: its own token, not the first's.
    elsewhere = signed_in(pm)
    theirs, _ = visit(elsewhere, review)
    assert set(CSRF_TOKEN.findall(theirs)).isdisjoint(tokens)
    assert add_factor(elsewhere, review, tokens.pop(), "Borrowed token") == 403
    assert add_factor(elsewhere, review, CSRF_TOKEN.findall(theirs)[0], "No backoff") in (200, 302)
    assert "No backoff" in visit(mine, review)[0]


def test_a_change_made_by_anyone_is_on_the_page_at_the_next_visit(review, pm, responder):
    facilitator = signed_in(pm)
    assert "Retry storms" not in visit(facilitator, review)[0]
    review_services.factor_suggest(review=review, by=responder, description="Retry storms", kind="technical")
    assert "Retry storms" in visit(facilitator, review)[0]


def test_each_person_gets_the_page_of_what_they_may_do(review, pm, responder):
    start = reverse("reviews:start", args=[review.pk])
    assert f'action="{start}"' in visit(signed_in(pm), review)[0]
    assert f'action="{start}"' not in visit(signed_in(responder), review)[0]


def test_a_neutral_facilitator_opens_the_review_until_it_is_cancelled(review, pm, other_team_member):
    Review.objects.filter(pk=review.pk).update(facilitator=other_team_member)
    facilitator = signed_in(other_team_member)
    assert visit(facilitator, review)[0]
    Review.objects.filter(pk=review.pk).update(status=Review.Status.CANCELLED)
    response = facilitator.get(reverse("reviews:facilitate", args=[review.pk]))
    assert response.status_code == 404
