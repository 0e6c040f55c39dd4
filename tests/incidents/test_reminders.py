"""The analysis time-box with teeth: reminders before the due time, notes when overdue, each once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.models import AnalysisSession, Notification
from incidents.services import analysis_reminders_queue
from incidents.tasks import analysis_reminders_task
from tests.factories import AnalysisSessionFactory, ResponderFactory, UserFactory

pytestmark = pytest.mark.django_db


def session(incident, user, *, due_in: timedelta, **fields) -> AnalysisSession:
    return AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=user),
        due_at=timezone.now() + due_in,
        **fields,
    )


def test_the_analyst_is_reminded_once_before_the_due_time(incident, pm, django_capture_on_commit_callbacks):
    analyst = UserFactory(username="ana")
    session(incident, analyst, due_in=timedelta(hours=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert analysis_reminders_queue() == 1
        assert analysis_reminders_queue() == 0
    assert [message.to for message in mail.outbox] == [["ana@example.org"]]
    assert "is due" in mail.outbox[0].subject
    assert Notification.objects.get().state == Notification.State.SENT


def test_product_managers_hear_once_of_an_overdue_session(
    incident, pm, team, django_capture_on_commit_callbacks
):
    second_manager = UserFactory(username="pm2")
    team.product_managers.add(second_manager)
    session(incident, UserFactory(username="late"), due_in=-timedelta(hours=2), time_spent_minutes=30)
    with django_capture_on_commit_callbacks(execute=True):
        assert analysis_reminders_task.delay().get() == 2
        assert analysis_reminders_task.delay().get() == 0
    assert sorted(message.to[0] for message in mail.outbox) == ["pm2@example.org", "pm@example.org"]
    assert all(message.subject.startswith("Analysis overdue") for message in mail.outbox)


def test_submitted_far_off_and_long_overdue_sessions_send_nothing(incident, pm):
    session(incident, UserFactory(), due_in=timedelta(hours=3), status=AnalysisSession.Status.SUBMITTED)
    session(incident, UserFactory(), due_in=timedelta(days=3))
    session(incident, UserFactory(), due_in=-timedelta(days=30))
    assert analysis_reminders_queue() == 0
    assert not Notification.objects.exists()


def test_a_new_due_time_is_reminded_again(incident, pm):
    analysis = session(incident, UserFactory(), due_in=timedelta(hours=5))
    assert analysis_reminders_queue() == 1
    AnalysisSession.objects.filter(pk=analysis.pk).update(due_at=timezone.now() + timedelta(hours=20))
    assert analysis_reminders_queue() == 1
    assert Notification.objects.count() == 2
