"""Feed readers that poll get a 304 while nothing they may read has changed, and only then."""

import feedparser
import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from reviews.models import Narrative
from reviews.services import narrative as narrative_services
from tests.factories import IncidentFactory, NarrativeFactory


def published(incident, by, **fields) -> Narrative:
    return NarrativeFactory(
        incident=incident,
        created_by=by,
        status=Narrative.Status.PUBLISHED,
        published_at=timezone.now(),
        **fields,
    )


@pytest.fixture
def narrative(incident, pm):
    return published(incident, pm)


def poll(client, etag: str, url: str | None = None):
    return client.get(url or reverse("reviews:feed"), HTTP_IF_NONE_MATCH=etag)


def test_a_reader_polling_with_the_feeds_etag_gets_304_without_the_feed(
    client, narrative, responder, django_assert_max_num_queries
):
    client.force_login(responder)
    first = client.get(reverse("reviews:feed"))
    assert first.status_code == 200 and first["ETag"]
    # The session, the reader, the reader's teams and one query for the entries' fingerprint: no
    # bodies read, nothing rendered.
    with django_assert_max_num_queries(5):
        again = poll(client, first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert again.content == b""


def test_the_feed_is_built_in_a_fixed_number_of_queries(
    client, team, service, pm, responder, django_assert_num_queries
):
    for _ in range(3):
        published(IncidentFactory(team=team, service=service), pm)
    client.force_login(responder)
    client.get(reverse("reviews:feed"))
    cache.clear()  # counted as built, not as served from the cache
    with django_assert_num_queries(5) as few:
        client.get(reverse("reviews:feed"))
    for _ in range(10):
        published(IncidentFactory(team=team, service=service), pm)
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get(reverse("reviews:feed"))
    assert len(feedparser.parse(response.content).entries) == 13


def test_an_edited_narrative_changes_the_etag(client, narrative, pm, responder):
    client.force_login(responder)
    etag = client.get(reverse("reviews:feed"))["ETag"]
    narrative_services.narrative_save(
        narrative=narrative,
        by=pm,
        version=narrative.version,
        changes={"title": narrative.title, "body": "A better story."},
    )
    response = poll(client, etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert "A better story." in feedparser.parse(response.content).entries[0].summary


def test_a_newly_published_narrative_changes_the_etag(client, narrative, team, service, pm, responder):
    client.force_login(responder)
    etag = client.get(reverse("reviews:feed"))["ETag"]
    published(IncidentFactory(team=team, service=service, title="The second outage"), pm)
    response = poll(client, etag)
    assert response.status_code == 200
    assert len(feedparser.parse(response.content).entries) == 2


def test_a_renamed_team_changes_the_etag_as_it_changes_the_entry_titles(client, narrative, team, responder):
    client.force_login(responder)
    etag = client.get(reverse("reviews:feed"))["ETag"]
    team.name = "Payments and billing"
    team.save()
    assert poll(client, etag).status_code == 200


def test_a_reader_who_may_not_see_a_confidential_narrative_never_gets_304_for_a_feed_listing_it(
    client, narrative, team, service, pm, responder, outsider
):
    confidential = published(IncidentFactory(team=team, service=service, confidential=True), pm)
    client.force_login(responder)
    team_etag = client.get(reverse("reviews:feed"))["ETag"]
    client.force_login(outsider)
    response = poll(client, team_etag)
    assert response.status_code == 200
    assert response["ETag"] != team_etag
    titles = [entry.title for entry in feedparser.parse(response.content).entries]
    assert len(titles) == 1 and not any(confidential.title in title for title in titles)


def test_a_stale_or_malformed_etag_gets_the_whole_feed(client, narrative, responder):
    client.force_login(responder)
    for sent in ('"stale"', "not-an-etag", "W/", '"' + "x" * 5000 + '"'):
        response = poll(client, sent)
        assert response.status_code == 200
        assert len(feedparser.parse(response.content).entries) == 1


def test_the_private_feed_answers_304_to_its_own_etag_and_404_to_a_wrong_token(client, narrative, responder):
    url = reverse("reviews:private_feed", args=[responder.feed_token])
    etag = client.get(url)["ETag"]
    assert poll(client, etag, url).status_code == 304
    wrong = reverse("reviews:private_feed", args=["wrong-token"])
    assert poll(client, etag, wrong).status_code == 404


def test_polling_without_signing_in_is_sent_to_sign_in(client, narrative, responder):
    client.force_login(responder)
    etag = client.get(reverse("reviews:feed"))["ETag"]
    client.logout()
    assert poll(client, etag).status_code == 302


def test_a_feed_built_once_serves_every_reader_with_the_same_entries_until_they_change(
    client, narrative, pm, responder, teammate, django_assert_max_num_queries
):
    client.force_login(responder)
    first = client.get(reverse("reviews:feed"))
    client.force_login(teammate)
    # The session, the reader, the reader's teams and the entries' fingerprint: the feed itself,
    # its narratives' bodies and their Markdown come from the cache.
    with django_assert_max_num_queries(5):
        second = client.get(reverse("reviews:feed"))
    assert second.status_code == 200
    assert second.content == first.content and second["ETag"] == first["ETag"]
    # A query string the feed ignores is the same feed, not another entry in the cache.
    with django_assert_max_num_queries(5):
        assert client.get(reverse("reviews:feed"), {"nocache": "1"}).content == first.content
    narrative_services.narrative_save(
        narrative=narrative,
        by=pm,
        version=narrative.version,
        changes={"title": "Retries amplified the outage", "body": "New"},
    )
    renamed = client.get(reverse("reviews:feed"))
    assert renamed["ETag"] != first["ETag"]
    assert "Retries amplified the outage" in feedparser.parse(renamed.content).entries[0].title


def test_a_private_feed_is_never_served_at_another_readers_address(client, narrative, responder, teammate):
    mine = client.get(reverse("reviews:private_feed", args=[responder.feed_token]))
    theirs = client.get(reverse("reviews:private_feed", args=[teammate.feed_token]))
    assert mine["ETag"] == theirs["ETag"]
    assert responder.feed_token in mine.text and responder.feed_token not in theirs.text
    assert teammate.feed_token in theirs.text
