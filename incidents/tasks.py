"""Celery tasks for the notification outbox: thin adapters that claim a row, send, record."""

import logging

from celery import shared_task
from django.core.mail import EmailMessage
from django.utils import timezone

from incidents.calendar import calendar_attach
from incidents.models import Notification
from ybiyri.outbound import is_transient_mail_error
from ybiyri.outbox import Outbox, attempts_exhausted, retry_delay

logger = logging.getLogger(__name__)

NOTIFICATIONS = Outbox(
    model=Notification,
    task_path="incidents.tasks.notification_send_task",
    pending=Notification.State.PENDING,
    claimed=Notification.State.SENDING,
    failed=Notification.State.FAILED,
)


def notification_message(notification: Notification) -> EmailMessage:
    message = EmailMessage(subject=notification.subject, body=notification.body, to=[notification.to_email])
    if notification.ics:
        calendar_attach(message, ics=notification.ics, method=notification.ics_method or "REQUEST")
    return message


@shared_task(acks_late=True)
def notification_send_task(notification_id: int) -> str:
    """Send one outbox email exactly once: a duplicate delivery of this task finds the row claimed."""
    if not NOTIFICATIONS.claim([notification_id]):
        return "not due"
    notification = Notification.objects.get(pk=notification_id)
    try:
        notification_message(notification).send()
    except Exception as exc:
        if not is_transient_mail_error(exc):
            reason = str(exc)
        elif attempts_exhausted(notification.attempts):
            reason = f"Gave up after {notification.attempts} attempts: {exc}"
        else:
            NOTIFICATIONS.retry_later(
                [notification_id], delay=retry_delay(notification.attempts), error=str(exc)
            )
            return "will retry"
        NOTIFICATIONS.fail([notification_id], error=reason)
        logger.warning("notification %s failed: %s", notification_id, reason)
        return "failed"
    Notification.objects.filter(pk=notification_id, state=Notification.State.SENDING).update(
        state=Notification.State.SENT, sent_at=timezone.now(), last_error="", next_attempt_at=None
    )
    return "sent"


@shared_task
def notifications_reconcile_task() -> int:
    """Beat: re-enqueue outbox emails that never reached a worker (broker down) or whose worker died."""
    return NOTIFICATIONS.reconcile()


@shared_task
def analysis_reminders_task() -> int:
    """Beat: remind analysts before their session is due and tell product managers of overdue ones."""
    # The services module imports this one for its outbox; importing it here, at run time, keeps
    # the two from importing each other while they load.
    from incidents.services import analysis_reminders_queue

    return analysis_reminders_queue()
