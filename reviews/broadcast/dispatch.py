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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

import requests
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from incidents.models import User
from incidents.tasks import retry_delay
from reviews.broadcast.content import BroadcastContent, broadcast_content
from reviews.broadcast.email import EmailComposer, EmailRecipient, email_send_batch
from reviews.broadcast.errors import DeliveryError
from reviews.broadcast.selectors import confidential_audience
from reviews.broadcast.slack import post_to_slack
from reviews.broadcast.teams import post_to_teams
from reviews.broadcast.unsubscribe import member_unsubscribe_url
from reviews.broadcast.webhook import post_webhook
from reviews.models import Delivery, Narrative

logger = logging.getLogger(__name__)

EMAIL_BATCH_SIZE = 200
MAX_ATTEMPTS = 8
# A PENDING row never claimed after this long was most likely never enqueued (broker down at publish).
ENQUEUE_GRACE = timedelta(minutes=2)
RECONCILE_LIMIT = 20_000
INTERRUPTED = "Not attempted: the batch stopped before reaching this recipient."


def delivery_batches(rows: Iterable[tuple[int, str]]) -> list[list[int]]:
    """Group (id, channel) pairs into task-sized batches: emails share an SMTP connection in
    batches of EMAIL_BATCH_SIZE; each chat or webhook delivery is its own task, so one slow
    endpoint never holds up the others."""
    emails: list[int] = []
    batches: list[list[int]] = []
    for delivery_id, channel in rows:
        if channel == Delivery.Channel.EMAIL:
            emails.append(delivery_id)
        else:
            batches.append([delivery_id])
    batches += [emails[start : start + EMAIL_BATCH_SIZE] for start in range(0, len(emails), EMAIL_BATCH_SIZE)]
    return batches


def deliveries_claim(*, delivery_ids: Iterable[int], now: datetime) -> list[int]:
    """Move due PENDING rows to SENDING and return the ids this caller now owns.

    One conditional UPDATE ... RETURNING for the whole batch (PostgreSQL and SQLite both have it):
    the database decides each row's single winner, so a concurrent or duplicate claimer gets only
    the rows nobody else took. The ORM's update() returns a count, not the ids, and a conditional
    update per row costs as much as sending the mail.
    """
    ids = sorted(set(delivery_ids))
    if not ids:
        return []
    quote = connection.ops.quote_name
    when = connection.ops.adapt_datetimefield_value(now)
    # Only identifiers from the model's own metadata are interpolated; every value is a parameter.
    table = quote(Delivery._meta.db_table)
    sql = (
        f"UPDATE {table} SET state = %s, attempts = attempts + 1, claimed_at = %s "  # noqa: S608
        f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND state = %s "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Delivery.State.SENDING, when, *ids, Delivery.State.PENDING, when])
        return sorted(row[0] for row in cursor.fetchall())


@dataclass
class SendReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def deliveries_send(*, delivery_ids: list[int]) -> SendReport:
    """Claim, send and record a batch of deliveries; ids claimed elsewhere are silently skipped."""
    claimed = deliveries_claim(delivery_ids=delivery_ids, now=timezone.now())
    if not claimed:
        return SendReport()
    deliveries = list(
        Delivery.objects.filter(pk__in=claimed)
        .select_related("narrative__incident__team", "narrative__incident__service")
        .order_by("narrative_id", "pk")
    )
    outcomes: dict[int, DeliveryError | None] = {}
    try:
        for _, group in groupby(deliveries, key=lambda delivery: delivery.narrative_id):
            rows = list(group)
            outcomes.update(send_for_narrative(rows[0].narrative, rows))
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


def send_for_narrative(narrative: Narrative, deliveries: list[Delivery]) -> dict[int, DeliveryError | None]:
    """Send one narrative's claimed rows: emails as one batch, then each chat/webhook endpoint."""
    outcomes: dict[int, DeliveryError | None] = {}
    sendable = []
    for delivery in deliveries:
        reason = stale_reason(narrative, delivery)
        if reason:
            outcomes[delivery.pk] = DeliveryError(reason, transient=False)
        else:
            sendable.append(delivery)
    if not sendable:
        return outcomes
    content = broadcast_content(narrative)
    emails = [delivery for delivery in sendable if delivery.channel == Delivery.Channel.EMAIL]
    if emails:
        outcomes.update(send_emails(narrative, content, emails))
    others = [delivery for delivery in sendable if delivery.channel != Delivery.Channel.EMAIL]
    if others:
        with requests.Session() as session:
            for delivery in others:
                try:
                    send_http(session, content, delivery)
                except DeliveryError as error:
                    outcomes[delivery.pk] = error
                else:
                    outcomes[delivery.pk] = None
    return outcomes


def send_emails(
    narrative: Narrative, content: BroadcastContent, deliveries: list[Delivery]
) -> dict[int, DeliveryError | None]:
    """Check each recipient is still one (opt-outs, departures, confidentiality), then send the rest
    as one batch over one SMTP connection. Two queries at most, whatever the batch size."""
    outcomes: dict[int, DeliveryError | None] = {}
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
            unsubscribe_url = member_unsubscribe_url(user_id=members[address][0])
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
    outcomes.update(email_send_batch(messages))
    return outcomes


def send_http(session: requests.Session, content: BroadcastContent, delivery: Delivery) -> None:
    """Send one chat or webhook delivery to the endpoint configured now; raise DeliveryError."""
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
    else:
        raise DeliveryError(f"Unknown channel {delivery.channel!r}.", transient=False)


def deliveries_record(*, deliveries: list[Delivery], outcomes: dict[int, DeliveryError | None]) -> SendReport:
    """Write each claimed row's outcome: DELIVERED; PENDING again after a backoff (transient, attempts
    left); or FAILED with the server's reason. Rows without an outcome were never attempted."""
    now = timezone.now()
    report = SendReport()
    delivered = [delivery_id for delivery_id, error in outcomes.items() if error is None]
    with transaction.atomic():
        if delivered:
            report.delivered = Delivery.objects.filter(pk__in=delivered, state=Delivery.State.SENDING).update(
                state=Delivery.State.DELIVERED, delivered_at=now, last_error="", next_attempt_at=None
            )
        for delivery in deliveries:
            if delivery.pk in outcomes and outcomes[delivery.pk] is None:
                continue
            error = outcomes.get(delivery.pk) or DeliveryError(INTERRUPTED, transient=True)
            mine = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING)
            if error.transient and delivery.attempts < MAX_ATTEMPTS:
                delay = max(retry_delay(delivery.attempts), error.retry_after or 0)
                mine.update(
                    state=Delivery.State.PENDING,
                    next_attempt_at=now + timedelta(seconds=delay),
                    last_error=error.reason,
                )
                report.retrying += 1
            else:
                reason = (
                    error.reason
                    if not error.transient
                    else f"Gave up after {delivery.attempts} attempts: {error.reason}"
                )
                mine.update(state=Delivery.State.FAILED, next_attempt_at=None, last_error=reason[:2000])
                report.failed += 1
                logger.warning("Broadcast delivery %s failed: %s", delivery.pk, reason)
    return report


def deliveries_reconcile(*, now: datetime | None = None) -> list[list[int]]:
    """Make every unfinished row sendable again and return the batches to enqueue.

    - SENDING rows claimed longer ago than the task time limit belong to a worker that died: back to
      PENDING (or FAILED once out of attempts);
    - PENDING rows whose backoff has passed, or that were never claimed within ENQUEUE_GRACE (their
      task was lost with the broker), are due. A row that is merely queued behind others may be
      enqueued twice: the claim makes the second task a no-op.
    """
    now = now or timezone.now()
    stuck = Delivery.objects.filter(
        state=Delivery.State.SENDING,
        claimed_at__lt=now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60),
    )
    lost = "The worker stopped while sending."
    with transaction.atomic():
        stuck.filter(attempts__gte=MAX_ATTEMPTS).update(
            state=Delivery.State.FAILED, last_error=f"Gave up after {MAX_ATTEMPTS} attempts: {lost}"
        )
        stuck.update(state=Delivery.State.PENDING, next_attempt_at=now, last_error=lost)
    due = Delivery.objects.filter(state=Delivery.State.PENDING).filter(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True, created_at__lte=now - ENQUEUE_GRACE)
    )
    return delivery_batches(due.order_by("pk").values_list("pk", "channel")[:RECONCILE_LIMIT])
