"""A local Confluence REST emulator, real HTTP on 127.0.0.1: enough of REST API version 1 for ybiyri.

Endpoints (under `/rest/api/`, or `/wiki/rest/api/` as on Cloud): content (create; list by
spaceKey + title), content/{id} (get, update), content/{id}/history, content/{id}/label (list,
add), search (CQL). CQL: clauses joined by AND — `label = "x"`, `space = "KEY"`, `type = page`,
`ancestor = 123`, `title = "…"`.

Validates like Confluence where ybiyri can get it wrong — an unknown space or parent, a title
another page of the space has, a body that is not well-formed storage format (XHTML), a version
that is not the current one + 1 — and answers with Confluence's error shape:
`{"statusCode": 400, "data": {...}, "message": "..."}`.

Faults, besides the queued ones of every emulator (`fail_next`: 5xx, 429 with Retry-After):
`fail_after_next_create` creates the page and then answers 500, and `index_lags` keeps new pages
out of CQL search until `index_all()`, as Confluence's search index trails its writes.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import json
import re
from typing import Any
from xml.etree import ElementTree

from tests.fakes.backlog_http import Emulator, Reply, first

# Storage format uses these prefixes without declaring them; a parser needs them declared.
STORAGE_ROOT = (
    '<root xmlns:ac="http://atlassian.com/content" xmlns:ri="http://atlassian.com/resource/identifier">'
)
CQL_CLAUSE = re.compile(r'^\s*(?P<field>[A-Za-z]+)\s*=\s*(?P<value>"[^"]*"|[^\s"]+)\s*$')


class CqlError(ValueError):
    pass


def parse_cql(cql: str) -> list[tuple[str, str]]:
    """(field, value) equalities of an AND-only CQL query; raises CqlError otherwise."""
    clauses = []
    for part in re.split(r"\s+and\s+", cql.strip(), flags=re.IGNORECASE):
        match = CQL_CLAUSE.match(part)
        if not match:
            raise CqlError(f"Could not parse cql : {cql}")
        clauses.append((match.group("field").lower(), match.group("value").strip('"')))
    return clauses


def storage_problem(body: str) -> str | None:
    """Why `body` is not well-formed storage format, or None."""
    try:
        ElementTree.fromstring(f"{STORAGE_ROOT}{body}</root>")  # noqa: S314 (the test's own input)
    except ElementTree.ParseError as error:
        return f"Error parsing xhtml: {error}"
    return None


class FakeConfluence(Emulator):
    """An in-memory Confluence with spaces, pages, versions and labels."""

    def __init__(
        self,
        *,
        spaces: tuple[str, ...] = ("ENG",),
        user: str = "bot@example.org",
        token: str = "confluence-token",  # noqa: S107 (the emulator's own test credential)
    ) -> None:
        super().__init__()
        self.user, self.token = user, token
        self.spaces = {
            key: {"id": 98000 + index, "key": key, "name": key} for index, key in enumerate(spaces)
        }
        self.pages: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(65537)
        self.index_lags = False
        self._indexed: set[str] = set()
        self._fail_after_create: list[int] = []

    # --- test helpers -------------------------------------------------------------------------

    def add_page(
        self, *, space: str, title: str, parent_id: str | None = None, labels: tuple[str, ...] = ()
    ) -> str:
        """A page people made (the parent of the narratives, or one that takes a title)."""
        with self.lock:
            page = self._store(space, title, "<p>Written by people.</p>", parent_id, list(labels))
            return page["id"]

    def pages_with_label(self, label: str) -> list[dict[str, Any]]:
        with self.lock:
            return [page for page in self.pages.values() if label in page["labels"]]

    def fail_after_next_create(self, *, status: int = 500) -> None:
        """The next page creation succeeds, then its answer is an error (the page exists)."""
        with self.lock:
            self._fail_after_create.append(status)

    def index_all(self) -> None:
        """The search index catches up with every write."""
        with self.lock:
            self._indexed = set(self.pages)

    # --- HTTP ---------------------------------------------------------------------------------

    def _authorised(self, headers: dict[str, str]) -> bool:
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            expected = base64.b64encode(f"{self.user}:{self.token}".encode()).decode()
            return hmac.compare_digest(auth[6:], expected)
        if auth.startswith("Bearer "):
            return hmac.compare_digest(auth[7:], self.token)
        return False

    @staticmethod
    def _error(status: int, message: str) -> Reply:
        data = {"authorized": status != 403, "valid": False, "errors": [], "successful": False}
        return Reply(status, {"statusCode": status, "data": data, "message": message, "reason": ""})

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> Reply:
        match = re.match(r"^(?:/wiki)?/rest/api/(.*?)/?$", path)
        if not match:
            return self._error(404, "null for uri: " + path)
        if not self._authorised(headers):
            return Reply(
                401, "Basic authentication with passwords is deprecated.", {"Content-Type": "text/html"}
            )
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return self._error(400, "Unrecognized token: was expecting JSON")
        with self.lock:
            return self._route(method, match.group(1), query, data)

    def _route(self, method: str, route: str, query: dict[str, list[str]], data: dict[str, Any]) -> Reply:
        expand = first(query, "expand").split(",")
        if route == "content" and method == "POST":
            return self._create(data, expand)
        if route == "content" and method == "GET":
            found = [
                page
                for page in self.pages.values()
                if page["space"] == first(query, "spaceKey") and page["title"] == first(query, "title")
            ]
            return Reply(200, self._results([self.page_json(page, expand) for page in found]))
        if route == "search" and method == "GET":
            return self._search(first(query, "cql"))
        page_match = re.match(r"^content/(\d+)(?:/(history|label))?$", route)
        if page_match:
            page = self.pages.get(page_match.group(1))
            if page is None:
                return self._error(404, f"No content found with id: ContentId{{id={page_match.group(1)}}}")
            part = page_match.group(2)
            if part == "history" and method == "GET":
                return Reply(200, {"latest": True, "lastUpdated": {"number": page["version"]}})
            if part == "label":
                return self._labels(method, page, data)
            if part is None and method == "GET":
                return Reply(200, self.page_json(page, expand))
            if part is None and method == "PUT":
                return self._update(page, data)
        return self._error(404, f"No route for {method} {route}")

    @staticmethod
    def _results(results: list[dict[str, Any]]) -> dict[str, Any]:
        return {"results": results, "start": 0, "limit": 25, "size": len(results)}

    def page_json(self, page: dict[str, Any], expand: list[str] | None = None) -> dict[str, Any]:
        expand = expand or []
        answer: dict[str, Any] = {
            "id": page["id"],
            "type": "page",
            "status": "current",
            "title": page["title"],
            "_links": {"webui": f"/spaces/{page['space']}/pages/{page['id']}", "base": self.url},
        }
        if "version" in expand:
            answer["version"] = {"number": page["version"], "message": page["message"]}
        if "space" in expand:
            answer["space"] = {"key": page["space"]}
        if "ancestors" in expand:
            answer["ancestors"] = [{"id": ancestor, "type": "page"} for ancestor in page["ancestors"]]
        if "body.storage" in expand:
            answer["body"] = {"storage": {"value": page["body"], "representation": "storage"}}
        if "metadata.labels" in expand:
            labels = [{"prefix": "global", "name": name, "id": name} for name in page["labels"]]
            answer["metadata"] = {"labels": self._results(labels)}
        return answer

    def _title_taken(self, space: str, title: str, *, other_than: str | None = None) -> bool:
        return any(
            page["space"] == space and page["title"] == title and page["id"] != other_than
            for page in self.pages.values()
        )

    def _store(
        self, space: str, title: str, body: str, parent_id: str | None, labels: list[str], message: str = ""
    ) -> dict[str, Any]:
        page_id = str(next(self._ids))
        ancestors = [*self.pages[parent_id]["ancestors"], parent_id] if parent_id else []
        page = {
            "id": page_id,
            "space": space,
            "title": title,
            "body": body,
            "version": 1,
            "message": message,
            "ancestors": ancestors,
            "labels": labels,
        }
        self.pages[page_id] = page
        if not self.index_lags:
            self._indexed.add(page_id)
        return page

    def _check(self, space: str, data: dict[str, Any], *, page_id: str | None = None) -> str | None:
        title = (data.get("title") or "").strip()
        if not title:
            return "Title cannot be empty"
        if len(title) > 255:
            return "Title cannot be longer than 255 characters."
        if self._title_taken(space, title, other_than=page_id):
            return (
                f"A page with this title already exists: A page already exists with the title {title} "
                f"in the space with key {space}"
            )
        storage = ((data.get("body") or {}).get("storage") or {}).get("value")
        if storage is None:
            return "Content body cannot be null"
        return storage_problem(storage)

    def _create(self, data: dict[str, Any], expand: list[str]) -> Reply:
        space = (data.get("space") or {}).get("key")
        if space not in self.spaces:
            return self._error(400, f"Could not create content with type page: No space with key : {space}")
        if data.get("type") != "page":
            return self._error(400, "Unsupported content type")
        problem = self._check(space, data)
        if problem:
            return self._error(400, problem)
        parent_id = None
        if data.get("ancestors"):
            parent_id = str(data["ancestors"][-1].get("id"))
            parent = self.pages.get(parent_id)
            if parent is None or parent["space"] != space:
                return self._error(400, f"Could not find parent page with id {parent_id} in space {space}")
        labels = [label["name"] for label in (data.get("metadata") or {}).get("labels") or []]
        page = self._store(
            space,
            data["title"],
            data["body"]["storage"]["value"],
            parent_id,
            labels,
            (data.get("version") or {}).get("message", ""),
        )
        if self._fail_after_create:
            return self._error(self._fail_after_create.pop(0), "Internal server error")
        return Reply(200, self.page_json(page, ["version", "space", "ancestors"]))

    def _update(self, page: dict[str, Any], data: dict[str, Any]) -> Reply:
        version = (data.get("version") or {}).get("number")
        if version != page["version"] + 1:
            return self._error(
                409, f"Version must be incremented on update. Current version is: {page['version']}"
            )
        problem = self._check(page["space"], data, page_id=page["id"])
        if problem:
            return self._error(400, problem)
        page.update(
            title=data["title"],
            body=data["body"]["storage"]["value"],
            version=version,
            message=(data.get("version") or {}).get("message", ""),
        )
        return Reply(200, self.page_json(page, ["version", "space", "ancestors"]))

    def _labels(self, method: str, page: dict[str, Any], data: Any) -> Reply:
        if method == "POST":
            for label in data if isinstance(data, list) else [data]:
                if label["name"] not in page["labels"]:
                    page["labels"].append(label["name"])
        labels = [{"prefix": "global", "name": name, "id": name} for name in page["labels"]]
        return Reply(200, self._results(labels))

    def _search(self, cql: str) -> Reply:
        try:
            clauses = parse_cql(cql)
        except CqlError as error:
            return self._error(400, str(error))
        found = []
        for page_id in sorted(self._indexed, key=int):
            page = self.pages.get(page_id)
            if page is None:
                continue
            actual = {
                "label": page["labels"],
                "space": [page["space"]],
                "type": ["page"],
                "ancestor": page["ancestors"],
                "title": [page["title"]],
            }
            for field_name, _ in clauses:
                if field_name not in actual:
                    return self._error(400, f"Could not parse cql : {cql}")
            if all(value in actual[field_name] for field_name, value in clauses):
                found.append({"content": self.page_json(page), "title": page["title"]})
        return Reply(200, self._results(found))


__all__ = ["FakeConfluence", "parse_cql", "storage_problem"]
