"""Slack messages as evidence: rows built from Slack's message objects, stored once per incident.

Shared by the Web API import (`slack_api`) and the export upload (`slack_export`), which read the
same message objects (https://api.slack.com/events/message): `ts` (its id within the channel),
`user`, `text` (links as `<url|label>`), `thread_ts`, `edited`, `files`, `subtype`.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import connection, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from incidents.evidence.models import Evidence, EvidenceSource
from incidents.evidence.services import safe_url, storable, storable_json
from incidents.models import Incident, User

LINK = re.compile(r"<(https?://[^|>\s]+)(?:\|([^>]*))?>")
SLACK_TS = re.compile(r"^\d{1,11}\.\d{1,6}$")
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
DELETED_SUBTYPES = ("tombstone", "message_deleted")
# Subtypes that are not said by anyone: joins, topic changes, bots' housekeeping.
SKIPPED_SUBTYPES = ("channel_join", "channel_leave", "channel_purpose", "channel_name", "channel_archive")
MAX_TEXT = 40_000
# Rows per INSERT: 17 parameters each stays far below SQLite's and PostgreSQL's limits.
INSERT_BATCH = 500


@dataclass(frozen=True)
class SlackPerson:
    name: str
    email: str


@dataclass
class SlackPeople:
    """Slack users met so far, and the members they match by email; filled as pages arrive.

    `lookup` asks Slack about a user not yet seen (users.info), or is None when the export's
    users.json gave them all up front.
    """

    lookup: Callable[[str], SlackPerson] | None = None
    people: dict[str, SlackPerson] = field(default_factory=dict)
    members: dict[str, int | None] = field(default_factory=dict)

    def person(self, user_id: str) -> SlackPerson:
        if user_id not in self.people:
            self.people[user_id] = (
                self.lookup(user_id) if self.lookup else SlackPerson(name=user_id, email="")
            )
        return self.people[user_id]

    def match_members(self, emails: Iterable[str]) -> None:
        """Resolve emails not seen yet to active members, in one query."""
        wanted = {email.casefold() for email in emails if email} - set(self.members)
        if not wanted:
            return
        found = dict(
            User.objects.annotate(address=Lower("email"))
            .filter(address__in=wanted, is_active=True)
            .values_list("address", "pk")
        )
        for email in wanted:
            self.members[email] = found.get(email)

    def member_id(self, email: str) -> int | None:
        return self.members.get(email.casefold()) if email else None


def slack_time(ts: str) -> datetime:
    """A Slack `ts` ("1700000000.000200") as an aware datetime."""
    return datetime.fromtimestamp(float(ts), tz=UTC)


def slack_ts(moment: datetime | None) -> str | None:
    return f"{moment.timestamp():.6f}" if moment else None


def message_links(message: dict[str, Any]) -> list[dict[str, str]]:
    """Files and links of a message, kept as links (never the files themselves)."""
    links = [
        {"url": url, "label": label or url}
        for url, label in LINK.findall(message.get("text") or "")
        if safe_url(url)
    ]
    for item in message.get("files") or []:
        url = safe_url(str(item.get("permalink") or item.get("url_private") or ""))
        if url:
            links.append({"url": url, "label": str(item.get("name") or item.get("title") or "file")})
    return links[:50]


def readable_text(text: str, people: SlackPeople) -> str:
    """Slack's markup made readable: mentions by name, links by their label."""
    text = MENTION.sub(lambda match: "@" + people.person(match.group(1)).name, text)
    return LINK.sub(lambda match: match.group(2) or match.group(1), text)[:MAX_TEXT]


def message_row(
    message: dict[str, Any], *, incident: Incident, channel: str, people: SlackPeople, now: datetime
) -> dict[str, Any] | None:
    """The evidence columns of one message, or None for a message nobody said (joins, topic changes)."""
    ts = str(message.get("ts") or "")
    subtype = message.get("subtype") or ""
    if not SLACK_TS.match(ts) or subtype in SKIPPED_SUBTYPES:
        return None
    user_id = str(message.get("user") or message.get("bot_id") or "")
    person = (
        people.person(user_id) if user_id else SlackPerson(name=str(message.get("username") or ""), email="")
    )
    edited_value = message.get("edited")
    edited: dict[str, Any] = edited_value if isinstance(edited_value, dict) else {}
    deleted = subtype in DELETED_SUBTYPES
    thread_ts = str(message.get("thread_ts") or "")
    return {
        "incident_id": incident.pk,
        "source": EvidenceSource.SLACK.value,
        "external_id": f"{channel}:{ts}",
        "kind": Evidence.Kind.MESSAGE.value,
        "occurred_at": slack_time(ts),
        "text": "" if deleted else storable(readable_text(str(message.get("text") or ""), people)),
        "author_id": people.member_id(person.email),
        "author_name": storable(person.name)[:200],
        "author_email": storable(person.email)[:254],
        "channel": channel,
        "thread_ts": thread_ts if SLACK_TS.match(thread_ts) and thread_ts != ts else "",
        "url": "",
        "links": message_links(message),
        "edited_at": slack_time(edited["ts"]) if SLACK_TS.match(str(edited.get("ts") or "")) else None,
        "deleted_at": now if deleted else None,
        "raw": message,
        "created_at": now,
    }


# One encoder for every row: json.dumps with any non-default option builds a new one per call.
JSON_ENCODER = json.JSONEncoder(ensure_ascii=False)


def _json_text(value: Any) -> str:
    return storable(JSON_ENCODER.encode(value).replace("\\u0000", ""))


def _insert(rows: list[dict[str, Any]]) -> set[str]:
    """Insert evidence rows, skipping those stored already; return the external ids inserted.

    Building model instances and letting bulk_create compile them costs more than the database's
    own work at 50,000 messages; the rows here are plain values, adapted as the fields would. On
    PostgreSQL they are streamed with COPY into a temporary table and moved over with one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING (COPY cannot skip conflicts itself): half the
    client's work of a multi-row INSERT, and far less parsing for the server.
    """
    if not rows:
        return set()
    columns = [Evidence._meta.get_field(name) for name in rows[0]]
    if connection.vendor == "postgresql":
        return _copy(rows, columns)
    return _insert_values(rows, columns)


COPY_TABLE = "evidence_import"


def _copy_text(value: str) -> str:
    """Text in COPY's text format: backslash, tab and line ends escaped (`\\N` is NULL)
    (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.2). Most values have
    none of them, and looking for them is far cheaper than rewriting every value."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _copy_json(value: Any) -> str:
    """JSON in COPY's text format: JSON text holds no raw tab or line end, only backslashes."""
    text = _json_text(value)
    return text.replace("\\", "\\\\") if "\\" in text else text


def _copy_converters(columns: list[Any]) -> list[Callable[[Any], str]]:
    """Per column, how a value is written for COPY (None is handled by the caller)."""
    converters: list[Callable[[Any], str]] = []
    for column in columns:
        if column.name in ("links", "raw"):
            converters.append(_copy_json)
        elif column.get_internal_type() == "DateTimeField":
            converters.append(datetime.isoformat)
        elif column.get_internal_type() in ("CharField", "TextField", "EmailField", "URLField"):
            converters.append(_copy_text)
        else:
            converters.append(str)
    return converters


def _copy(rows: list[dict[str, Any]], columns: list[Any]) -> set[str]:
    quote = connection.ops.quote_name
    names = ", ".join(quote(column.column) for column in columns)
    converters = _copy_converters(columns)
    lines = io.StringIO()
    for row in rows:
        lines.write(
            "\t".join(
                "\\N" if value is None else convert(value)
                for convert, value in zip(converters, row.values(), strict=True)
            )
        )
        lines.write("\n")
    lines.seek(0)
    # Only the model's own table and column names are interpolated; the values travel as COPY data.
    # The temporary table lives as long as the connection and is emptied at each commit: in a
    # transaction of its own (a savepoint in the caller's), it holds this batch only.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {COPY_TABLE} ON COMMIT DELETE ROWS AS "  # noqa: S608
            f"SELECT {names} FROM {quote(Evidence._meta.db_table)} WITH NO DATA"
        )
        cursor.cursor.copy_expert(f"COPY {COPY_TABLE} ({names}) FROM STDIN", lines)
        cursor.execute(
            f"INSERT INTO {quote(Evidence._meta.db_table)} ({names}) "  # noqa: S608
            f"SELECT {names} FROM {COPY_TABLE} ON CONFLICT DO NOTHING RETURNING external_id"
        )
        inserted = {external_id for (external_id,) in cursor.fetchall()}
        cursor.execute(f"DELETE FROM {COPY_TABLE}")  # noqa: S608
    return inserted


def _insert_values(rows: list[dict[str, Any]], columns: list[Any]) -> set[str]:
    """One multi-row INSERT ... ON CONFLICT DO NOTHING per batch (SQLite)."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(column.column) for column in columns)
    adapt_datetime = connection.ops.adapt_datetimefield_value
    adapters: list[Callable[[Any], Any]] = []
    for column in columns:
        if column.name in ("links", "raw"):
            adapters.append(_json_text)
        elif column.get_internal_type() == "DateTimeField":
            adapters.append(adapt_datetime)
        else:
            adapters.append(lambda value: value)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    inserted: set[str] = set()
    for start in range(0, len(rows), INSERT_BATCH):
        batch = rows[start : start + INSERT_BATCH]
        params = [
            None if value is None else adapt(value)
            for row in batch
            for adapt, value in zip(adapters, row.values(), strict=True)
        ]
        # Only the model's own column names are interpolated; every value is a parameter.
        sql = (
            f"INSERT INTO {quote(Evidence._meta.db_table)} ({names}) VALUES "  # noqa: S608
            f"{', '.join([placeholders] * len(batch))} ON CONFLICT DO NOTHING RETURNING external_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            inserted.update(external_id for (external_id,) in cursor.fetchall())
    return inserted


@transaction.atomic
def slack_messages_store(
    *, incident: Incident, channel: str, messages: list[dict[str, Any]], people: SlackPeople
) -> int:
    """Store a page of messages once per incident; return how many were new.

    A message stored before is left alone unless Slack reports an edit or deletion since, which
    is recorded on it (the text as it now reads, the time of the edit). The page is inserted first
    and only the messages that were there already are read back: a first import reads nothing.
    """
    for message in messages:
        if message.get("user"):
            people.person(str(message["user"]))
    people.match_members(person.email for person in people.people.values())
    now = timezone.now()
    rows = {}
    for message in messages:
        row = message_row(message, incident=incident, channel=channel, people=people, now=now)
        if row is not None:
            rows[row["external_id"]] = row
    if not rows:
        return 0
    inserted = _insert(list(rows.values()))
    known = [key for key in rows if key not in inserted]
    stored = (
        {
            item.external_id: item
            for item in Evidence.objects.filter(
                incident=incident, source=EvidenceSource.SLACK, external_id__in=known
            ).only("id", "external_id", "edited_at", "deleted_at")
        }
        if known
        else {}
    )
    for key, item in stored.items():
        row = rows[key]
        edited = row["edited_at"] and (item.edited_at is None or row["edited_at"] > item.edited_at)
        deleted = row["deleted_at"] and item.deleted_at is None
        if edited or deleted:
            Evidence.objects.filter(pk=item.pk).update(
                text=row["text"],
                edited_at=row["edited_at"],
                deleted_at=row["deleted_at"],
                raw=storable_json(row["raw"]),
            )
    return len(inserted)
