import time
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from incidents import services
from incidents.models import Notification
from incidents.tasks import notification_send_task, notifications_reconcile_task
from tests.factories import UserFactory


def queue(user, key="k1"):
    return services.notification_queue(
        key=key, recipient=user, subject="Hello", body="Body", ics="", ics_method=""
    )


@pytest.mark.django_db
def test_a_notification_is_sent_once_whatever_the_duplicate_deliveries(django_capture_on_commit_callbacks):
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        notification = queue(user)
    assert queue(user) is None
    notification_send_task.delay(notification.pk)
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT
    assert notification.attempts == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_reconciler_sends_what_the_broker_never_received():
    user = UserFactory()
    notification = Notification.objects.create(
        key="lost", recipient=user, to_email=user.email, subject="s", body="b"
    )
    Notification.objects.filter(pk=notification.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    stuck = Notification.objects.create(
        key="stuck", recipient=user, to_email=user.email, subject="s", body="b", state=Notification.State.SENDING,
        claimed_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip

    assert notifications_reconcile_task() == 2

    assert set(Notification.objects.values_list("state", flat=True)) == {Notification.State.SENT}
    assert len(mail.outbox) == 2
    assert Notification.objects.get(pk=stuck.pk).attempts == 1


@pytest.mark.django_db
def test_a_refused_address_fails_with_the_servers_reason(settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    user = UserFactory()
    notification = Notification.objects.create(
        key="refused", recipient=user, to_email=user.email, subject="s", body="b"
    )
    notification_send_task.delay(notification.pk)
    notification.refresh_from_db()
    # Connection refused is transient: retried (eagerly here) until the attempts run out, then failed.
    assert notification.state == Notification.State.FAILED
    assert notification.attempts == 8
    assert "refused" in notification.last_error.lower()


@pytest.mark.services
def test_a_real_worker_on_redis_sends_the_allocation_invite(celery_worker_on_redis, incident, pm):
    responder = incident.responders.get()
    services.analysis_allocate(
        incident=incident,
        by=pm,
        allocations=[
            services.Allocation(
                responder=responder, allocated_minutes=60, due_at=timezone.now() + timedelta(days=1)
            )
        ],
    )
    deadline = time.monotonic() + 20
    while (
        time.monotonic() < deadline
        and not Notification.objects.filter(state=Notification.State.SENT).exists()
    ):
        time.sleep(0.1)

    notification = Notification.objects.get()
    assert notification.state == Notification.State.SENT
    message = next(m for m in mail.outbox if m.to == [responder.user.email])
    event = Calendar.from_ical(message.attachments[0][1]).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == f"Incident analysis: {incident.title}"
