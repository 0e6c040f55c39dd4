"""Broadcast email carries only ybiyri's own images: an image from elsewhere would tell its host who
read the mail and when, so it arrives as a link to it. Pages keep showing such images (their CSP
decides what loads there)."""

from html.parser import HTMLParser

import pytest

from tests.factories import NarrativeFactory
from tests.reviews.broadcast.conftest import LIST_ADDRESS

SITE = "https://ybiyri.example.org"
BODY = (
    "## Graphs\n\n"
    '![Checkout latency](https://grafana.example.net/render/latency.png "Latency")\n\n'
    "![](https://tracker.example.com/pixel.gif)\n\n"
    "![Our diagram](/static/img/diagram.png) and ![Theirs too](https://ybiyri.example.org/media/flow.png)\n\n"
    "[![Build badge](https://ci.example.com/badge.svg)](https://ci.example.com/build/42)\n\n"
    '<img src="https://beacon.example.org/raw.png" alt="raw beacon"> '
    "![Protocol-relative](//cdn.example.org/p.png) ![Scheme only](https:evil.example/h.png)\n\n"
    "[Timeline](/incidents/1/)"
)


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


def elements(html: str, tag: str) -> list[dict[str, str | None]]:
    parser = Elements()
    parser.feed(html)
    return [attributes for name, attributes in parser.found if name == tag]


@pytest.fixture
def narrative_with_images(incident, pm):
    return NarrativeFactory(incident=incident, created_by=pm, title="Checkout timeouts", body=BODY)


@pytest.fixture
def email_html(settings, smtp_server, narrative_with_images, publish) -> str:
    settings.BROADCAST_EMAIL_TO = [LIST_ADDRESS]
    settings.BROADCAST_EMAIL_MEMBERS = False
    publish(narrative_with_images)
    [received] = smtp_server.messages_to(LIST_ADDRESS)
    return received.parsed.get_body(preferencelist=("html",)).get_content()


def test_broadcast_email_has_no_image_from_elsewhere(email_html):
    sources = [attributes.get("src") for attributes in elements(email_html, "img")]
    assert all(source is None or source.startswith(f"{SITE}/") for source in sources), sources


def test_broadcast_email_keeps_ybiyris_own_images_with_absolute_urls(email_html):
    images = {attributes["alt"]: attributes.get("src") for attributes in elements(email_html, "img")}
    assert images["Our diagram"] == f"{SITE}/static/img/diagram.png"
    assert images["Theirs too"] == f"{SITE}/media/flow.png"


def test_broadcast_email_links_to_images_from_elsewhere_by_their_alt_text(email_html):
    links = {attributes["href"] for attributes in elements(email_html, "a")}
    assert '<a href="https://grafana.example.net/render/latency.png" title="Latency"' in email_html
    assert ">Checkout latency</a>" in email_html
    # No alt text: the URL itself is the link's text.
    assert ">https://tracker.example.com/pixel.gif</a>" in email_html
    assert {"https://cdn.example.org/p.png", "https:evil.example/h.png"} <= links
    # An image inside a link becomes its alt text, still inside that link.
    assert '<a href="https://ci.example.com/build/42" rel="noopener noreferrer nofollow">Build badge</a>' in (
        email_html
    )
    # Relative links are made absolute: a mail has no page to be relative to.
    assert f"{SITE}/incidents/1/" in links


def test_raw_html_image_from_elsewhere_loses_its_source_in_email(email_html):
    [raw] = [
        attributes for attributes in elements(email_html, "img") if attributes.get("alt") == "raw beacon"
    ]
    assert "src" not in raw
    assert "beacon.example.org" not in email_html


def test_narrative_page_still_shows_images_from_elsewhere(client, pm, narrative_with_images):
    client.force_login(pm)
    response = client.get(narrative_with_images.get_absolute_url())
    assert response.status_code == 200
    sources = {attributes.get("src") for attributes in elements(response.text, "img")}
    assert {"https://grafana.example.net/render/latency.png", "https://beacon.example.org/raw.png"} <= sources
    assert "/static/img/diagram.png" in sources


def test_narrative_page_is_not_shown_to_an_outsider_while_a_draft(client, outsider, narrative_with_images):
    client.force_login(outsider)
    assert client.get(narrative_with_images.get_absolute_url()).status_code in (403, 404)
