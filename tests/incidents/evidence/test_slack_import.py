"""Importing a Slack channel with the official SDK against the local Slack emulator over HTTP."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from incidents.evidence.imports import slack_import_request, slack_import_run
from incidents.evidence.models import Evidence, SlackImport
from incidents.evidence.services import evidence_purge
from incidents.models import KeyEvent
from tests.factories import AnalysisSessionFactory

pytestmark = pytest.mark.django_db
CHANNEL = "C0INCIDENT"
BASE = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()


def ts(seconds: float) -> str:
    return f"{BASE + seconds:.6f}"


@pytest.fixture
def channel(slack, on_call):
    slack.add_user("U1", name="Omar Call", email="omar.call@example.org")
    slack.add_user("U2", name="Somebody Else", email="someone@elsewhere.example")
    slack.add_message(
        CHANNEL,
        ts(0),
        user="U1",
        text="checkout is throwing 502s <https://grafana.example.org/d/1|dashboard>",
    )
    slack.add_message(CHANNEL, ts(60), user="U2", text="rolling back deploy 4711")
    slack.add_reply(CHANNEL, ts(60), ts(90), user="U1", text="<@U2> rollback done")
    slack.add_message(
        CHANNEL, ts(120), user="U1", text="error rate back to normal", edited={"user": "U1", "ts": ts(130)}
    )
    return slack


def run_import(incident, user, **window):
    """Request the import and let it run as it does once the request commits (eager Celery)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        job = slack_import_request(incident=incident, by=user, channel=CHANNEL, **window)
    job.refresh_from_db()
    return job


def test_a_channel_is_imported_with_threads_authors_matched_by_email_and_links_kept(
    channel, incident, pm, on_call
):
    job = run_import(incident, pm)

    assert job.state == SlackImport.State.DONE, job.last_error
    assert (job.messages_seen, job.messages_added) == (4, 4)
    messages = list(incident.evidence.order_by("occurred_at"))
    assert [m.text for m in messages] == [
        "checkout is throwing 502s dashboard",
        "rolling back deploy 4711",
        "@Somebody Else rollback done",
        "error rate back to normal",
    ]
    assert messages[0].author == on_call
    assert messages[1].author is None and messages[1].author_name == "Somebody Else"
    assert messages[2].thread_ts == ts(60)
    assert messages[0].links == [{"url": "https://grafana.example.org/d/1", "label": "dashboard"}]
    assert messages[3].edited_at is not None


def test_pages_are_followed_by_cursor(channel, incident, pm, monkeypatch):
    monkeypatch.setattr("incidents.evidence.slack_api.PAGE_SIZE", 1)

    job = run_import(incident, pm)

    assert job.state == SlackImport.State.DONE
    assert incident.evidence.count() == 4
    assert len(channel.requests_to("POST", r"conversations\.history")) == 3


def test_reimporting_adds_only_what_is_new_and_records_edits(channel, incident, pm):
    run_import(incident, pm)
    channel.add_message(CHANNEL, ts(300), user="U2", text="postmortem doc coming")
    edited = next(m for m in channel.channels[CHANNEL] if m["ts"] == ts(60))
    edited.update(text="rolling back deploy 4711 (and 4712)", edited={"user": "U2", "ts": ts(400)})

    job = run_import(incident, pm)

    assert (job.messages_seen, job.messages_added) == (5, 1)
    assert incident.evidence.count() == 5
    assert (
        incident.evidence.get(external_id=f"{CHANNEL}:{ts(60)}").text == "rolling back deploy 4711 (and 4712)"
    )


def test_the_window_limits_what_is_imported(channel, incident, pm):
    job = run_import(
        incident,
        pm,
        oldest=datetime.fromtimestamp(BASE + 30, UTC),
        latest=datetime.fromtimestamp(BASE + 100, UTC),
    )

    assert job.messages_seen == 2  # the message at 60 s and its reply


def test_a_rate_limit_is_retried_after_retry_after_resuming_from_the_saved_cursor(
    channel, incident, pm, monkeypatch
):
    monkeypatch.setattr("incidents.evidence.slack_api.PAGE_SIZE", 2)
    channel.fail_next(
        status=429,
        headers={"Retry-After": "30"},
        body={"ok": False, "error": "ratelimited"},
        path=r"users\.info",
    )

    job = run_import(incident, pm)

    assert job.state == SlackImport.State.PENDING
    assert job.next_attempt_at >= timezone.now() + timedelta(seconds=29)
    assert "rate limiting" in job.last_error
    SlackImport.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    assert slack_import_run(import_id=job.pk) == "done"
    assert incident.evidence.count() == 4


def test_a_rate_limit_after_progress_resumes_where_it_stopped(channel, incident, pm, monkeypatch):
    monkeypatch.setattr("incidents.evidence.slack_api.PAGE_SIZE", 2)
    job = SlackImport.objects.create(incident=incident, channel=CHANNEL, requested_by=pm)
    history_calls = []

    def limit_the_second_page(method, path):
        if path.endswith("conversations.history"):
            history_calls.append(path)
            if len(history_calls) == 2:
                channel.fail_next(status=429, headers={"Retry-After": "1"}, path=r"conversations\.history")

    channel.on_request = limit_the_second_page
    assert slack_import_run(import_id=job.pk) == "will resume"
    job.refresh_from_db()
    assert (bool(job.cursor), job.attempts, job.messages_added) == (
        True,
        0,
        3,
    )  # a page and its thread's reply
    channel.on_request = None
    SlackImport.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())

    assert slack_import_run(import_id=job.pk) == "done"
    job.refresh_from_db()
    assert job.messages_added == 4
    assert (
        history_calls[0] != history_calls[-1]
        or len(channel.requests_to("POST", r"conversations\.history")) == 3
    )


@pytest.mark.parametrize("fault", ["revoked", "wrong token"])
def test_a_revoked_or_wrong_token_fails_the_job_with_slacks_own_words(channel, incident, pm, settings, fault):
    if fault == "revoked":
        channel.revoke()
    else:
        settings.SLACK_BOT_TOKEN = "xoxb-wrong"

    job = run_import(incident, pm)

    assert job.state == SlackImport.State.FAILED
    assert ("token_revoked" if fault == "revoked" else "invalid_auth") in job.last_error
    assert not incident.evidence.exists()


def test_an_unknown_channel_fails_the_job(slack, incident, pm):
    job = run_import(incident, pm)

    assert job.state == SlackImport.State.FAILED
    assert "channel_not_found" in job.last_error


def test_server_errors_are_retried_and_then_given_up(channel, incident, pm, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    channel.fail_next(3, status=503, path=r"conversations\.history")

    job = run_import(incident, pm)
    assert job.state == SlackImport.State.PENDING
    SlackImport.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now())
    assert slack_import_run(import_id=job.pk) == "failed"
    job.refresh_from_db()
    assert "Gave up after 2 attempts" in job.last_error


def test_a_duplicate_delivery_of_the_job_does_nothing(channel, incident, pm):
    job = run_import(incident, pm)

    assert slack_import_run(import_id=job.pk) == "not due"
    assert len(channel.requests_to("POST", r"conversations\.history")) == 1


def test_retention_purges_old_transcripts_but_keeps_promoted_messages_and_pager_events(
    channel, incident, pm, responder, settings
):
    run_import(incident, pm)
    analysis = AnalysisSessionFactory(
        incident=incident, responder=incident.responders.get(user=responder), analyst=responder
    )
    kept = incident.evidence.get(external_id=f"{CHANNEL}:{ts(0)}")
    KeyEvent.objects.create(
        analysis=analysis,
        incident=incident,
        occurred_at=kept.occurred_at,
        description="502s",
        evidence=kept,
        marker="detection",
    )
    Evidence.objects.create(
        incident=incident, source="pagerduty", external_id="E1", kind="triggered", occurred_at=timezone.now()
    )
    settings.EVIDENCE_RETENTION_DAYS = 30

    assert evidence_purge(now=timezone.now() + timedelta(days=29)) == 0
    deleted = evidence_purge(now=timezone.now() + timedelta(days=31))

    assert deleted == 3
    assert set(incident.evidence.values_list("external_id", flat=True)) == {kept.external_id, "E1"}
    kept.refresh_from_db()
    assert kept.raw == {}
    assert KeyEvent.objects.get().evidence == kept


def test_requesting_an_import_enqueues_it_only_after_commit(
    slack, incident, pm, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        job = slack_import_request(incident=incident, by=pm, channel=CHANNEL)

    assert SlackImport.objects.get(pk=job.pk).state == SlackImport.State.PENDING
    assert len(callbacks) == 1
    assert not slack.requests


def test_awkward_text_is_stored_as_written_whatever_the_database(slack, incident, pm):
    """Tabs, line ends and backslashes (COPY's own escapes), quotes, emoji and accents arrive as
    written; a NUL and a lone surrogate, which PostgreSQL cannot store, are dropped or replaced."""
    slack.add_user("U1", name="Zoë \\ Tab\tName", email="zoe@example.org")
    written = "line one\nline\ttwo \\N \\\\ \"quoted\" 'single' 🔥 café\r\nend"
    slack.add_message(
        CHANNEL, ts(0), user="U1", text=written, files=[{"name": "a\tb", "permalink": "https://x.example/f"}]
    )
    slack.add_message(CHANNEL, ts(1), user="U1", text="nul\x00here and \ud800 alone")

    job = run_import(incident, pm)

    assert job.state == SlackImport.State.DONE, job.last_error
    first, second = incident.evidence.order_by("occurred_at")
    assert first.text == written
    assert first.author_name == "Zoë \\ Tab\tName"
    assert first.links == [{"url": "https://x.example/f", "label": "a\tb"}]
    assert first.raw["text"] == written
    assert second.text == "nulhere and ? alone"
