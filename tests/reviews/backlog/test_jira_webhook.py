"""Jira's issue webhook: authentication, done/reopen, duplicate deliveries."""

import json

import pytest
from django.test import Client

from incidents.models import AuditEntry
from reviews.models import ImprovementAction
from tests.reviews.backlog.conftest import JIRA_WEBHOOK_SECRET

WEBHOOK = "/integrations/jira/webhook/"


@pytest.fixture
def anonymous():
    # Jira is not signed in, and sends no CSRF token.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def synced(fake_jira_cloud, jira_team, raise_action):
    action = raise_action()
    assert action.sync_state == ImprovementAction.SyncState.SYNCED
    return action


def test_done_in_jira_marks_the_action_done_with_done_at(fake_jira_cloud, synced, anonymous):
    fake_jira_cloud.set_status(synced.external_key, "Done")
    response = fake_jira_cloud.deliver_webhook(anonymous, synced.external_key, secret=JIRA_WEBHOOK_SECRET)
    assert response.status_code == 200
    assert response.json() == {"result": "changed"}
    synced.refresh_from_db()
    assert synced.status == ImprovementAction.Status.DONE
    assert synced.done_at is not None
    assert synced.raised_at <= synced.done_at
    assert AuditEntry.objects.filter(verb="action.done_in_tracker", actor=None).count() == 1


def test_a_duplicate_delivery_changes_nothing(fake_jira_cloud, synced, anonymous):
    fake_jira_cloud.set_status(synced.external_key, "Done")
    body = fake_jira_cloud.webhook_body(synced.external_key)
    first = fake_jira_cloud.deliver_webhook(
        anonymous, synced.external_key, secret=JIRA_WEBHOOK_SECRET, body=body
    )
    synced.refresh_from_db()
    done_at = synced.done_at
    again = fake_jira_cloud.deliver_webhook(
        anonymous, synced.external_key, secret=JIRA_WEBHOOK_SECRET, body=body
    )
    assert (first.json(), again.json()) == ({"result": "changed"}, {"result": "unchanged"})
    synced.refresh_from_db()
    assert synced.done_at == done_at
    assert AuditEntry.objects.filter(verb="action.done_in_tracker").count() == 1


def test_reopening_in_jira_clears_done_at(fake_jira_cloud, synced, anonymous):
    fake_jira_cloud.set_status(synced.external_key, "Done")
    fake_jira_cloud.deliver_webhook(anonymous, synced.external_key, secret=JIRA_WEBHOOK_SECRET)
    fake_jira_cloud.set_status(synced.external_key, "In Progress")
    response = fake_jira_cloud.deliver_webhook(anonymous, synced.external_key, secret=JIRA_WEBHOOK_SECRET)
    assert response.json() == {"result": "changed"}
    synced.refresh_from_db()
    assert synced.status == ImprovementAction.Status.OPEN
    assert synced.done_at is None


def test_an_issue_is_followed_only_once_its_key_is_recorded(fake_jira_cloud, synced, anonymous):
    # Its label alone does not make an issue speak for the action: the stored key must match.
    ImprovementAction.objects.filter(pk=synced.pk).update(external_key="")
    fake_jira_cloud.set_status("PAY-1", "Done")
    response = fake_jira_cloud.deliver_webhook(anonymous, "PAY-1", secret=JIRA_WEBHOOK_SECRET)
    assert response.json()["result"] == "ignored"
    synced.refresh_from_db()
    assert synced.status == ImprovementAction.Status.OPEN
    ImprovementAction.objects.filter(pk=synced.pk).update(external_key="PAY-1")
    response = fake_jira_cloud.deliver_webhook(anonymous, "PAY-1", secret=JIRA_WEBHOOK_SECRET)
    assert response.json() == {"result": "changed"}


def test_the_secret_token_in_the_url_is_accepted(fake_jira_cloud, synced, anonymous):
    fake_jira_cloud.set_status(synced.external_key, "Done")
    response = fake_jira_cloud.deliver_webhook(
        anonymous, synced.external_key, url=f"{WEBHOOK}?secret={JIRA_WEBHOOK_SECRET}"
    )
    assert response.status_code == 200
    synced.refresh_from_db()
    assert synced.status == ImprovementAction.Status.DONE


def test_a_wrong_signature_is_refused(fake_jira_cloud, synced, anonymous):
    fake_jira_cloud.set_status(synced.external_key, "Done")
    response = fake_jira_cloud.deliver_webhook(anonymous, synced.external_key, secret="not-the-secret")
    assert response.status_code == 403
    synced.refresh_from_db()
    assert synced.status == ImprovementAction.Status.OPEN


def test_a_signature_of_other_content_is_refused(fake_jira_cloud, synced, anonymous):
    signed = fake_jira_cloud.webhook_body(synced.external_key)
    fake_jira_cloud.set_status(synced.external_key, "Done")
    tampered = fake_jira_cloud.webhook_body(synced.external_key)
    response = fake_jira_cloud.deliver_webhook(
        anonymous,
        synced.external_key,
        body=tampered,
        signature=fake_jira_cloud.signature(signed, JIRA_WEBHOOK_SECRET),
    )
    assert response.status_code == 403


def test_a_wrong_url_token_is_refused(fake_jira_cloud, synced, anonymous):
    response = fake_jira_cloud.deliver_webhook(anonymous, synced.external_key, url=f"{WEBHOOK}?secret=guess")
    assert response.status_code == 403


def test_an_unsigned_delivery_is_refused_with_401(fake_jira_cloud, synced, anonymous):
    response = fake_jira_cloud.deliver_webhook(anonymous, synced.external_key)
    assert response.status_code == 401


def test_without_a_configured_secret_everything_is_refused(fake_jira_cloud, synced, anonymous, settings):
    settings.JIRA_WEBHOOK_SECRET = ""
    response = fake_jira_cloud.deliver_webhook(anonymous, synced.external_key, secret="")
    assert response.status_code == 403


def test_other_events_and_unknown_issues_are_acknowledged_and_ignored(anonymous, settings, db):
    settings.JIRA_WEBHOOK_SECRET = JIRA_WEBHOOK_SECRET
    from tests.fakes.jira import FakeJira

    for payload in (
        {"webhookEvent": "project_created", "project": {"key": "X"}},
        {"webhookEvent": "jira:issue_updated", "issue": {"key": "ZZZ-9", "fields": {}}},
    ):
        body = json.dumps(payload).encode()
        response = anonymous.post(
            WEBHOOK,
            data=body,
            content_type="application/json",
            headers={"X-Hub-Signature": FakeJira.signature(body, JIRA_WEBHOOK_SECRET)},
        )
        assert response.status_code == 200
        assert response.json()["result"] == "ignored"


def test_a_body_that_is_not_json_is_a_400(anonymous, settings, db):
    settings.JIRA_WEBHOOK_SECRET = JIRA_WEBHOOK_SECRET
    from tests.fakes.jira import FakeJira

    body = b"<xml/>"
    response = anonymous.post(
        WEBHOOK,
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature": FakeJira.signature(body, JIRA_WEBHOOK_SECRET)},
    )
    assert response.status_code == 400


def test_get_is_not_allowed(anonymous, db):
    assert anonymous.get(WEBHOOK).status_code == 405
