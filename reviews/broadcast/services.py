"""Writes for the broadcast: the outbox rows of a publication, retries, and member opt-out."""

from django.db import transaction
from django.utils import timezone

from incidents.models import User
from incidents.services import audit_record
from reviews.broadcast.dispatch import DELIVERIES
from reviews.broadcast.selectors import broadcast_recipients
from reviews.models import Delivery, Narrative


def broadcast_publication(*, narrative: Narrative) -> list[Delivery]:
    """Write one PENDING Delivery per channel and recipient for (narrative, narrative.publication)
    and send them once the caller's transaction commits.

    The caller (narrative_publish) holds the transaction and has already set the narrative
    PUBLISHED and incremented `publication`. Calling it again for the same publication returns the
    rows already written and sends nothing twice. Costs a handful of queries for any number of
    members (bulk insert).
    """
    if not narrative.is_published or narrative.publication < 1:
        raise ValueError("Only a published narrative with a publication number can be broadcast.")
    existing = list(Delivery.objects.filter(narrative=narrative, publication=narrative.publication))
    if existing:
        return existing
    rows = [
        Delivery(narrative=narrative, publication=narrative.publication, channel=channel, recipient=recipient)
        for channel, recipient in broadcast_recipients(incident=narrative.incident)
    ]
    deliveries = Delivery.objects.bulk_create(rows, batch_size=1000)
    DELIVERIES.send_on_commit(delivery.pk for delivery in deliveries)
    return deliveries


def delivery_retry(*, delivery: Delivery, by: User) -> Delivery:
    """Send a FAILED delivery again, with a fresh set of attempts (e.g. after fixing a webhook).

    Anything but a FAILED row is returned unchanged: retrying cannot duplicate a message.
    """
    with transaction.atomic():
        now = timezone.now()
        retried = Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.FAILED).update(
            state=Delivery.State.PENDING, attempts=0, next_attempt_at=now
        )
        if retried:
            audit_record(
                actor=by,
                verb="broadcast.retry",
                target=delivery.narrative,
                changes={"delivery": delivery.pk, "channel": delivery.channel},
            )
            DELIVERIES.send_on_commit([delivery.pk], eta=now)
    delivery.refresh_from_db()
    return delivery


def deliveries_retry_failed(*, narrative: Narrative, by: User) -> int:
    """Retry every FAILED delivery of the narrative's latest publication; return how many."""
    with transaction.atomic():
        failed = list(
            Delivery.objects.filter(
                narrative=narrative, publication=narrative.publication, state=Delivery.State.FAILED
            ).values_list("pk", "channel")
        )
        if not failed:
            return 0
        now = timezone.now()
        Delivery.objects.filter(pk__in=[pk for pk, _ in failed], state=Delivery.State.FAILED).update(
            state=Delivery.State.PENDING, attempts=0, next_attempt_at=now
        )
        audit_record(
            actor=by,
            verb="broadcast.retry",
            target=narrative,
            team=narrative.incident.team,
            changes={"deliveries": len(failed), "publication": narrative.publication},
        )
        DELIVERIES.send_on_commit([pk for pk, _ in failed], eta=now)
    return len(failed)


def member_unsubscribe(*, user: User) -> User:
    """Stop broadcast email to this member (the one-click List-Unsubscribe link). Idempotent."""
    if not user.broadcast_opt_out:
        with transaction.atomic():
            User.objects.filter(pk=user.pk).update(broadcast_opt_out=True)
            user.broadcast_opt_out = True
            audit_record(
                actor=user, verb="broadcast.unsubscribe", target=user, changes={"broadcast_opt_out": True}
            )
    return user
