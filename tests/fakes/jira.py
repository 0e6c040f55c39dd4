"""A local Jira REST emulator, real HTTP on 127.0.0.1, enough of API version 2 (and 3) for ybiyri.

Speaks as Jira Cloud (`deployment="Cloud"`: `/search/jql` with `nextPageToken`, the legacy
`/search` answers 410 Gone as it does on Cloud since CHANGE-2046) or as Data Center
(`deployment="Server"`: `/search` with `startAt`, no `/search/jql`). Validates like Jira does where
ybiyri can get it wrong (unknown project, issue type or priority, empty summary, labels with spaces)
and answers with Jira's error shape: `{"errorMessages": [...], "errors": {"field": "message"}}`.

Endpoints: serverInfo, myself, field, priority, project/{key}, issue (create), issue/bulk (create
up to 50: each valid one is created, each invalid one reported by its `failedElementNumber`; 201
when any was created, 400 when none), issue/{key} (get, edit), issue/{key}/transitions (list, do), search/jql (GET, POST), search (GET, POST). Issues carry
time tracking (`timeoriginalestimate`, `timespent`, in seconds), set by `track_time`.
JQL: clauses joined by AND — `field = value`, `field != value`, `field in (a, b)`, `updated >= -7d`
over project, labels, status, statusCategory, key, issuetype; `ORDER BY` is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.backlog_http import DropConnection, Emulator, Reply, first

STATUSES = {
    "To Do": {"id": "1", "name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    "In Progress": {
        "id": "3",
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    },
    "Done": {"id": "10001", "name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Done"}
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest"]
ISSUE_TYPES = ["Task", "Bug", "Story"]
FIELDS = ["summary", "description", "labels", "priority", "issuetype", "project", "status", "resolutiondate"]
FIELDS += ["created", "updated", "duedate", "components", "assignee", "timeoriginalestimate", "timespent"]
BULK_CREATE_MAX = 50  # Jira's limit on the issues of one bulk create


def jira_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class JqlError(ValueError):
    pass


CLAUSE = re.compile(
    r"""^\s*(?P<field>[A-Za-z]+)\s*(?P<op>!=|>=|<=|=|\bin\b|\bnot in\b)\s*(?P<value>.+?)\s*$""", re.IGNORECASE
)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_jql(jql: str) -> list[tuple[str, str, Any]]:
    """Clauses (field, operator, value) of an AND-only JQL query; raises JqlError otherwise."""
    jql = re.split(r"\border\s+by\b", jql, flags=re.IGNORECASE)[0].strip()
    if not jql:
        raise JqlError(
            "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
        )
    if re.search(r"\bor\b", jql, re.IGNORECASE):
        raise JqlError("The emulator only understands AND.")
    clauses = []
    for part in re.split(r"\s+and\s+", jql, flags=re.IGNORECASE):
        match = CLAUSE.match(part)
        if not match:
            raise JqlError(f"Error in the JQL Query: cannot parse {part!r}.")
        field_name, op, raw = match.group("field").lower(), match.group("op").lower(), match.group("value")
        if op in ("in", "not in"):
            if not (raw.startswith("(") and raw.endswith(")")):
                raise JqlError(f"Error in the JQL Query: expected a list after {op!r}.")
            value: Any = [_unquote(item) for item in raw[1:-1].split(",") if item.strip()]
        else:
            value = _unquote(raw)
        clauses.append((field_name, op, value))
    return clauses


class FakeJira(Emulator):
    """An in-memory Jira. `deployment` is "Cloud" or "Server" (what Data Center reports)."""

    def __init__(
        self,
        *,
        deployment: str = "Cloud",
        projects: tuple[str, ...] = ("OPS",),
        user: str = "bot@example.org",
        token: str = "jira-token",  # noqa: S107 (the emulator's own test credential)
    ) -> None:
        super().__init__()
        self.deployment = deployment
        self.projects = {key: str(10000 + index) for index, key in enumerate(projects)}
        self.user, self.token = user, token
        self.issues: dict[str, dict[str, Any]] = {}
        self._by_label: dict[str, dict[str, None]] = {}  # label → keys, in creation order
        self.max_page_size = 100  # Cloud's cap on /search/jql pages; lower it to exercise paging
        self._ids = itertools.count(10001)
        self._numbers = {key: itertools.count(1) for key in projects}

    # --- test helpers -------------------------------------------------------------------------

    def issues_with_label(self, label: str) -> list[dict[str, Any]]:
        with self.lock:
            return [issue for issue in self.issues.values() if label in issue["fields"]["labels"]]

    def set_status(self, key: str, status: str, *, when: datetime | None = None) -> dict[str, Any]:
        """Move an issue to "To Do", "In Progress" or "Done" as a person would in Jira."""
        with self.lock:
            issue = self.issues[key]
            now = when or datetime.now(UTC)
            issue["fields"]["status"] = STATUSES[status]
            done = STATUSES[status]["statusCategory"]["key"] == "done"
            issue["fields"]["resolutiondate"] = jira_time(now) if done else None
            issue["fields"]["updated"] = jira_time(now)
            issue["_updated"] = now
            return self.issue_json(issue)

    def set_priority(self, key: str, name: str, *, when: datetime | None = None) -> None:
        """Change an issue's priority as a person would in Jira (recorded in its changelog)."""
        with self.lock:
            self._change(self.issues[key], "priority", {"name": name}, when=when)

    def assign(self, key: str, email: str | None, *, when: datetime | None = None) -> None:
        """Assign an issue to the Jira user with this email (None: unassign), as a person would."""
        user = None if email is None else {"accountId": f"acc-{email}", "emailAddress": email, "active": True}
        with self.lock:
            self._change(self.issues[key], "assignee", user, when=when)

    def track_time(
        self,
        key: str,
        *,
        estimate_seconds: int | None = None,
        logged_seconds: int = 0,
        when: datetime | None = None,
    ) -> None:
        """Set the original estimate and/or log work on an issue as a person would: `timespent` is
        the sum of the work logged, `timeoriginalestimate` the estimate, both in seconds."""
        with self.lock:
            issue = self.issues[key]
            if estimate_seconds is not None:
                self._change(issue, "timeoriginalestimate", estimate_seconds, when=when)
            if logged_seconds:
                spent = (issue["fields"].get("timespent") or 0) + logged_seconds
                self._change(issue, "timespent", spent, when=when)

    def _change(self, issue: dict[str, Any], name: str, value: Any, *, when: datetime | None) -> None:
        now = when or datetime.now(UTC)
        issue["fields"][name] = value
        issue["fields"]["updated"] = jira_time(now)
        issue["_updated"] = now
        issue.setdefault("_histories", []).append(
            {
                "id": str(next(self._ids)),
                "created": jira_time(now),
                "items": [{"field": name, "fieldtype": "jira"}],
            }
        )

    def issue_json(
        self, issue: dict[str, Any], fields: list[str] | None = None, *, expand: str = ""
    ) -> dict[str, Any]:
        wanted = issue["fields"]
        if fields and not ({"*all", "*navigable"} & set(fields)):
            wanted = {name: value for name, value in wanted.items() if name in fields}
        answer = {
            "id": issue["id"],
            "key": issue["key"],
            "self": f"{self.url}/rest/api/2/issue/{issue['id']}",
            "fields": json.loads(json.dumps(wanted)),
        }
        if "changelog" in expand.split(","):
            histories = issue.get("_histories", [])
            answer["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(histories),
                "histories": json.loads(json.dumps(histories)),
            }
        return answer

    def webhook_body(
        self, key: str, *, event: str = "jira:issue_updated", changed: tuple[str, ...] = ("status",)
    ) -> bytes:
        """The JSON body Jira sends for an issue event (timestamp in milliseconds); its changelog
        names the `changed` fields."""
        with self.lock:
            issue = self.issue_json(self.issues[key])
        payload = {
            "timestamp": int(time.time() * 1000),
            "webhookEvent": event,
            "issue_event_type_name": "issue_generic",
            "user": {"displayName": "Jira person"},
            "issue": issue,
            "changelog": {"id": "10100", "items": [{"field": name, "fieldtype": "jira"} for name in changed]},
        }
        return json.dumps(payload).encode()

    @staticmethod
    def signature(body: bytes, secret: str) -> str:
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    def deliver_webhook(
        self,
        client: Any,
        key: str,
        *,
        secret: str | None = None,
        url: str = "/integrations/jira/webhook/",
        body: bytes | None = None,
        signature: str | None = None,
    ) -> Any:
        """POST the issue's webhook to the app through a Django test client, signed with `secret`."""
        body = body if body is not None else self.webhook_body(key)
        headers = {}
        if signature is not None:
            headers["X-Hub-Signature"] = signature
        elif secret is not None:
            headers["X-Hub-Signature"] = self.signature(body, secret)
        return client.post(url, data=body, content_type="application/json", headers=headers)

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
    def _error(status: int, *messages: str, **errors: str) -> Reply:
        return Reply(status, {"errorMessages": list(messages), "errors": errors})

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> Reply:
        match = re.match(r"^/rest/api/(2|3|latest)/(.*?)/?$", path)
        if not match:
            return self._error(404, "Not found")
        route = match.group(2)
        if not self._authorised(headers):
            return Reply(
                401, "Client must be authenticated to access this resource.", {"Content-Type": "text/html"}
            )
        data = json.loads(body) if body else {}
        with self.lock:
            return self._route(method, route, query, data)

    def _route(self, method: str, route: str, query: dict[str, list[str]], data: dict[str, Any]) -> Reply:
        if route == "serverInfo" and method == "GET":
            version = [1001, 0, 0] if self.deployment == "Cloud" else [9, 12, 0]
            return Reply(
                200,
                {
                    "baseUrl": self.url,
                    "version": ".".join(map(str, version)),
                    "versionNumbers": version,
                    "deploymentType": self.deployment,
                    "serverTitle": "Emulated Jira",
                },
            )
        if route == "myself" and method == "GET":
            return Reply(
                200, {"accountId": "5b10a2844c20165700ede21g", "emailAddress": self.user, "active": True}
            )
        if route == "field" and method == "GET":
            return Reply(
                200,
                [{"id": name, "key": name, "name": name.title(), "clauseNames": [name]} for name in FIELDS],
            )
        if route == "priority" and method == "GET":
            return Reply(200, [{"id": str(i + 1), "name": name} for i, name in enumerate(PRIORITIES)])
        if route.startswith("project/") and method == "GET":
            key = route.split("/", 1)[1]
            if key not in self.projects:
                return self._error(404, f"No project could be found with key '{key}'.")
            return Reply(200, {"id": self.projects[key], "key": key, "name": key})
        if route == "issue" and method == "POST":
            return self._create(data)
        if route == "issue/bulk" and method == "POST":
            return self._create_bulk(data)
        issue_match = re.match(r"^issue/([^/]+)(/transitions)?$", route)
        if issue_match:
            issue = self._find(issue_match.group(1))
            if issue is None:
                return self._error(404, "Issue does not exist or you do not have permission to see it.")
            if issue_match.group(2):
                return self._transitions(method, issue, data)
            if method == "GET":
                fields = first(query, "fields")
                return Reply(
                    200,
                    self.issue_json(
                        issue, fields.split(",") if fields else None, expand=first(query, "expand")
                    ),
                )
            if method == "PUT":
                return self._edit(issue, data)
        if route in ("search/jql", "search"):
            return self._search(method, route, query, data)
        return self._error(404, f"No route for {method} {route}")

    def _find(self, id_or_key: str) -> dict[str, Any] | None:
        if id_or_key in self.issues:
            return self.issues[id_or_key]
        return next((issue for issue in self.issues.values() if issue["id"] == id_or_key), None)

    def _check_fields(self, fields: dict[str, Any], *, creating: bool) -> dict[str, str]:
        errors: dict[str, str] = {}
        if creating:
            project = (fields.get("project") or {}).get("key") or (fields.get("project") or {}).get("id")
            if project not in self.projects and project not in self.projects.values():
                errors["project"] = "valid project is required"
            issue_type = (fields.get("issuetype") or {}).get("name")
            if issue_type not in ISSUE_TYPES:
                errors["issuetype"] = "Specify a valid issue type"
        if creating or "summary" in fields:
            summary = fields.get("summary") or ""
            if not summary.strip():
                errors["summary"] = "You must specify a summary of the issue."
            elif len(summary) > 255:
                errors["summary"] = "Summary must be less than 255 characters."
        if "priority" in fields and (fields["priority"] or {}).get("name") not in PRIORITIES:
            errors["priority"] = f"Priority name '{(fields['priority'] or {}).get('name')}' is not valid"
        for label in fields.get("labels") or []:
            if " " in label:
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        unknown = [name for name in fields if name not in FIELDS and not name.startswith("customfield_")]
        for name in unknown:
            errors[name] = f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."
        return errors

    def _create(self, data: dict[str, Any]) -> Reply:
        fields = data.get("fields") or {}
        errors = self._check_fields(fields, creating=True)
        if errors:
            return self._error(400, **errors)
        return Reply(201, self._store(fields))

    def _create_bulk(self, data: dict[str, Any]) -> Reply:
        """POST /rest/api/2/issue/bulk: each issue is created or fails on its own, as in Jira.
        https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-bulk-post
        """
        updates = data.get("issueUpdates") or []
        if len(updates) > BULK_CREATE_MAX:
            return self._error(
                400,
                f"Bulk create is limited to {BULK_CREATE_MAX} issues per request: {len(updates)} were sent.",
            )
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for number, update in enumerate(updates):
            fields = update.get("fields") or {}
            errors = self._check_fields(fields, creating=True)
            if errors:
                failed.append(
                    {
                        "status": 400,
                        "elementErrors": {"errorMessages": [], "errors": errors},
                        "failedElementNumber": number,
                    }
                )
            else:
                created.append(self._store(fields))
        return Reply(201 if created else 400, {"issues": created, "errors": failed})

    def _store(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Create the issue from validated fields; its id, key and self link as Jira answers them."""
        project = fields["project"].get("key") or next(
            k for k, v in self.projects.items() if v == fields["project"]["id"]
        )
        key = f"{project}-{next(self._numbers[project])}"
        now = datetime.now(UTC)
        stored = dict(fields)
        stored.update(
            {
                "project": {"id": self.projects[project], "key": project},
                "issuetype": {"name": fields["issuetype"]["name"]},
                "labels": list(fields.get("labels") or []),
                "priority": fields.get("priority") or {"name": "Medium"},
                "status": STATUSES["To Do"],
                "resolutiondate": None,
                # Time tracking: seconds, null until someone estimates or logs work.
                "timeoriginalestimate": None,
                "timespent": None,
                "created": jira_time(now),
                "updated": jira_time(now),
            }
        )
        issue = {"id": str(next(self._ids)), "key": key, "fields": stored, "_updated": now}
        self.issues[key] = issue
        self._index(issue)
        return {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/2/issue/{issue['id']}"}

    def _edit(self, issue: dict[str, Any], data: dict[str, Any]) -> Reply:
        fields = data.get("fields") or {}
        errors = self._check_fields(fields, creating=False)
        if errors:
            return self._error(400, **errors)
        now = datetime.now(UTC)
        for name in ("priority", "assignee"):
            if name in fields and fields[name] != issue["fields"].get(name):
                issue.setdefault("_histories", []).append(
                    {"id": str(next(self._ids)), "created": jira_time(now), "items": [{"field": name}]}
                )
        for name, operations in (data.get("update") or {}).items():
            for operation in operations:
                if (
                    name == "labels"
                    and "add" in operation
                    and operation["add"] not in issue["fields"]["labels"]
                ):
                    issue["fields"]["labels"].append(operation["add"])
        issue["fields"].update(fields)
        self._index(issue)
        issue["fields"]["updated"] = jira_time(now)
        issue["_updated"] = now
        return Reply(204)

    def _transitions(self, method: str, issue: dict[str, Any], data: dict[str, Any]) -> Reply:
        if method == "GET":
            return Reply(
                200,
                {
                    "transitions": [
                        {"id": tid, "name": name, "to": STATUSES[name]} for tid, name in TRANSITIONS.items()
                    ]
                },
            )
        transition = (data.get("transition") or {}).get("id")
        if transition not in TRANSITIONS:
            return self._error(
                400, "It seems that you have tried to perform a workflow operation that is not valid."
            )
        self.set_status(issue["key"], TRANSITIONS[transition])
        return Reply(204)

    # --- search -------------------------------------------------------------------------------

    def _matches(self, issue: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
        fields = issue["fields"]
        for field_name, op, value in clauses:
            if field_name == "updated":
                match = re.fullmatch(r"-(\d+)([dhm])", value)
                if not match or op != ">=":
                    raise JqlError(f"Error in the JQL Query: unsupported updated clause {value!r}.")
                unit = {"d": "days", "h": "hours", "m": "minutes"}[match.group(2)]
                if issue["_updated"] < datetime.now(UTC) - timedelta(**{unit: int(match.group(1))}):
                    return False
                continue
            actual: list[str]
            if field_name == "project":
                actual = [fields["project"]["key"]]
            elif field_name == "labels":
                actual = fields["labels"]
            elif field_name == "status":
                actual = [fields["status"]["name"].lower()]
            elif field_name == "statuscategory":
                category = fields["status"]["statusCategory"]
                actual = [category["name"].lower(), category["key"]]
            elif field_name in ("key", "issuekey"):
                actual = [issue["key"]]
            elif field_name == "issuetype":
                actual = [fields["issuetype"]["name"].lower()]
            else:
                raise JqlError(
                    f"Field '{field_name}' does not exist or you do not have permission to view it."
                )
            case_blind = field_name in ("status", "statuscategory", "issuetype")
            wanted = value if isinstance(value, list) else [value]
            wanted = [w.lower() for w in wanted] if case_blind else wanted
            hit = any(w in actual for w in wanted)
            if (op in ("=", "in") and not hit) or (op in ("!=", "not in") and hit):
                return False
        return True

    def _candidates(self, clauses: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
        """Issues worth matching: Jira searches an index, and so does a `labels = x` clause here, so
        that the emulator's cost per search does not grow with the issues of a benchmark."""
        for field_name, op, value in clauses:
            if field_name == "labels" and op == "=":
                return [self.issues[key] for key in self._by_label.get(value, ()) if key in self.issues]
        return list(self.issues.values())

    def _index(self, issue: dict[str, Any]) -> None:
        for label in issue["fields"]["labels"]:
            self._by_label.setdefault(label, {})[issue["key"]] = None

    def _search(self, method: str, route: str, query: dict[str, list[str]], data: dict[str, Any]) -> Reply:
        enhanced = route == "search/jql"
        if enhanced and self.deployment != "Cloud":
            return self._error(404, "null for uri: /rest/api/2/search/jql")
        if not enhanced and self.deployment == "Cloud":
            return self._error(
                410,
                "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
            )
        params = data if method == "POST" else {name: values[0] for name, values in query.items()}
        expand = params.get("expand") or ""
        if isinstance(expand, list):
            expand = ",".join(expand)
        fields_param = params.get("fields")
        if isinstance(fields_param, str):
            fields_param = fields_param.split(",")
        if method == "GET" and "fields" in query:
            fields_param = [f for value in query["fields"] for f in value.split(",")]
        try:
            clauses = parse_jql(params.get("jql") or "")
            found = [issue for issue in self._candidates(clauses) if self._matches(issue, clauses)]
        except JqlError as error:
            return self._error(400, str(error))
        found.sort(key=lambda issue: int(issue["id"]))
        max_results = min(int(params.get("maxResults") or 50), self.max_page_size)
        if enhanced:
            start = (
                int(base64.b64decode(params["nextPageToken"]).decode()) if params.get("nextPageToken") else 0
            )
            page = found[start : start + max_results]
            answer: dict[str, Any] = {
                "issues": [self.issue_json(issue, fields_param, expand=expand) for issue in page]
            }
            if start + max_results < len(found):
                answer["nextPageToken"] = base64.b64encode(str(start + max_results).encode()).decode()
                answer["isLast"] = False
            else:
                answer["isLast"] = True
            return Reply(200, answer)
        start = int(params.get("startAt") or 0)
        page = found[start : start + max_results]
        return Reply(
            200,
            {
                "startAt": start,
                "maxResults": max_results,
                "total": len(found),
                "issues": [self.issue_json(issue, fields_param, expand=expand) for issue in page],
            },
        )


__all__ = ["DropConnection", "FakeJira", "parse_jql"]
