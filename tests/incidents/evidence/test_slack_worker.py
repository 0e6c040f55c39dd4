"""The Slack import end to end: requested on a page, run by a real Celery worker consuming Redis,
against the Slack emulator over HTTP — rate limited part-way, it resumes where it stopped."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.evidence.imports import slack_import_request
from incidents.evidence.models import SlackImport

pytestmark = pytest.mark.services
CHANNEL = "C0WORKER"
BASE = 1_764_000_000


def wait_until_finished(job: SlackImport, *, seconds: float = 60) -> SlackImport:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.is_finished:
            return job
        time.sleep(0.1)
    raise AssertionError(f"the import is still {job.state} after {seconds} s: {job.last_error}")


def test_a_worker_on_redis_imports_a_channel_and_resumes_after_a_rate_limit(
    celery_worker_on_redis, slack, incident, pm, on_call, settings, monkeypatch
):
    settings.OUTBOX_RETRY_BASE_SECONDS = settings.OUTBOX_RETRY_CAP_SECONDS = 1
    monkeypatch.setattr("incidents.evidence.slack_api.PAGE_SIZE", 2)
    slack.add_user("U1", name="Omar Call", email="omar.call@example.org")
    for index in range(7):
        slack.add_message(CHANNEL, f"{BASE + index * 60}.000100", user="U1", text=f"line {index}")
    slack.add_reply(CHANNEL, f"{BASE}.000100", f"{BASE + 30}.000100", user="U1", text="in the thread")
    history_calls = []

    def rate_limit_the_second_page(method: str, path: str) -> None:
        if path.endswith("conversations.history"):
            history_calls.append(path)
            if len(history_calls) == 2:
                slack.fail_next(
                    status=429,
                    body={"ok": False, "error": "ratelimited"},
                    headers={"Retry-After": "1"},
                    path=r"conversations\.history",
                )

    slack.on_request = rate_limit_the_second_page
    requested_at = timezone.now()

    job = wait_until_finished(slack_import_request(incident=incident, by=pm, channel=CHANNEL))

    assert job.state == SlackImport.State.DONE, job.last_error
    assert (job.messages_seen, job.messages_added) == (8, 8)
    texts = sorted(incident.evidence.values_list("text", flat=True))
    assert texts == sorted([*(f"line {index}" for index in range(7)), "in the thread"])
    assert set(incident.evidence.values_list("author", flat=True)) == {on_call.pk}
    # Four pages of two, the second refused once and asked again after Retry-After.
    assert len(history_calls) == 5
    assert job.finished_at - requested_at >= timedelta(seconds=1)


def test_a_revoked_token_fails_the_job_in_the_worker_with_slacks_reason(
    celery_worker_on_redis, slack, incident, pm
):
    slack.add_user("U1", name="Omar Call", email="omar.call@example.org")
    slack.add_message(CHANNEL, f"{BASE}.000100", user="U1", text="line")
    slack.revoke()

    job = wait_until_finished(slack_import_request(incident=incident, by=pm, channel=CHANNEL))

    assert job.state == SlackImport.State.FAILED
    assert "token_revoked" in job.last_error
    assert not incident.evidence.exists()
