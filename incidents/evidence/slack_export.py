"""Importing a channel from a Slack export archive, for organisations that cannot grant API access.

https://slack.com/help/articles/220556107 — the archive (.zip) holds `users.json` (members with
`profile.email`, `real_name`), `channels.json` (`id`, `name`) and a folder per channel, named after
it, with one file per day (`YYYY-MM-DD.json`, a list of message objects, thread replies included).
Files are read one at a time, so memory follows the largest day, not the archive.
"""

from __future__ import annotations

import json
import re
import zipfile
from datetime import UTC, date, datetime
from typing import IO, Any

from django.core.exceptions import ValidationError

from incidents.evidence.slack import SlackPeople, SlackPerson, slack_messages_store, slack_time
from incidents.models import Incident, User
from incidents.services import audit_record

DAY_FILE = re.compile(r"^(?P<folder>[^/]+)/(?P<day>\d{4}-\d{2}-\d{2})\.json$")
# A day's file or users.json beyond this is refused: a small archive must not unpack into gigabytes.
MAX_MEMBER_BYTES = 256 * 1024 * 1024


def _read_json(archive: zipfile.ZipFile, name: str) -> Any:
    info = archive.getinfo(name)
    if info.file_size > MAX_MEMBER_BYTES:
        raise ValidationError({"archive": f"{name} is too large to import."})
    try:
        return json.loads(archive.read(info))
    except (ValueError, RecursionError) as error:
        raise ValidationError({"archive": f"{name} is not valid JSON."}) from error


def _people(archive: zipfile.ZipFile) -> SlackPeople:
    people = SlackPeople()
    users = _read_json(archive, "users.json") if "users.json" in archive.namelist() else []
    if not isinstance(users, list):
        raise ValidationError({"archive": "users.json must be a list of users."})
    for user in users:
        if not isinstance(user, dict) or not user.get("id"):
            continue
        profile_value = user.get("profile")
        profile: dict[str, Any] = profile_value if isinstance(profile_value, dict) else {}
        name = profile.get("real_name") or user.get("real_name") or user.get("name") or user["id"]
        people.people[str(user["id"])] = SlackPerson(name=str(name), email=str(profile.get("email") or ""))
    return people


def _channel(archive: zipfile.ZipFile, wanted: str) -> tuple[str, str]:
    """(id, folder name) of the channel given by id or name."""
    if "channels.json" not in archive.namelist():
        raise ValidationError({"archive": "The archive has no channels.json: is it a Slack export?"})
    channels = _read_json(archive, "channels.json")
    if not isinstance(channels, list):
        raise ValidationError({"archive": "channels.json must be a list of channels."})
    for channel in channels:
        if isinstance(channel, dict) and wanted.lstrip("#") in (channel.get("id"), channel.get("name")):
            return str(channel.get("id") or wanted), str(channel.get("name") or wanted)
    raise ValidationError({"channel": f"The export has no channel {wanted}."})


def slack_export_import(
    *,
    incident: Incident,
    by: User,
    archive: IO[bytes],
    channel: str,
    oldest: datetime | None = None,
    latest: datetime | None = None,
) -> tuple[int, int]:
    """Store the channel's messages within the window; return (messages read, messages new)."""
    try:
        opened = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as error:
        raise ValidationError({"archive": "The file is not a zip archive."}) from error
    with opened:
        people = _people(opened)
        channel_id, folder = _channel(opened, channel)
        first_day = oldest.astimezone(UTC).date() if oldest else date.min
        last_day = latest.astimezone(UTC).date() if latest else date.max
        days = sorted(
            name
            for name in opened.namelist()
            if (match := DAY_FILE.match(name))
            and match["folder"] == folder
            and first_day <= date.fromisoformat(match["day"]) <= last_day
        )
        seen = added = 0
        for name in days:
            messages = _read_json(opened, name)
            if not isinstance(messages, list):
                raise ValidationError({"archive": f"{name} must be a list of messages."})
            kept = [
                message
                for message in messages
                if isinstance(message, dict) and _within(message, oldest, latest)
            ]
            seen += len(kept)
            added += slack_messages_store(incident=incident, channel=channel_id, messages=kept, people=people)
    audit_record(
        actor=by,
        verb="evidence.slack_export_imported",
        target=incident,
        team=incident.team,
        changes={"channel": channel_id, "messages": seen, "added": added},
    )
    return seen, added


def _within(message: dict[str, Any], oldest: datetime | None, latest: datetime | None) -> bool:
    try:
        moment = slack_time(str(message.get("ts")))
    except (TypeError, ValueError, OverflowError, OSError):
        return False
    return (oldest is None or moment >= oldest) and (latest is None or moment <= latest)
