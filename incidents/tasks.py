"""Celery tasks for the notification outbox: thin adapters that claim a row, send, record."""

import logging
import random
import smtplib
import socket
from datetime import timedelta

from celery import shared_task
from django.core.mail import EmailMessage
from django.db.models import F, Q
from django.utils import timezone

from incidents.calendar import calendar_attach
from incidents.models import Notification
from ybiyri.celery import vet_database_connection

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STUCK_AFTER = timedelta(minutes=10)
PENDING_GRACE = timedelta(minutes=1)


def retry_delay(attempts: int) -> float:
    """Exponential backoff with full jitter, capped at ten minutes."""
    return random.uniform(0, min(600, 5 * 2**attempts))  # noqa: S311 — jitter, not security


def is_transient_mail_error(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPResponseException):
        return 400 <= exc.smtp_code < 500
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(400 <= code < 500 for code, _ in exc.recipients.values())
    return isinstance(
        exc, (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, socket.error, TimeoutError)
    )


def notification_message(notification: Notification) -> EmailMessage:
    message = EmailMessage(subject=notification.subject, body=notification.body, to=[notification.to_email])
    if notification.ics:
        calendar_attach(message, ics=notification.ics, method=notification.ics_method or "REQUEST")
    return message


@shared_task(bind=True, max_retries=MAX_ATTEMPTS, acks_late=True)
def notification_send_task(self, notification_id: int) -> str:
    """Send one outbox email exactly once: a duplicate delivery of this task finds the row claimed."""
    vet_database_connection(self)
    claimed = Notification.objects.filter(pk=notification_id, state=Notification.State.PENDING).update(
        state=Notification.State.SENDING, attempts=F("attempts") + 1, claimed_at=timezone.now()
    )
    if not claimed:
        return "not pending"
    notification = Notification.objects.get(pk=notification_id)
    try:
        notification_message(notification).send()
    except Exception as exc:
        transient = is_transient_mail_error(exc)
        exhausted = notification.attempts >= MAX_ATTEMPTS
        state = Notification.State.PENDING if transient and not exhausted else Notification.State.FAILED
        Notification.objects.filter(pk=notification_id).update(state=state, last_error=str(exc)[:2000])
        if state == Notification.State.FAILED:
            logger.warning("notification %s failed: %s", notification_id, exc)
            return "failed"
        raise self.retry(exc=exc, countdown=retry_delay(notification.attempts)) from exc
    Notification.objects.filter(pk=notification_id).update(
        state=Notification.State.SENT, sent_at=timezone.now(), last_error=""
    )
    return "sent"


@shared_task
def notifications_reconcile_task() -> int:
    """Re-enqueue outbox emails that never reached a worker (broker down) or whose worker died."""
    now = timezone.now()
    Notification.objects.filter(state=Notification.State.SENDING, claimed_at__lt=now - STUCK_AFTER).update(
        state=Notification.State.PENDING
    )
    pending = Notification.objects.filter(state=Notification.State.PENDING).filter(
        Q(claimed_at__isnull=True, created_at__lt=now - PENDING_GRACE) | Q(claimed_at__lt=now - PENDING_GRACE)
    )
    ids = list(pending.values_list("pk", flat=True)[:1000])
    for notification_id in ids:
        notification_send_task.delay(notification_id)
    return len(ids)
