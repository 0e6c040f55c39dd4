import time
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from icalendar import Calendar

from incidents import services
from incidents.models import Notification
from incidents.tasks import NOTIFICATIONS, notification_send_task, notifications_reconcile_task
from tests.factories import UserFactory
from tests.ybiyri.retries import deliver_scheduled_retries


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
    # Connection refused is transient: retried at each backoff until the attempts run out, then failed.
    delays = deliver_scheduled_retries(NOTIFICATIONS)
    notification.refresh_from_db()
    assert notification.state == Notification.State.FAILED
    assert notification.attempts == settings.OUTBOX_MAX_ATTEMPTS == len(delays) + 1
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


@pytest.mark.django_db
def test_the_reconciler_leaves_a_notification_alone_until_its_backoff_has_passed(settings):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": 9, "timeout": 1},
        }
    }
    settings.OUTBOX_RETRY_BASE_SECONDS = settings.OUTBOX_RETRY_CAP_SECONDS = 600  # backoff 5–10 minutes
    user = UserFactory()
    notification = Notification.objects.create(
        key="later", recipient=user, to_email=user.email, subject="s", body="b"
    )
    notification_send_task.delay(notification.pk)  # refused: a transient failure
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (Notification.State.PENDING, 1)
    backoff = notification.next_attempt_at - notification.claimed_at
    assert backoff >= timedelta(minutes=5)

    for minutes in (2, 4):
        with time_machine.travel(notification.claimed_at + timedelta(minutes=minutes)):
            assert notifications_reconcile_task() == 0
    with time_machine.travel(notification.next_attempt_at - timedelta(seconds=1)):
        assert notifications_reconcile_task() == 0
    with time_machine.travel(notification.next_attempt_at + timedelta(minutes=1)):
        assert notifications_reconcile_task() == 1
    notification.refresh_from_db()
    assert notification.attempts == 2
