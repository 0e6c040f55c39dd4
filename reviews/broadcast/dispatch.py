"""Claim delivery rows, send them on their channel, record what happened; and find rows to resend.

The rules that make "exactly one message per recipient per publication" hold:
- a row is sent only by whoever moved it from PENDING to SENDING (a conditional UPDATE per row, so
  a duplicate task delivery or an overlapping reconciler finds nothing to claim);
- outcomes are recorded even when the task is interrupted mid-batch, so only a hard crash between
  the server's acceptance and the UPDATE can resend; the Message-ID and X-Ybiyri-Delivery headers
  stay the same on every attempt so receivers can drop such a duplicate;
- a row of an older publication, of a narrative no longer published, or that a confidential
  incident no longer allows, is failed instead of sent.
"""

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from itertools import groupby
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from incidents.models import User
from reviews.broadcast.confluence import confluence_configured, publish_to_confluence
from reviews.broadcast.content import BroadcastContent, broadcast_content
from reviews.broadcast.email import EmailComposer, EmailRecipient, email_send_batch
from reviews.broadcast.errors import DeliveryError
from reviews.broadcast.selectors import confidential_audience
from reviews.broadcast.slack import post_to_slack
from reviews.broadcast.teams import post_to_teams
from reviews.broadcast.unsubscribe import member_unsubscribe_urls
from reviews.broadcast.webhook import post_webhook
from reviews.models import Delivery, Narrative
from ybiyri.outbox import Outbox, attempts_exhausted, retry_delay

logger = logging.getLogger(__name__)

# Emails per task: what a batch costs besides its messages (the task, its queries, composing,
# opening its connections) is spread over this many, and the mail server is kept busy by one
# worker, not left waiting between batches; a thousand messages take seconds, well within the
# task's time limit.
EMAIL_BATCH_SIZE = 1000
INTERRUPTED = "Not attempted: the batch stopped before reaching this recipient."
# What sending and recording a delivery reads of its row.
SENT_FIELDS = ("narrative", "publication", "channel", "recipient", "uuid", "attempts")


def delivery_batches(rows: Iterable[tuple[int, str]]) -> list[list[int]]:
    """Group (id, channel) pairs into task-sized batches: emails in batches of EMAIL_BATCH_SIZE,
    each sent over a few SMTP connections (email_send_batch); each chat or webhook delivery is its
    own task, so one slow endpoint never holds up the others."""
    emails: list[int] = []
    batches: list[list[int]] = []
    for delivery_id, channel in rows:
        if channel == Delivery.Channel.EMAIL:
            emails.append(delivery_id)
        else:
            batches.append([delivery_id])
    batches += [emails[start : start + EMAIL_BATCH_SIZE] for start in range(0, len(emails), EMAIL_BATCH_SIZE)]
    return batches


def delivery_task_arguments(delivery_ids: list[int]) -> list[tuple[Any, ...]]:
    """The send task's arguments for these rows: one batch of ids per message."""
    rows = Delivery.objects.filter(pk__in=delivery_ids).order_by("pk").values_list("pk", "channel")
    return [(batch,) for batch in delivery_batches(rows)]


DELIVERIES = Outbox(
    model=Delivery,
    task_path="reviews.broadcast.tasks.deliveries_send_task",
    pending=Delivery.State.PENDING,
    claimed=Delivery.State.SENDING,
    failed=Delivery.State.FAILED,
    batch=delivery_task_arguments,
)


@dataclass
class SendReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def deliveries_send(*, delivery_ids: list[int]) -> SendReport:
    """Claim, send and record a batch of deliveries; ids claimed elsewhere are silently skipped."""
    claimed = DELIVERIES.claim(delivery_ids)
    if not claimed:
        return SendReport()
    # The rows without their narrative, which is loaded once below: joined to every row, each
    # narrative and its incident would be fetched and built again for every recipient.
    deliveries = list(
        Delivery.objects.filter(pk__in=claimed).only(*SENT_FIELDS).order_by("narrative_id", "pk")
    )
    narratives = Narrative.objects.select_related("incident__team", "incident__service").in_bulk(
        {delivery.narrative_id for delivery in deliveries}
    )
    outcomes: dict[int, DeliveryError | None] = {}
    try:
        for narrative_id, group in groupby(deliveries, key=lambda delivery: delivery.narrative_id):
            send_for_narrative(narratives[narrative_id], list(group), outcomes)
    finally:
        # Also when interrupted (soft time limit, lost database): what was sent stays sent.
        report = deliveries_record(deliveries=deliveries, outcomes=outcomes)
    return report


def stale_reason(narrative: Narrative, delivery: Delivery) -> str:
    """Why this row must not be sent any more, or ""."""
    if not narrative.is_published:
        return "The narrative is no longer published."
    if delivery.publication != narrative.publication:
        return f"Superseded by publication {narrative.publication} of the narrative."
    if narrative.incident.confidential and delivery.channel != Delivery.Channel.EMAIL:
        return "The incident is confidential: it is not broadcast organisation-wide."
    return ""


def send_for_narrative(
    narrative: Narrative, deliveries: list[Delivery], outcomes: dict[int, DeliveryError | None]
) -> None:
    """Send one narrative's claimed rows: emails as one batch, then each chat/webhook endpoint;
    record each row's outcome in `outcomes` as it comes."""
    sendable = []
    for delivery in deliveries:
        reason = stale_reason(narrative, delivery)
        if reason:
            outcomes[delivery.pk] = DeliveryError(reason, transient=False)
        else:
            sendable.append(delivery)
    if not sendable:
        return
    content = broadcast_content(narrative)
    emails = [delivery for delivery in sendable if delivery.channel == Delivery.Channel.EMAIL]
    if emails:
        send_emails(narrative, content, emails, outcomes)
    others = [delivery for delivery in sendable if delivery.channel != Delivery.Channel.EMAIL]
    if others:
        with requests.Session() as session:
            for delivery in others:
                try:
                    send_http(session, narrative, content, delivery)
                except DeliveryError as error:
                    outcomes[delivery.pk] = error
                else:
                    outcomes[delivery.pk] = None


def send_emails(
    narrative: Narrative,
    content: BroadcastContent,
    deliveries: list[Delivery],
    outcomes: dict[int, DeliveryError | None],
) -> None:
    """Check each recipient is still one (opt-outs, departures, confidentiality), then send the rest
    as one batch (`email_send_batch`), recording outcomes in `outcomes`. Two queries at most,
    whatever the batch size."""
    confidential = narrative.incident.confidential
    list_addresses = set() if confidential else {address.lower() for address in settings.BROADCAST_EMAIL_TO}
    members: dict[str, tuple[int, bool]] = {}
    member_rows = User.objects.filter(
        email__in=[delivery.recipient for delivery in deliveries], is_active=True
    )
    for user_id, address, opted_out in member_rows.values_list("pk", "email", "broadcast_opt_out"):
        previous = members.get(address.lower())
        # Two accounts may share an address: one opt-out is enough to stop the mail.
        members[address.lower()] = (user_id, opted_out or bool(previous and previous[1]))
    allowed = None
    if confidential:
        allowed = {
            address.lower()
            for address in confidential_audience(incident=narrative.incident).values_list("email", flat=True)
        }
    composer = EmailComposer(content)
    unsubscribe_urls = member_unsubscribe_urls(user_id for user_id, _ in members.values())
    messages = []
    for delivery in deliveries:
        address = delivery.recipient.lower()
        unsubscribe_url = None
        if address in list_addresses:
            pass
        elif address in members and members[address][1]:
            outcomes[delivery.pk] = DeliveryError("The member opted out of broadcast email.", transient=False)
            continue
        elif address in members and (allowed is None or address in allowed):
            unsubscribe_url = unsubscribe_urls[members[address][0]]
        else:
            outcomes[delivery.pk] = DeliveryError(
                "No longer a recipient: not a list address, an active member or allowed to see the incident.",
                transient=False,
            )
            continue
        recipient = EmailRecipient(
            delivery_uuid=delivery.uuid,
            address=delivery.recipient,
            unsubscribe_url=unsubscribe_url,
        )
        try:
            messages.append((delivery.pk, composer.message(recipient)))
        except ValueError as exc:
            outcomes[delivery.pk] = DeliveryError(str(exc), transient=False)
    email_send_batch(messages, outcomes)


def send_http(
    session: requests.Session, narrative: Narrative, content: BroadcastContent, delivery: Delivery
) -> None:
    """Send one chat, webhook or Confluence delivery to the endpoint configured now; raise DeliveryError."""
    if delivery.channel == Delivery.Channel.SLACK:
        if not settings.SLACK_WEBHOOK_URL:
            raise DeliveryError("SLACK_WEBHOOK_URL is no longer configured.", transient=False)
        post_to_slack(session, settings.SLACK_WEBHOOK_URL, content)
    elif delivery.channel == Delivery.Channel.TEAMS:
        if not settings.TEAMS_WEBHOOK_URL:
            raise DeliveryError("TEAMS_WEBHOOK_URL is no longer configured.", transient=False)
        post_to_teams(session, settings.TEAMS_WEBHOOK_URL, content)
    elif delivery.channel == Delivery.Channel.WEBHOOK:
        if delivery.recipient not in settings.BROADCAST_WEBHOOK_URLS:
            raise DeliveryError("This URL is no longer in BROADCAST_WEBHOOK_URLS.", transient=False)
        post_webhook(
            session,
            delivery.recipient,
            content,
            secret=settings.BROADCAST_WEBHOOK_SECRET,
            delivery_uuid=delivery.uuid,
        )
    elif delivery.channel == Delivery.Channel.CONFLUENCE:
        if not confluence_configured():
            raise DeliveryError(
                "Confluence is no longer configured: set CONFLUENCE_URL and CONFLUENCE_SPACE_KEY.",
                transient=False,
            )
        publish_to_confluence(content, incident_id=narrative.incident_id)
    else:
        raise DeliveryError(f"Unknown channel {delivery.channel!r}.", transient=False)


def deliveries_record(*, deliveries: list[Delivery], outcomes: dict[int, DeliveryError | None]) -> SendReport:
    """Write each claimed row's outcome: DELIVERED; PENDING again after a backoff (transient, attempts
    left) with its send scheduled then; or FAILED with the server's reason. Rows without an outcome
    were never attempted. Rows sharing an outcome are written together: one UPDATE for the delivered
    ones, and one (two to retry) per distinct reason, whatever the size of the batch."""
    now = timezone.now()
    report = SendReport()
    delivered = {delivery_id for delivery_id, error in outcomes.items() if error is None}
    errors = {
        delivery.pk: outcomes.get(delivery.pk) or DeliveryError(INTERRUPTED, transient=True)
        for delivery in deliveries
        if delivery.pk not in delivered
    }
    again = [
        delivery
        for delivery in deliveries
        if delivery.pk in errors
        and errors[delivery.pk].transient
        and not attempts_exhausted(delivery.attempts)
    ]
    # One due time for the batch's retries, so that they stay one batch (one SMTP connection).
    delay = retry_delay(
        max((delivery.attempts for delivery in again), default=1),
        max((errors[delivery.pk].retry_after or 0 for delivery in again), default=0),
    )
    due = now + timedelta(seconds=delay)
    with transaction.atomic():
        if delivered:
            report.delivered = Delivery.objects.filter(pk__in=delivered, state=Delivery.State.SENDING).update(
                state=Delivery.State.DELIVERED, delivered_at=now, last_error="", next_attempt_at=None
            )
        released = []
        for reason, ids in by_reason((delivery.pk, errors[delivery.pk].reason) for delivery in again).items():
            released += DELIVERIES.release(ids, due=due, error=reason)
        report.retrying = len(released)
        DELIVERIES.send_on_commit(released, eta=due)
        retrying = {delivery.pk for delivery in again}
        failures = []
        for delivery in deliveries:
            if delivery.pk not in errors or delivery.pk in retrying:
                continue
            error = errors[delivery.pk]
            reason = (
                error.reason
                if not error.transient
                else f"Gave up after {delivery.attempts} attempts: {error.reason}"
            )
            failures.append((delivery.pk, reason))
            logger.warning("Broadcast delivery %s failed: %s", delivery.pk, reason)
        for reason, ids in by_reason(failures).items():
            report.failed += DELIVERIES.fail(ids, error=reason)
    return report


def by_reason(outcomes: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """The ids of (id, reason) pairs grouped by reason, to write each reason once."""
    grouped: dict[str, list[int]] = defaultdict(list)
    for delivery_id, reason in outcomes:
        grouped[reason].append(delivery_id)
    return grouped
