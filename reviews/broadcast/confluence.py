"""Confluence: one page per narrative in CONFLUENCE_SPACE_KEY, under CONFLUENCE_PARENT_PAGE_ID,
updated in place by every later publication, through the `atlassian-python-api` library.

Exactly one page per narrative, whatever fails on the way:

- each page carries the label `ybiyri-narrative-<narrative id>`, set in the very request that creates
  it (a label added by a second request could be lost to a crash in between);
- before creating, the page is looked for by that label (CQL), and then by its exact title: Confluence's
  search index lags behind its writes, so a page an earlier attempt created moments ago (say, one
  whose answer was lost) may not be found by CQL yet, but is found by title and recognised by label;
- a later publication updates that page with version + 1, keeping wherever people moved it to.

Page titles are unique within a space: a title another page already has gets the incident's id
appended ("Checkout timeouts (incident 42)").

One approach for Cloud and Data Center: REST API version 1 (`/rest/api/content`, `/rest/api/search`),
which both serve and which alone has CQL search; CONFLUENCE_URL ends in `/wiki` on Cloud. The
library's Server client speaks it (`cloud=False`); its Cloud client would switch to the v2 API.
The library's own retries are off (`backoff_and_retry=False`, and `retry_with_header=False`, which
would otherwise sleep out a 429's Retry-After inside the worker): the outbox owns the retry policy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html import escape
from html.parser import HTMLParser
from typing import Any

import requests
from atlassian import Confluence
from atlassian.errors import ApiError
from django.conf import settings

from reviews.broadcast.content import BroadcastContent
from reviews.broadcast.errors import DeliveryError
from reviews.markdown import render_markdown, site_origin
from ybiyri.outbound import is_transient_status, parse_retry_after

TIMEOUT_SECONDS = 20
# Confluence refuses longer titles.
TITLE_MAX = 255
LABEL_PREFIX = "ybiyri-narrative-"
# Elements that HTML writes without an end tag; XHTML (the storage format) closes them in place.
VOID_ELEMENTS = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"})
# HTML5 elements the storage format does not know, and the ones that say the same there.
RENAMED_ELEMENTS = {"section": "div", "details": "div", "summary": "p"}


# --- pure payload builders -------------------------------------------------------------------


def confluence_label(narrative_id: int) -> str:
    """The page's idempotency key. Confluence labels are lower case, without spaces."""
    return f"{LABEL_PREFIX}{narrative_id}"


def confluence_titles(content: BroadcastContent, *, incident_id: int) -> tuple[str, str]:
    """The page title, and the one used when another page of the space already has it."""
    suffix = f" (incident {incident_id})"
    return content.title[:TITLE_MAX], content.title[: TITLE_MAX - len(suffix)] + suffix


class StorageFormatWriter(HTMLParser):
    """Rewrites sanitised HTML (render_markdown's output) as Confluence storage format, which is
    XHTML: void elements closed in place, named entities written as characters, images as
    `ac:image`, task-list checkboxes as ☐/☑, and relative links made absolute on SITE_URL."""

    def __init__(self, *, origin: str) -> None:
        super().__init__(convert_charrefs=True)
        self.origin = origin
        self.parts: list[str] = []

    def absolute(self, url: str) -> str:
        if url.startswith("/") and not url.startswith("//"):
            return self.origin + url
        return url

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "img":
            # https://confluence.atlassian.com/doc/confluence-storage-format-790796544.html#ConfluenceStorageFormat-Images
            alt = f' ac:alt="{escape(values["alt"])}"' if values.get("alt") else ""
            source = escape(self.absolute(values.get("src", "")))
            self.parts.append(f'<ac:image{alt}><ri:url ri:value="{source}" /></ac:image>')
            return
        if tag == "input":
            self.parts.append("☑ " if "checked" in values else "☐ ")
            return
        for name in ("href", "src"):
            if name in values:
                values[name] = self.absolute(values[name])
        written = "".join(f' {name}="{escape(value)}"' for name, value in values.items())
        name = RENAMED_ELEMENTS.get(tag, tag)
        self.parts.append(f"<{name}{written} />" if tag in VOID_ELEMENTS else f"<{name}{written}>")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID_ELEMENTS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID_ELEMENTS:
            self.parts.append(f"</{RENAMED_ELEMENTS.get(tag, tag)}>")

    def handle_data(self, data: str) -> None:
        self.parts.append(escape(data, quote=False))


def storage_format(html: str, *, origin: str) -> str:
    """`html`, sanitised and well nested (nh3 writes it so), as Confluence storage format."""
    writer = StorageFormatWriter(origin=origin)
    writer.feed(html)
    writer.close()
    return "".join(writer.parts)


def confluence_page_body(content: BroadcastContent, *, origin: str) -> str:
    """The page in storage format: where it comes from, the key facts, then the narrative."""
    facts = "".join(
        f"<tr><th>{escape(label)}</th><td>{escape(value)}</td></tr>" for label, value in content.key_facts
    )
    return (
        f'<p><em>Incident narrative published in ybiyri: <a href="{escape(content.url)}">read it there</a>. '
        "Edits made here are replaced when it is published again.</em></p>"
        f"<table><tbody>{facts}</tbody></table><hr />"
        + storage_format(str(render_markdown(content.body_markdown)), origin=origin)
    )


def confluence_create_payload(
    *, space_key: str, parent_id: str, title: str, body: str, label: str, publication: int
) -> dict[str, Any]:
    """The body of POST /rest/api/content: the page, its parent and its label in one request."""
    payload: dict[str, Any] = {
        "type": "page",
        "title": title,
        "space": {"key": space_key},
        "body": {"storage": {"value": body, "representation": "storage"}},
        "metadata": {"labels": [{"prefix": "global", "name": label}]},
        "version": {"message": f"Publication {publication} of the narrative"},
    }
    if parent_id:
        payload["ancestors"] = [{"id": parent_id}]
    return payload


def confluence_update_payload(*, title: str, body: str, version: int, publication: int) -> dict[str, Any]:
    """The body of PUT /rest/api/content/{id}: no ancestors, so a page people moved stays there."""
    return {
        "type": "page",
        "title": title,
        "body": {"storage": {"value": body, "representation": "storage"}},
        "version": {"number": version, "message": f"Publication {publication} of the narrative"},
    }


def confluence_label_cql(*, space_key: str, label: str) -> str:
    # Both values are quoted: the label is ours and the space key is checked by the settings.
    return f'label = "{label}" and space = "{space_key}" and type = page'


def page_has_label(page: dict[str, Any], label: str) -> bool:
    labels = ((page.get("metadata") or {}).get("labels") or {}).get("results") or []
    return any(isinstance(item, dict) and item.get("name") == label for item in labels)


# --- I/O --------------------------------------------------------------------------------------

_clients: dict[tuple[str, str, str], Any] = {}
_clients_lock = threading.Lock()


def confluence_configured() -> bool:
    return bool(settings.CONFLUENCE_URL and settings.CONFLUENCE_SPACE_KEY)


def confluence_client() -> Any:
    """One client per process and configuration (it holds a connection pool)."""
    url, user, token = settings.CONFLUENCE_URL, settings.CONFLUENCE_USER, settings.CONFLUENCE_API_TOKEN
    key = (url, user, token)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            # Cloud: account email + API token (basic); Data Center: a personal access token (bearer).
            auth: dict[str, str] = {"username": user, "password": token} if user else {"token": token}
            client = Confluence(
                url,
                cloud=False,
                timeout=TIMEOUT_SECONDS,
                backoff_and_retry=False,
                retry_with_header=False,
                **auth,
            )
            _clients[key] = client
    return client


def confluence_clients_reset() -> None:
    """Forget the cached clients (after the Confluence settings changed, or between tests)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


@contextmanager
def confluence_errors(*, conflict_is_transient: bool = False) -> Iterator[None]:
    """Translate the library's and requests' exceptions into DeliveryError, with Confluence's words.

    A 409 on an update means someone saved the page between our read of its version and our write:
    reading it again on the next attempt settles it.
    """
    try:
        yield
    except ApiError as error:
        # The library words some answers itself and keeps Confluence's own error as the reason.
        if isinstance(error.reason, requests.HTTPError) and error.reason.response is not None:
            raise http_delivery_error(error.reason, conflict_is_transient) from error
        raise DeliveryError(f"Confluence: {error}", transient=False) from error
    except requests.HTTPError as error:
        if error.response is None:
            raise DeliveryError(f"Confluence could not be reached: {error}", transient=True) from error
        raise http_delivery_error(error, conflict_is_transient) from error
    except requests.RequestException as error:
        raise DeliveryError(
            f"Confluence could not be reached: {error.__class__.__name__}", transient=True
        ) from error
    except (ValueError, KeyError, TypeError) as error:
        # A proxy's HTML page where JSON was expected, or JSON not shaped as Confluence documents it.
        raise DeliveryError(f"Confluence sent an unreadable answer: {error!r}", transient=True) from error


def http_delivery_error(error: requests.HTTPError, conflict_is_transient: bool) -> DeliveryError:
    response = error.response
    status = response.status_code
    # The library's message is Confluence's own `message` / `errors` (or a bounded text body).
    detail = str(error).strip() or response.reason
    return DeliveryError(
        f"Confluence (HTTP {status}): {detail}",
        transient=is_transient_status(status) or (conflict_is_transient and status == 409),
        retry_after=parse_retry_after(response.headers.get("Retry-After")),
    )


def find_labelled_page(client: Any, *, space_key: str, label: str) -> str | None:
    # GET /rest/api/search?cql=label = "…" and space = "…"
    # https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-search/#api-wiki-rest-api-search-get
    found = client.cql(confluence_label_cql(space_key=space_key, label=label), limit=2)
    for result in found.get("results") or []:
        page = result.get("content") or {}
        if page.get("id"):
            return str(page["id"])
    return None


def page_titled(client: Any, *, space_key: str, title: str) -> dict[str, Any] | None:
    # GET /rest/api/content?spaceKey=…&title=…&type=page (exact title, read from the database, not
    # from the search index)
    # https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content/#api-wiki-rest-api-content-get
    found = client.get_page_by_title(space_key, title, expand="metadata.labels")
    results = (found or {}).get("results") or []
    return results[0] if results else None


def publish_to_confluence(content: BroadcastContent, *, incident_id: int) -> str:
    """Create or update the narrative's page; return its id. Raises DeliveryError.

    Costs the label search, then two title look-ups and the create (first publication), or a read
    of the current version and the update (later ones; one title look-up more when it was retitled).
    """
    client = confluence_client()
    space_key = settings.CONFLUENCE_SPACE_KEY
    label = confluence_label(content.narrative_id)
    title, suffixed = confluence_titles(content, incident_id=incident_id)
    body = confluence_page_body(content, origin=site_origin())
    with confluence_errors():
        page_id = find_labelled_page(client, space_key=space_key, label=label)
        free_title = None
        if page_id is None:
            for candidate in (title, suffixed):
                page = page_titled(client, space_key=space_key, title=candidate)
                if page is None:
                    free_title = free_title or candidate
                elif page_has_label(page, label):
                    page_id = str(page["id"])
                    break
    if page_id is None:
        if free_title is None:
            raise DeliveryError(
                f"Confluence: pages titled {title!r} and {suffixed!r} already exist in space {space_key}.",
                transient=False,
            )
        payload = confluence_create_payload(
            space_key=space_key,
            parent_id=settings.CONFLUENCE_PARENT_PAGE_ID,
            title=free_title,
            body=body,
            label=label,
            publication=content.publication,
        )
        # POST /rest/api/content
        # https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content/#api-wiki-rest-api-content-post
        with confluence_errors():
            created = client.create_content(payload)
            return str(created["id"])
    with confluence_errors(conflict_is_transient=True):
        # GET /rest/api/content/{id}?expand=version: the current version, which the search index
        # may not have yet
        # https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content/#api-wiki-rest-api-content-id-get
        current = client.get_page_by_id(page_id, expand="version")
        page_title = current["title"]
        if page_title not in (title, suffixed):
            # Retitled since the last publication: take the new title unless another page has it.
            other = page_titled(client, space_key=space_key, title=title)
            page_title = title if other is None or str(other["id"]) == page_id else suffixed
        payload = confluence_update_payload(
            title=page_title,
            body=body,
            version=int(current["version"]["number"]) + 1,
            publication=content.publication,
        )
        # PUT /rest/api/content/{id}: version must be the current one + 1, else 409 Conflict
        # https://developer.atlassian.com/cloud/confluence/rest/v1/api-group-content/#api-wiki-rest-api-content-id-put
        client.update_content(page_id, payload)
    return page_id
