"""The broadcast's pages: progress partial and retry for the incident's managers and facilitator,
one-click unsubscribe."""

from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import User
from reviews.broadcast.unsubscribe import unsubscribe_token
from reviews.models import Delivery
from tests.factories import ReviewFactory
from tests.reviews.broadcast.conftest import publish_narrative


@pytest.fixture
def failed_teams_delivery(channels, sink, narrative, publish):
    sink.respond("/teams", (400, "Bad card"))
    publish(narrative)
    return Delivery.objects.get(channel=Delivery.Channel.TEAMS)


def status_url(narrative) -> str:
    return reverse("broadcast:status", args=[narrative.pk])


def retry_url(narrative) -> str:
    return reverse("broadcast:retry", args=[narrative.pk])


def test_team_sees_progress_per_channel_with_failures_and_a_retry_button(
    client, pm, narrative, failed_teams_delivery, django_assert_max_num_queries
):
    client.force_login(pm)

    with django_assert_max_num_queries(12):
        response = client.get(status_url(narrative))

    assert response.status_code == 200
    html = response.content.decode()
    assert "5 of 6 delivered" in html
    assert "Microsoft Teams" in html
    assert "HTTP 400: Bad card" in html
    assert retry_url(narrative) in html
    assert "hx-trigger" not in html  # nothing pending: no more polling


def test_progress_polls_while_deliveries_are_pending(client, pm, channels, narrative):
    publish_narrative(narrative)  # uncommitted in this test, so nothing was sent yet
    client.force_login(pm)

    html = client.get(status_url(narrative)).content.decode()

    assert "0 of 6 delivered, 6 pending" in html
    assert f'hx-get="{status_url(narrative)}"' in html
    assert 'hx-trigger="every 5s"' in html


def test_status_query_count_does_not_grow_with_recipients(
    client, pm, channels, narrative, django_assert_max_num_queries
):
    User.objects.bulk_create(
        [User(username=f"m{n}", email=f"m{n}@example.org", password="!") for n in range(300)]
    )
    publish_narrative(narrative)
    Delivery.objects.filter(recipient__startswith="m1").update(
        state=Delivery.State.FAILED, last_error="550 no"
    )
    client.force_login(pm)

    with django_assert_max_num_queries(12):
        response = client.get(status_url(narrative))

    assert "and 91 more." in response.content.decode()  # m1, m10–m19, m100–m199 fail; 20 are listed


def test_people_outside_the_team_cannot_see_or_retry_the_broadcast(
    client, other_team_member, narrative, failed_teams_delivery
):
    client.force_login(other_team_member)

    assert client.get(status_url(narrative)).status_code == 403
    assert client.post(retry_url(narrative)).status_code == 403
    failed_teams_delivery.refresh_from_db()
    assert failed_teams_delivery.state == Delivery.State.FAILED


def test_signed_out_visitors_are_sent_to_sign_in(client, narrative, failed_teams_delivery):
    response = client.get(status_url(narrative))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_retry_sends_failed_deliveries_again_and_returns_the_partial_to_htmx(
    client, pm, sink, narrative, failed_teams_delivery, django_capture_on_commit_callbacks
):
    client.force_login(pm)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(narrative), headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert 'id="broadcast-status"' in response.content.decode()
    failed_teams_delivery.refresh_from_db()
    assert failed_teams_delivery.state == Delivery.State.DELIVERED
    assert len(sink.requests_to("/teams")) == 2


def test_retry_without_htmx_redirects_to_the_narrative(client, pm, narrative, failed_teams_delivery):
    client.force_login(pm)

    response = client.post(retry_url(narrative))

    assert response.status_code == 302
    assert response["Location"] == narrative.get_absolute_url()


def test_retry_only_accepts_post(client, pm, narrative, failed_teams_delivery):
    client.force_login(pm)

    assert client.get(retry_url(narrative)).status_code == 405


def test_unsubscribe_link_asks_for_confirmation_before_changing_anything(teammate):
    url = reverse("broadcast:unsubscribe", args=[unsubscribe_token(user_id=teammate.pk)])

    response = Client().get(url)

    assert response.status_code == 200
    assert "Stop these emails" in response.content.decode()
    teammate.refresh_from_db()
    assert not teammate.broadcast_opt_out


def test_one_click_unsubscribe_from_the_email_header_works_without_cookies_or_csrf(
    channels, smtp_server, narrative, teammate, publish
):
    publish(narrative)
    [received] = smtp_server.messages_to(teammate.email)
    url = urlsplit(received.parsed["List-Unsubscribe"].strip("<>")).path

    # RFC 8058: the mail provider POSTs this body, with no cookies and no CSRF token.
    response = Client(enforce_csrf_checks=True).post(
        url, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    teammate.refresh_from_db()
    assert teammate.broadcast_opt_out


def test_next_publication_skips_a_member_who_unsubscribed(
    channels, smtp_server, narrative, teammate, publish
):
    Client().post(reverse("broadcast:unsubscribe", args=[unsubscribe_token(user_id=teammate.pk)]))

    publish(narrative)

    assert smtp_server.messages_to(teammate.email) == []


@pytest.mark.parametrize("token", ["garbage", "MQ:1tXyZa:forged-signature"])
def test_a_damaged_or_forged_token_gets_a_400_page(db, token):
    response = Client().post(reverse("broadcast:unsubscribe", args=[token]))

    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_the_page_and_the_api_agree_on_who_follows_and_retries_the_broadcast(
    client, pm, teammate, other_team_member, outsider, narrative, failed_teams_delivery
):
    """The incident's product managers and the review's facilitator, even from another team; a
    teammate who may only read the narrative is refused on both (the page used to let them in)."""
    ReviewFactory(incident=narrative.incident, facilitator=other_team_member)
    for person, allowed in [(pm, True), (other_team_member, True), (teammate, False), (outsider, False)]:
        client.force_login(person)
        page = client.get(status_url(narrative))
        listed = client.get("/api/deliveries/", {"narrative": narrative.pk}).json()["results"]
        assert (page.status_code == 200) is allowed, person.username
        assert (failed_teams_delivery.pk in {row["id"] for row in listed}) is allowed, person.username
    client.force_login(teammate)
    assert client.post(retry_url(narrative)).status_code == 403
