"""Transcripts brought in: a Slack channel through the Web API (a Celery job), or an export upload.

The job is an outbox row (`ybiyri.outbox`): requested in the transaction that records it, enqueued
on commit, claimed by one worker, retried by the outbox's policy. It saves the channel's cursor
after every page it stores, so a retry — after a 429, a 5xx, a worker that died — resumes there;
a retry that follows progress starts its attempt count again, so a long channel under Slack's rate
limits is never given up for being long.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from incidents.evidence.models import SlackImport
from incidents.evidence.slack import slack_messages_store, slack_ts
from incidents.evidence.slack_api import (
    PermanentSlackError,
    TransientSlackError,
    channel_pages,
    slack_client,
    slack_people,
)
from incidents.models import Incident, User
from incidents.services import audit_record
from ybiyri.outbox import Outbox, attempts_exhausted, retry_delay

SLACK_IMPORTS = Outbox(
    model=SlackImport,
    task_path="incidents.evidence.tasks.slack_import_task",
    pending=SlackImport.State.PENDING,
    claimed=SlackImport.State.RUNNING,
    failed=SlackImport.State.FAILED,
)


@transaction.atomic
def slack_import_request(
    *,
    incident: Incident,
    by: User,
    channel: str,
    oldest: datetime | None = None,
    latest: datetime | None = None,
) -> SlackImport:
    """Record the import of `channel` into the incident's evidence; it runs once this commits."""
    job = SlackImport.objects.create(
        incident=incident, channel=channel, oldest=oldest, latest=latest, requested_by=by
    )
    audit_record(actor=by, verb="evidence.slack_import_requested", target=job, team=incident.team)
    SLACK_IMPORTS.send_on_commit([job.pk])
    return job


def slack_import_run(*, import_id: int) -> str:
    """Claim the job and import its channel from the saved cursor; the outcome as a word."""
    if not SLACK_IMPORTS.claim([import_id]):
        return "not due"
    job = SlackImport.objects.select_related("incident").get(pk=import_id)
    progressed = False
    try:
        client = slack_client()
        people = slack_people(client)
        pages = channel_pages(
            client,
            channel=job.channel,
            oldest=slack_ts(job.oldest),
            latest=slack_ts(job.latest),
            cursor=job.cursor,
        )
        for page in pages:
            with transaction.atomic():
                added = slack_messages_store(
                    incident=job.incident, channel=job.channel, messages=page.messages, people=people
                )
                SlackImport.objects.filter(pk=job.pk, state=SlackImport.State.RUNNING).update(
                    cursor=page.next_cursor,
                    messages_seen=F("messages_seen") + len(page.messages),
                    messages_added=F("messages_added") + added,
                )
            progressed = True
    except TransientSlackError as error:
        if progressed:
            SLACK_IMPORTS.retry_later(
                [job.pk], delay=retry_delay(1, error.retry_after), error=error.message, attempts=0
            )
            return "will resume"
        if attempts_exhausted(job.attempts):
            SLACK_IMPORTS.fail([job.pk], error=f"Gave up after {job.attempts} attempts: {error.message}")
            return "failed"
        SLACK_IMPORTS.retry_later(
            [job.pk], delay=retry_delay(job.attempts, error.retry_after), error=error.message
        )
        return "will retry"
    except PermanentSlackError as error:
        SLACK_IMPORTS.fail([job.pk], error=error.message)
        return "failed"
    SlackImport.objects.filter(pk=job.pk, state=SlackImport.State.RUNNING).update(
        state=SlackImport.State.DONE, finished_at=timezone.now(), last_error="", next_attempt_at=None
    )
    return "done"
