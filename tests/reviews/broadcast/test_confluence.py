"""Confluence as a broadcast channel: one page per narrative, updated in place, whatever fails on the
way; through atlassian-python-api against the local emulator over real HTTP."""

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.urls import reverse

from reviews.broadcast.confluence import (
    confluence_clients_reset,
    confluence_label,
    storage_format,
)
from reviews.broadcast.dispatch import DELIVERIES
from reviews.broadcast.services import delivery_retry
from reviews.models import Delivery
from tests.fakes.confluence import STORAGE_ROOT, FakeConfluence
from tests.reviews.broadcast.conftest import publish_narrative
from tests.reviews.broadcast.test_reliability import reconcile_later
from tests.ybiyri.retries import deliver_scheduled_retries
from tests.ybiyri.test_settings import settings_value

SPACE = "ENG"


@pytest.fixture
def confluence(settings):
    """The emulator with a space and the parent page of the narratives, and ybiyri pointed at it."""
    emulator = FakeConfluence(spaces=(SPACE, "OPS")).start()
    parent_id = emulator.add_page(space=SPACE, title="Incident narratives")
    settings.CONFLUENCE_URL = emulator.url
    settings.CONFLUENCE_USER = emulator.user
    settings.CONFLUENCE_API_TOKEN = emulator.token
    settings.CONFLUENCE_SPACE_KEY = SPACE
    settings.CONFLUENCE_PARENT_PAGE_ID = parent_id
    settings.BROADCAST_EMAIL_TO = []
    settings.BROADCAST_EMAIL_MEMBERS = False
    yield emulator
    confluence_clients_reset()
    emulator.stop()


def confluence_delivery() -> Delivery:
    return Delivery.objects.get(channel=Delivery.Channel.CONFLUENCE)


def narrative_pages(emulator: FakeConfluence, narrative) -> list[dict]:
    return emulator.pages_with_label(confluence_label(narrative.pk))


def test_publishing_creates_one_labelled_page_under_the_parent_in_the_space(confluence, narrative, publish):
    publish(narrative)

    delivery = confluence_delivery()
    assert delivery.state == Delivery.State.DELIVERED
    assert delivery.attempts == 1
    [page] = narrative_pages(confluence, narrative)
    assert page["space"] == SPACE
    parent = next(p for p in confluence.pages.values() if p["title"] == "Incident narratives")
    assert page["ancestors"] == [parent["id"]]
    assert page["title"] == "Checkout timeouts"
    assert page["version"] == 1
    assert page["message"] == "Publication 1 of the narrative"
    assert "<h2>What happened</h2>" in page["body"]
    assert "<strong>retries</strong>" in page["body"]
    assert "<script>" not in page["body"]
    assert f"https://ybiyri.example.org/narratives/{narrative.pk}/" in page["body"]
    assert "<th>Severity</th>" in page["body"]


def test_publishing_sends_the_label_in_the_create_request_itself(confluence, narrative, publish):
    publish(narrative)

    [create] = confluence.requests_to("POST", r"/rest/api/content$")
    assert b'"labels": [{"prefix": "global", "name": "ybiyri-narrative-' in create.body
    assert not confluence.requests_to("POST", r"/label$")


def test_rebroadcast_updates_the_same_page_to_version_two(confluence, narrative, publish):
    publish(narrative)
    narrative.body = "## What happened\n\nRewritten after the walkthrough."
    narrative.save()

    publish(narrative)

    [page] = narrative_pages(confluence, narrative)
    assert page["version"] == 2
    assert page["message"] == "Publication 2 of the narrative"
    assert "Rewritten after the walkthrough." in page["body"]
    assert len(confluence.requests_to("POST", r"/rest/api/content$")) == 1
    latest = Delivery.objects.get(channel=Delivery.Channel.CONFLUENCE, publication=2)
    assert latest.state == Delivery.State.DELIVERED


def test_rebroadcast_keeps_a_page_people_moved_where_they_put_it(confluence, narrative, publish):
    publish(narrative)
    [page] = narrative_pages(confluence, narrative)
    elsewhere = confluence.add_page(space=SPACE, title="Archive")
    page["ancestors"] = [elsewhere]

    publish(narrative)

    assert page["ancestors"] == [elsewhere]
    assert page["version"] == 2


def test_a_retitled_narrative_renames_its_page(confluence, narrative, publish):
    publish(narrative)
    narrative.title = "Checkout timeouts under retry storms"
    narrative.save()

    publish(narrative)

    [page] = narrative_pages(confluence, narrative)
    assert page["title"] == "Checkout timeouts under retry storms"


def test_a_title_another_page_has_gets_the_incident_id(confluence, narrative, publish):
    confluence.add_page(space=SPACE, title="Checkout timeouts")

    publish(narrative)

    [page] = narrative_pages(confluence, narrative)
    assert page["title"] == f"Checkout timeouts (incident {narrative.incident_id})"
    assert confluence_delivery().state == Delivery.State.DELIVERED

    publish(narrative)

    assert page["title"] == f"Checkout timeouts (incident {narrative.incident_id})"
    assert page["version"] == 2


def test_server_errors_are_retried_and_make_one_page(confluence, narrative, publish):
    confluence.fail_next(2, status=503, body={"statusCode": 503, "message": "Service Unavailable"})

    publish(narrative)

    waiting = confluence_delivery()
    assert waiting.state == Delivery.State.PENDING
    assert waiting.last_error == "Confluence (HTTP 503): Service Unavailable"
    deliver_scheduled_retries(DELIVERIES)
    assert confluence_delivery().state == Delivery.State.DELIVERED
    assert confluence_delivery().attempts == 3
    assert len(narrative_pages(confluence, narrative)) == 1


def test_rate_limit_waits_at_least_retry_after(confluence, narrative, publish):
    confluence.fail_next(
        status=429, headers={"Retry-After": "120"}, body={"statusCode": 429, "message": "Rate limited"}
    )

    publish(narrative)

    waiting = confluence_delivery()
    assert waiting.state == Delivery.State.PENDING
    assert waiting.next_attempt_at >= waiting.claimed_at + timedelta(seconds=120)
    assert "HTTP 429" in waiting.last_error
    assert deliver_scheduled_retries(DELIVERIES)[0] >= 120
    assert confluence_delivery().state == Delivery.State.DELIVERED
    assert len(narrative_pages(confluence, narrative)) == 1


def test_a_page_created_before_an_error_is_found_again_by_its_label(confluence, narrative, publish):
    confluence.fail_after_next_create(status=500)

    publish(narrative)

    assert confluence_delivery().state == Delivery.State.PENDING
    deliver_scheduled_retries(DELIVERIES)
    assert confluence_delivery().state == Delivery.State.DELIVERED
    assert len(narrative_pages(confluence, narrative)) == 1
    assert len(confluence.pages) == 2  # the parent and the narrative's page
    assert len(confluence.requests_to("POST", r"/rest/api/content$")) == 1


def test_a_page_created_before_an_error_is_found_by_title_while_search_lags(confluence, narrative, publish):
    confluence.index_lags = True
    confluence.fail_after_next_create(status=500)

    publish(narrative)
    deliver_scheduled_retries(DELIVERIES)

    assert confluence_delivery().state == Delivery.State.DELIVERED
    [page] = narrative_pages(confluence, narrative)
    assert page["title"] == "Checkout timeouts"
    assert page["version"] == 2
    assert len(confluence.requests_to("POST", r"/rest/api/content$")) == 1


def test_a_version_conflict_with_a_person_saving_the_page_is_retried(confluence, narrative, publish):
    publish(narrative)
    confluence.fail_next(
        status=409,
        method="PUT",
        body={"statusCode": 409, "message": "Version must be incremented on update. Current version is: 2"},
    )

    publish(narrative)

    assert Delivery.objects.get(publication=2).state == Delivery.State.PENDING
    deliver_scheduled_retries(DELIVERIES)
    assert Delivery.objects.get(publication=2).state == Delivery.State.DELIVERED
    assert narrative_pages(confluence, narrative)[0]["version"] == 2


def test_a_bad_space_fails_with_confluences_message_and_can_be_retried_once_fixed(
    confluence, narrative, publish, pm, settings, django_capture_on_commit_callbacks
):
    settings.CONFLUENCE_SPACE_KEY = "NOPE"

    publish(narrative)

    failed = confluence_delivery()
    assert failed.state == Delivery.State.FAILED
    assert failed.attempts == 1
    assert failed.last_error == (
        "Confluence (HTTP 400): Could not create content with type page: No space with key : NOPE"
    )
    assert not confluence.pages_with_label(confluence_label(narrative.pk))

    settings.CONFLUENCE_SPACE_KEY = "OPS"
    settings.CONFLUENCE_PARENT_PAGE_ID = ""
    with django_capture_on_commit_callbacks(execute=True):
        delivery_retry(delivery=failed, by=pm)

    assert confluence_delivery().state == Delivery.State.DELIVERED
    [page] = narrative_pages(confluence, narrative)
    assert page["space"] == "OPS"
    assert page["ancestors"] == []


def test_wrong_credentials_fail_without_retrying(confluence, narrative, publish, settings):
    settings.CONFLUENCE_API_TOKEN = "wrong"

    publish(narrative)

    failed = confluence_delivery()
    assert failed.state == Delivery.State.FAILED
    assert failed.last_error.startswith("Confluence (HTTP 401): ")


def test_unreachable_confluence_is_retried(confluence, narrative, publish, settings):
    confluence.stop()

    publish(narrative)

    waiting = confluence_delivery()
    assert waiting.state == Delivery.State.PENDING
    assert waiting.last_error == "Confluence could not be reached: ConnectionError"


def test_confluence_is_off_unless_configured(settings, channels, narrative, publish):
    settings.CONFLUENCE_URL = ""

    publish(narrative)

    assert not Delivery.objects.filter(channel=Delivery.Channel.CONFLUENCE).exists()
    assert Delivery.objects.filter(state=Delivery.State.DELIVERED).count() == Delivery.objects.count()


def test_a_confidential_incident_never_reaches_confluence(confluence, narrative, publish):
    narrative.incident.confidential = True
    narrative.incident.save()

    publish(narrative)

    assert not Delivery.objects.filter(channel=Delivery.Channel.CONFLUENCE).exists()
    assert confluence.requests == []


def test_an_incident_made_confidential_before_sending_is_not_published(confluence, narrative, publish):
    publish_narrative(narrative)  # written, not yet sent (the transaction has not committed)
    narrative.incident.confidential = True
    narrative.incident.save()

    reconcile_later()

    failed = confluence_delivery()
    assert failed.state == Delivery.State.FAILED
    assert failed.last_error == "The incident is confidential: it is not broadcast organisation-wide."
    assert confluence.requests == []


def test_a_delivery_left_after_confluence_was_unconfigured_fails_with_a_reason(
    confluence, narrative, publish, settings
):
    publish_narrative(narrative)
    settings.CONFLUENCE_URL = ""

    reconcile_later()

    failed = confluence_delivery()
    assert failed.state == Delivery.State.FAILED
    assert "CONFLUENCE_URL" in failed.last_error


def test_deliveries_api_and_status_page_show_the_confluence_channel(
    client, pm, confluence, narrative, publish
):
    publish(narrative)
    client.force_login(pm)

    listed = client.get("/api/deliveries/", {"channel": "confluence"}).json()["results"]
    page = client.get(reverse("broadcast:status", args=[narrative.pk])).content.decode()

    assert [(row["channel"], row["recipient"], row["state"]) for row in listed] == [
        ("confluence", "the configured space", "delivered")
    ]
    assert "Confluence" in page


def test_deliveries_api_hides_confluence_deliveries_from_people_outside_the_team(
    client, other_team_member, confluence, narrative, publish
):
    publish(narrative)
    client.force_login(other_team_member)

    assert client.get("/api/deliveries/", {"channel": "confluence"}).json()["results"] == []
    assert client.get(f"/api/deliveries/{confluence_delivery().pk}/").status_code == 404


def test_deliveries_api_refuses_an_unknown_channel_filter(client, pm, confluence, narrative, publish):
    publish(narrative)
    client.force_login(pm)

    response = client.get("/api/deliveries/", {"channel": "sharepoint"})

    assert response.status_code == 400
    assert "channel" in response.json()


def test_storage_format_is_well_formed_xhtml_with_absolute_links_and_confluence_images():
    html = (
        '<p>one<br>two &amp; three&nbsp;<a href="/narratives/3/">link</a> <a href="#fn-1">1</a></p><hr>'
        '<p><img src="https://img.example.org/a.png" alt="graph &quot;p99&quot;"></p>'
        '<ul><li><input checked="" type="checkbox" disabled="disabled"> done</li></ul>'
        "<section><ol><li>note</li></ol></section><details><summary>more</summary>text</details>"
    )

    written = storage_format(html, origin="https://ybiyri.example.org")

    ElementTree.fromstring(f"{STORAGE_ROOT}{written}</root>")  # noqa: S314
    assert "<br />" in written
    assert "<hr />" in written
    assert "two &amp; three\u00a0" in written
    assert '<a href="https://ybiyri.example.org/narratives/3/">' in written
    assert '<a href="#fn-1">' in written
    assert (
        '<ac:image ac:alt="graph &quot;p99&quot;"><ri:url ri:value="https://img.example.org/a.png" /></ac:image>'
        in written
    )
    assert "<li>☑  done</li>" in written
    assert "<section" not in written
    assert "<details" not in written


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({"CONFLUENCE_URL": "confluence.example.org"}, "CONFLUENCE_URL"),
        (
            {"CONFLUENCE_URL": "https://c.example.org/wiki", "CONFLUENCE_API_TOKEN": "t"},
            "CONFLUENCE_SPACE_KEY",
        ),
        (
            {"CONFLUENCE_URL": "https://c.example.org/wiki", "CONFLUENCE_SPACE_KEY": "ENG"},
            "CONFLUENCE_API_TOKEN",
        ),
        ({"CONFLUENCE_SPACE_KEY": 'ENG" or space = "HR'}, "CONFLUENCE_SPACE_KEY"),
        ({"CONFLUENCE_PARENT_PAGE_ID": "Incident narratives"}, "CONFLUENCE_PARENT_PAGE_ID"),
    ],
)
def test_bad_confluence_configuration_names_the_variable(environment, variable):
    result = settings_value("1", **environment)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]
