"""Jira Cloud and Jira Data Center through the `jira` library.

One approach for both deployments: REST API version 2, whose `description` is wiki markup on Cloud
and Data Center alike (version 3 would need Atlassian Document Format, which Data Center does not
speak). Searching is the one place where they differ: Cloud removed `/rest/api/2/search` (CHANGE-2046)
in favour of `/rest/api/2/search/jql` with `nextPageToken` paging, while Data Center only has the
former. The `jira` library (3.10) reads `deploymentType` from `serverInfo` when the client is built
and `JIRA.search_issues` then calls the right endpoint, so this module never names either.

The library's own retrying session is switched off (`max_retries=0`): the Celery task owns the retry
policy, and two layers of retries would multiply attempts and sleep inside a worker.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from jira import JIRA, JIRAError

from reviews.backlog import RemoteItem, create_one_by_one
from reviews.backlog.errors import PermanentTrackerError, TrackerError, TransientTrackerError
from ybiyri.outbound import is_transient_status, parse_retry_after
from ybiyri.payload import (
    MalformedPayload,
    payload_datetime,
    payload_epoch_millis,
    payload_object,
    payload_text,
)

if TYPE_CHECKING:
    from incidents.models import Team
    from reviews.models import ImprovementAction

TRACKER_NAME = "jira"
# Jira's limit on the issues of one bulk create request.
BULK_CREATE_MAX = 50
# Far above any real issue key (a project key and a number): longer text is no key of Jira's.
ISSUE_KEY_MAX_LENGTH = 255
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 20
# The reconciler looks at issues updated within this window; it runs every few minutes, so a week
# covers a long beat outage while keeping each poll small.
RECONCILE_WINDOW = "-7d"
SEARCH_FIELDS = [
    "status",
    "resolutiondate",
    "labels",
    "priority",
    "assignee",
    "timeoriginalestimate",
    "timespent",
]
# The issue's history tells when its priority or assignee last changed there; searching and getting
# an issue expand it (Jira returns the latest 100 changes inline, enough for the latest of each).
EXPAND = "changelog"
# The fields whose changes in Jira come back to the action, by their changelog names.
FOLLOWED_FIELDS = ("priority", "assignee")
# Jira's default priority scheme; a team's `jira_priority_map` overrides entries (an empty name
# leaves the priority unset, for projects whose screens do not have the field).
DEFAULT_PRIORITY_MAP = {
    "highest": "Highest",
    "high": "High",
    "medium": "Medium",
    "low": "Low",
    "lowest": "Lowest",
}
BASE_LABEL = "ybiyri"
# Effort is kept as hours with two decimals, up to 99,999.99.
MAX_EFFORT_HOURS = Decimal(100_000)


# --- pure payload builders -------------------------------------------------------------------


def _link_text(text: str) -> str:
    # Wiki markup links are [text|url]: these characters would end the link early.
    return text.replace("|", "/").replace("[", "(").replace("]", ")")


def jira_description(action: ImprovementAction, *, site_url: str) -> str:
    """The issue description in wiki markup: the action's text, then where it came from."""
    incident = action.incident
    lines = [action.description.strip(), "", "----"] if action.description.strip() else ["----"]
    lines.append(
        f"Improvement action from incident "
        f"[{_link_text(incident.title)}|{site_url}{incident.get_absolute_url()}] "
        f"({incident.get_severity_display()})."
    )
    narrative = getattr(incident, "narrative", None)
    if narrative is not None:
        lines.append(f"Narrative: [{_link_text(narrative.title)}|{site_url}{narrative.get_absolute_url()}]")
    details = [f"Kind: {action.get_kind_display()}", f"Priority: {action.get_priority_display()}"]
    if action.owner is not None:
        details.append(f"Owner: {action.owner.display_name}")
    if action.due_date is not None:
        details.append(f"Due: {action.due_date.isoformat()}")
    lines.append(" · ".join(details))
    lines.append(
        f"Kept in sync by ybiyri ({action.idempotency_label}): resolve it here to mark it done there."
    )
    return "\n".join(lines)


def jira_priority(action: ImprovementAction, priority_map: dict[str, str]) -> dict[str, str] | None:
    name = {**DEFAULT_PRIORITY_MAP, **priority_map}.get(action.priority, "")
    return {"name": name} if name else None


def jira_issue_fields(
    action: ImprovementAction,
    *,
    project_key: str,
    issue_type: str,
    priority_map: dict[str, str],
    extra_fields: dict[str, Any],
    site_url: str,
) -> dict[str, Any]:
    """The `fields` of the create-issue request.

    Project and issue type are given by key and name so that the library sends them as they are
    instead of looking their ids up first (two extra requests per issue). The team's extra fields
    (components, custom fields by id) come first so they can never replace what ybiyri owns.
    """
    fields: dict[str, Any] = dict(extra_fields)
    fields.update(
        {
            "project": {"key": project_key},
            "issuetype": {"name": issue_type},
            "summary": action.title[:255],
            "description": jira_description(action, site_url=site_url),
            "labels": [BASE_LABEL, action.kind, action.idempotency_label],
        }
    )
    priority = jira_priority(action, priority_map)
    if priority:
        fields["priority"] = priority
    return fields


def jira_update_fields(
    action: ImprovementAction, *, priority_map: dict[str, str], site_url: str
) -> dict[str, Any]:
    """The `fields` of the edit-issue request: only what ybiyri owns and people may have changed."""
    fields: dict[str, Any] = {
        "summary": action.title[:255],
        "description": jira_description(action, site_url=site_url),
    }
    priority = jira_priority(action, priority_map)
    if priority:
        fields["priority"] = priority
    return fields


def jira_bulk_error_message(errors: dict[str, Any]) -> str:
    """Jira's own words for one issue of a bulk create that failed: its per-field `errors`, which
    the library hands over from the issue's `elementErrors`."""
    parts = [f"{field}: {message}" for field, message in errors.items()]
    return "Jira (HTTP 400): " + ("; ".join(parts) or "no details given")


def jira_priority_value(name: str, *, current: str, priority_map: dict[str, str]) -> str | None:
    """ybiyri's priority for Jira's priority `name` under the team's `priority_map` (case-blind).

    `current` is kept when it maps to `name` already; otherwise the highest of ybiyri's priorities
    that maps to it. None when none does (a priority the team's mapping leaves out).
    """
    names = {**DEFAULT_PRIORITY_MAP, **priority_map}
    wanted = name.strip().casefold()
    if not wanted:
        return None
    if str(names.get(current, "")).casefold() == wanted:
        return current
    return next((value for value in DEFAULT_PRIORITY_MAP if str(names[value]).casefold() == wanted), None)


def jira_label_jql(*, project_key: str, label: str) -> str:
    return f'project = "{project_key}" AND labels = "{label}"'


def jira_recent_jql(*, project_key: str) -> str:
    return f'project = "{project_key}" AND labels = "{BASE_LABEL}" AND updated >= {RECONCILE_WINDOW}'


def jira_error_message(error: JIRAError) -> str:
    """Jira's own words: `errorMessages` and per-field `errors`, e.g. "priority: ... is not valid"."""
    parts: list[str] = []
    response = error.response
    if response is not None:
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            parts.extend(str(message) for message in body.get("errorMessages") or [])
            errors = body.get("errors")
            if isinstance(errors, dict):
                parts.extend(f"{field}: {message}" for field, message in errors.items())
    if not parts and error.text:
        parts.append(str(error.text))
    status = f"HTTP {error.status_code}" if error.status_code else "no response"
    return f"Jira ({status}): " + ("; ".join(parts) or "no details given")


def remote_item_from_issue(raw: dict[str, Any], *, server_url: str) -> RemoteItem:
    """A RemoteItem from an issue's JSON (search result, get issue or webhook payload).

    Raises MalformedPayload, naming the value, when the JSON is not shaped as Jira documents it.
    """
    issue = payload_object(raw, name="issue")
    key = payload_text(issue.get("key"), name="issue.key", max_length=ISSUE_KEY_MAX_LENGTH, required=True)
    fields = payload_object(issue.get("fields"), name="issue.fields")
    status = payload_object(fields.get("status"), name="issue.fields.status")
    category = payload_object(status.get("statusCategory"), name="issue.fields.status.statusCategory")
    category_key = payload_text(
        category.get("key"), name="issue.fields.status.statusCategory.key", max_length=64
    )
    resolved = payload_datetime(
        fields.get("resolutiondate"), name="issue.fields.resolutiondate", parse=parse_jira_datetime
    )
    priority = payload_object(fields.get("priority"), name="issue.fields.priority")
    # Cloud hides the email of people who chose so (profile visibility): then it is simply absent.
    assignee = payload_object(fields.get("assignee"), name="issue.fields.assignee")
    changed = jira_changelog_times(issue.get("changelog"))
    return RemoteItem(
        tracker=TRACKER_NAME,
        key=key,
        url=f"{server_url}/browse/{key}",
        done=category_key == "done",
        done_at=resolved,
        priority=payload_text(priority.get("name"), name="issue.fields.priority.name", max_length=255),
        priority_changed_at=changed.get("priority"),
        assignee_email=payload_text(
            assignee.get("emailAddress"), name="issue.fields.assignee.emailAddress", max_length=254
        ),
        assignee_changed_at=changed.get("assignee"),
        effort_estimate_hours=jira_hours(
            fields.get("timeoriginalestimate"), name="issue.fields.timeoriginalestimate"
        ),
        effort_actual_hours=jira_hours(fields.get("timespent"), name="issue.fields.timespent"),
    )


def jira_hours(value: Any, *, name: str) -> Decimal | None:
    """Seconds of Jira's time tracking as hours to the hundredth; None when unset, and when more
    than an action can hold (a hundred thousand hours is no estimate of an improvement)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise MalformedPayload(f"{name} must be a number of seconds.")
    hours = (Decimal(value) / 3600).quantize(Decimal("0.01"))
    return hours if hours < MAX_EFFORT_HOURS else None


def jira_changelog_times(raw: Any) -> dict[str, datetime]:
    """When each followed field last changed, from an issue's expanded `changelog.histories`."""
    changelog = payload_object(raw, name="issue.changelog")
    histories = changelog.get("histories") or []
    if not isinstance(histories, list):
        raise MalformedPayload("issue.changelog.histories must be a list.")
    latest: dict[str, datetime] = {}
    for history in histories:
        entry = payload_object(history, name="issue.changelog.histories[]")
        created = payload_datetime(
            entry.get("created"), name="issue.changelog.histories[].created", parse=parse_jira_datetime
        )
        if created is None:
            continue
        for name in jira_changed_fields(entry.get("items"), name="issue.changelog.histories[].items"):
            if name not in latest or created > latest[name]:
                latest[name] = created
    return latest


def jira_changed_fields(raw: Any, *, name: str) -> set[str]:
    """The followed fields named by a changelog's `items` (a history's, or a webhook's)."""
    if raw is None:
        return set()
    if not isinstance(raw, list):
        raise MalformedPayload(f"{name} must be a list.")
    fields = set()
    for item in raw:
        field = payload_text(
            payload_object(item, name=f"{name}[]").get("field"), name=f"{name}[].field", max_length=255
        )
        if field.lower() in FOLLOWED_FIELDS:
            fields.add(field.lower())
    return fields


def parse_jira_datetime(value: str) -> datetime | None:
    """Jira writes offsets without a colon ("2026-01-02T03:04:05.000+0000")."""
    if len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        value = f"{value[:-2]}:{value[-2:]}"
    return parse_datetime(value)


# --- I/O --------------------------------------------------------------------------------------

_clients: dict[tuple[str, str, str], JIRA] = {}
_clients_lock = threading.Lock()


@contextmanager
def jira_errors() -> Iterator[None]:
    """Translate the library's and requests' exceptions into the tracker error classes."""
    try:
        yield
    except JIRAError as error:
        message = jira_error_message(error)
        if is_transient_status(error.status_code):
            headers = error.response.headers if error.response is not None else {}
            raise TransientTrackerError(
                message, retry_after=parse_retry_after(headers.get("Retry-After"))
            ) from error
        raise PermanentTrackerError(message) from error
    except requests.RequestException as error:
        raise TransientTrackerError(f"Jira could not be reached: {error.__class__.__name__}") from error
    except ValueError as error:
        # A proxy's HTML error page where JSON was expected, or JSON not shaped as Jira documents it.
        raise TransientTrackerError(f"Jira sent an unreadable answer: {error}") from error


def jira_client() -> JIRA:
    """One client per process and configuration (it holds a connection pool and the deployment type).

    Building it calls GET /rest/api/2/serverInfo, which tells Cloud from Data Center:
    https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-server-info/#api-rest-api-2-serverinfo-get
    """
    url, user, token = settings.JIRA_URL, settings.JIRA_USER, settings.JIRA_API_TOKEN
    if not url:
        raise PermanentTrackerError("Jira is not configured: set JIRA_URL (and JIRA_USER, JIRA_API_TOKEN).")
    cache_key = (url, user, token)
    with _clients_lock:
        client = _clients.get(cache_key)
    if client is not None:
        return client
    auth: dict[str, Any] = {}
    if user:
        auth["basic_auth"] = (user, token)  # Cloud: account email + API token
    elif token:
        auth["token_auth"] = token  # Data Center: personal access token
    with jira_errors():
        client = JIRA(
            server=url,
            options={"rest_api_version": "2", "check_update": False},
            max_retries=0,
            timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
            logging=False,
            **auth,
        )
    with _clients_lock:
        # Only the current settings' client is kept: one built for a changed URL or credential
        # replaces the others, whose connections are closed.
        for stale in _clients.values():
            stale.close()
        _clients.clear()
        _clients[cache_key] = client
    return client


class JiraTracker:
    """Jira behind the `Tracker` interface, for one team's project settings."""

    name = TRACKER_NAME

    def __init__(
        self,
        *,
        project_key: str,
        issue_type: str,
        priority_map: dict[str, str],
        extra_fields: dict[str, Any],
        site_url: str,
    ) -> None:
        self.project_key = project_key
        self.issue_type = issue_type
        self.priority_map = priority_map
        self.extra_fields = extra_fields
        self.site_url = site_url

    @classmethod
    def for_team(cls, team: Team) -> JiraTracker:
        project_key = team.jira_project_key or settings.JIRA_PROJECT_KEY
        if not settings.JIRA_URL:
            raise PermanentTrackerError(
                "Jira is not configured: set JIRA_URL (and JIRA_USER, JIRA_API_TOKEN)."
            )
        if not project_key:
            raise PermanentTrackerError(
                f"No Jira project for team {team.name}: set its project key or JIRA_PROJECT_KEY."
            )
        return cls(
            project_key=project_key,
            issue_type=team.jira_issue_type or settings.JIRA_ISSUE_TYPE,
            priority_map=dict(team.jira_priority_map or {}),
            extra_fields=dict(team.jira_extra_fields or {}),
            site_url=settings.SITE_URL,
        )

    def _search(self, jql: str, *, max_results: int) -> list[RemoteItem]:
        client = jira_client()
        # Cloud: GET /rest/api/2/search/jql (nextPageToken paging)
        # https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issue-search/#api-rest-api-2-search-jql-get
        # Data Center: GET /rest/api/2/search (startAt paging)
        # https://developer.atlassian.com/server/jira/platform/rest/v10000/api-group-search/#api-api-2-search-get
        with jira_errors():
            issues = client.search_issues(
                jql, maxResults=max_results, fields=list(SEARCH_FIELDS), expand=EXPAND
            )
            return [remote_item_from_issue(issue.raw, server_url=client.server_url) for issue in issues]

    def find_by_label(self, action: ImprovementAction) -> RemoteItem | None:
        found = self._search(
            jira_label_jql(project_key=self.project_key, label=action.idempotency_label), max_results=2
        )
        return found[0] if found else None

    def _fields(self, action: ImprovementAction) -> dict[str, Any]:
        return jira_issue_fields(
            action,
            project_key=self.project_key,
            issue_type=self.issue_type,
            priority_map=self.priority_map,
            extra_fields=self.extra_fields,
            site_url=self.site_url,
        )

    def create(self, action: ImprovementAction) -> RemoteItem:
        client = jira_client()
        # POST /rest/api/2/issue
        # https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-post
        with jira_errors():
            issue = client.create_issue(fields=self._fields(action), prefetch=False)
        return RemoteItem(tracker=TRACKER_NAME, key=issue.key, url=f"{client.server_url}/browse/{issue.key}")

    def create_many(self, actions: Sequence[ImprovementAction]) -> list[RemoteItem | TrackerError]:
        """One bulk request per BULK_CREATE_MAX actions (a single action takes the plain create).

        Jira creates each issue of a bulk request or reports it failed on its own (by its
        `failedElementNumber`), so a failed issue is that action's permanent error and the others
        are created. A request that fails as a whole (down, 429, 5xx, a lost answer) gives each of
        its actions the transient error: their retries look their labels up, so whatever Jira
        created before the answer was lost is adopted, not created again.
        """
        created: list[RemoteItem | TrackerError] = []
        for start in range(0, len(actions), BULK_CREATE_MAX):
            chunk = actions[start : start + BULK_CREATE_MAX]
            outcomes = self._create_chunk(chunk)
            created.extend(outcomes)
            if any(isinstance(outcome, TransientTrackerError) for outcome in outcomes):
                break
        return created

    def _create_chunk(self, actions: Sequence[ImprovementAction]) -> list[RemoteItem | TrackerError]:
        if len(actions) == 1:
            return create_one_by_one(self, actions)
        client = jira_client()
        # POST /rest/api/2/issue/bulk: {"issueUpdates": [{"fields": ...}]} → {"issues": [...], "errors":
        # [{"elementErrors": ..., "failedElementNumber": n}]}; 201 if any issue was created, else 400.
        # https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-bulk-post
        try:
            with jira_errors():
                try:
                    answers = client.create_issues(
                        [self._fields(action) for action in actions], prefetch=False
                    )
                except (KeyError, IndexError, TypeError) as error:
                    # The library reads the answer's "issues" and "errors" without checking them.
                    raise ValueError(
                        f"a bulk create answer not shaped as Jira documents it ({error!r})"
                    ) from error
        except TrackerError as error:
            return [error] * len(actions)
        outcomes: list[RemoteItem | TrackerError] = []
        for answer in answers:
            if answer["issue"] is None:
                outcomes.append(PermanentTrackerError(jira_bulk_error_message(answer["error"])))
            else:
                key = answer["issue"].key
                outcomes.append(
                    RemoteItem(tracker=TRACKER_NAME, key=key, url=f"{client.server_url}/browse/{key}")
                )
        return outcomes

    def update(self, action: ImprovementAction, key: str) -> RemoteItem:
        client = jira_client()
        fields = jira_update_fields(action, priority_map=self.priority_map, site_url=self.site_url)
        with jira_errors():
            # GET /rest/api/2/issue/{key}, then PUT /rest/api/2/issue/{key}
            # https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-put
            issue = client.issue(key, fields=",".join(SEARCH_FIELDS), expand=EXPAND)
            issue.update(fields=fields)
            return remote_item_from_issue(issue.raw, server_url=client.server_url)

    def fetch_status(self, key: str) -> RemoteItem:
        client = jira_client()
        # GET /rest/api/2/issue/{key}
        # https://developer.atlassian.com/cloud/jira/platform/rest/v2/api-group-issues/#api-rest-api-2-issue-issueidorkey-get
        with jira_errors():
            issue = client.issue(key, fields=",".join(SEARCH_FIELDS), expand=EXPAND)
            return remote_item_from_issue(issue.raw, server_url=client.server_url)

    def recently_changed(self, team: Team) -> list[RemoteItem]:
        # maxResults=0 makes the library follow every page (nextPageToken on Cloud, startAt on DC).
        return self._search(jira_recent_jql(project_key=self.project_key), max_results=0)


def jira_webhook_issue(payload: Any, *, server_url: str) -> RemoteItem | None:
    """The issue's state from an issue webhook, or None for events about something else.

    https://developer.atlassian.com/cloud/jira/platform/webhooks/#example-callback-for-an-issue-related-event
    Without a resolution date, the event's own timestamp (milliseconds) dates the move to done.
    Raises MalformedPayload when a value the issue's state is read from has the wrong type or range.
    """
    body = payload_object(payload, name="the payload")
    stamped = payload_epoch_millis(body.get("timestamp"), name="timestamp")
    if body.get("issue") is None:
        return None
    item = remote_item_from_issue(body["issue"], server_url=server_url)
    if item.done and item.done_at is None and stamped is not None:
        item = replace(item, done_at=stamped)
    # The event's changelog names the fields this very change touched: they changed now.
    changelog = payload_object(body.get("changelog"), name="changelog")
    changed = jira_changed_fields(changelog.get("items"), name="changelog.items")
    when = stamped or timezone.now()
    if "priority" in changed:
        item = replace(item, priority_changed_at=when)
    if "assignee" in changed:
        item = replace(item, assignee_changed_at=when)
    return item


def jira_clients_reset() -> None:
    """Forget the cached clients (after the Jira settings changed, or between tests)."""
    with _clients_lock:
        _clients.clear()
