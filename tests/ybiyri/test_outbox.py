"""The outbox's one retry policy, and one Celery queue per kind of outbox row."""

import pytest

from incidents import services
from incidents.models import Team
from reviews.services.actions import action_raise
from tests.ybiyri.retries import in_memory_broker, published_messages
from ybiyri.outbox import retry_delay


@pytest.mark.parametrize(("attempt", "low", "high"), [(1, 5, 10), (2, 10, 20), (3, 20, 40), (8, 300, 600)])
def test_backoff_grows_exponentially_with_jitter_up_to_a_cap(attempt, low, high):
    delays = {retry_delay(attempt) for _ in range(50)}
    assert all(low <= delay <= high for delay in delays)
    assert len(delays) > 1


def test_retry_after_is_a_floor_for_the_backoff():
    assert retry_delay(1, retry_after=120) == 120
    assert retry_delay(8, retry_after=1) >= 300


def test_each_kind_of_outbox_row_is_sent_through_its_own_queue(
    team, incident, pm, django_capture_on_commit_callbacks
):
    team.tracker = Team.Tracker.JIRA
    team.save()
    with (
        in_memory_broker(),
        published_messages() as published,
        django_capture_on_commit_callbacks(execute=True),
    ):
        services.notification_queue(key="hello", recipient=pm, subject="Hello", body="Body")
        action_raise(
            incident=incident,
            review=None,
            by=pm,
            title="Add a circuit breaker",
            description="",
            kind="technical",
            owner=None,
            priority="medium",
            due_date=None,
        )

    assert {(message.task, message.queue) for message in published} == {
        ("incidents.tasks.notification_send_task", "notifications"),
        ("reviews.backlog.tasks.action_push_task", "backlog"),
    }


def test_a_claim_tells_rows_never_claimed_from_rows_claimed_before(
    team, incident, pm, django_capture_on_commit_callbacks
):
    from django.utils import timezone

    from reviews.models import ImprovementAction
    from reviews.services.actions import ACTION_PUSHES

    team.tracker = Team.Tracker.JIRA
    team.save()
    with django_capture_on_commit_callbacks(execute=False):
        fresh, retried, busy = (
            action_raise(
                incident=incident,
                review=None,
                by=pm,
                title=title,
                description="",
                kind="technical",
                owner=None,
                priority="medium",
                due_date=None,
            )
            for title in ("Fresh", "Retried", "Busy")
        )
    # `retried` was attempted once and waits for its retry, which is due now; `busy` is claimed.
    ImprovementAction.objects.filter(pk=retried.pk).update(claimed_at=timezone.now(), sync_attempts=1)
    ACTION_PUSHES.claim([busy.pk])

    first, again = ACTION_PUSHES.claim_telling_first([fresh.pk, retried.pk, busy.pk])

    assert (first, again) == ([fresh.pk], [retried.pk])
    assert ACTION_PUSHES.claim_telling_first([fresh.pk, retried.pk]) == ([], [])
    attempts = dict(ImprovementAction.objects.values_list("pk", "sync_attempts"))
    assert (attempts[fresh.pk], attempts[retried.pk], attempts[busy.pk]) == (1, 2, 1)
