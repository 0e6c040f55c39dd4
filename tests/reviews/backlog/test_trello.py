"""Trello: pushing cards through our client over HTTP to the emulator, its webhook and faults."""

import pytest
from django.core.management import call_command
from django.test import Client

from reviews.backlog.tasks import backlog_status_reconcile_task
from reviews.backlog.views import trello_callback_url
from reviews.models import ImprovementAction
from tests.reviews.backlog.conftest import TRELLO_API_SECRET

SyncState = ImprovementAction.SyncState
WEBHOOK = "/integrations/trello/webhook/"


@pytest.fixture
def anonymous():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def carded(trello_team, raise_action):
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED, action.sync_error
    return action


def test_push_creates_one_card_in_the_teams_list_with_the_marker(fake_trello, carded):
    (card,) = fake_trello.cards.values()
    assert card["idList"] == fake_trello.backlog_list_id
    assert card["name"] == "Add a circuit breaker to the payment client"
    assert f"ybiyri: {carded.idempotency_label}" in card["desc"]
    assert f"https://ybiyri.example.org/incidents/{carded.incident_id}/" in card["desc"]
    assert carded.external_key == card["id"]
    assert carded.external_url == card["shortUrl"]
    # Credentials travel in the Authorization header, never in the URL.
    assert all("token" not in r.query for r in fake_trello.requests)


def test_a_5xx_then_success_creates_one_card(fake_trello, trello_team, raise_action):
    fake_trello.fail_next(1, status=500, method="POST", path=r"^/1/cards$", body="Internal error")
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_trello.cards) == 1


def test_a_crash_between_create_and_save_still_makes_one_card(fake_trello, trello_team, raise_action):
    fake_trello.drop_after_next(method="POST", path=r"^/1/cards$")
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert len(fake_trello.cards_with(action.idempotency_label)) == 1
    assert len(fake_trello.requests_to("POST", r"^/1/cards$")) == 1


def test_an_unknown_list_fails_permanently_with_trellos_message(fake_trello, trello_team, raise_action):
    trello_team.trello_list_id = "0" * 24
    trello_team.save()
    action = raise_action()
    assert action.sync_state == SyncState.FAILED
    assert action.sync_error == "Trello (HTTP 400): invalid value for idList"


def test_a_429_is_transient(fake_trello, trello_team, raise_action):
    fake_trello.fail_next(1, status=429, method="POST", path=r"^/1/cards$", body={"message": "Rate limit"})
    action = raise_action()
    assert action.sync_state == SyncState.SYNCED
    assert action.sync_attempts == 2


def test_the_verification_head_request_gets_200(anonymous, db):
    assert anonymous.head(WEBHOOK).status_code == 200


def test_archiving_the_card_marks_the_action_done(fake_trello, carded, anonymous):
    fake_trello.archive(carded.external_key)
    body = fake_trello.webhook_body(carded.external_key, closed=True)
    response = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    assert response.json() == {"result": "changed"}
    carded.refresh_from_db()
    assert carded.status == ImprovementAction.Status.DONE
    assert carded.done_at is not None
    again = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    assert again.json() == {"result": "unchanged"}


def test_moving_to_the_done_list_and_back(fake_trello, carded, anonymous):
    backlog, done = fake_trello.backlog_list_id, fake_trello.done_list_id
    moved = fake_trello.webhook_body(carded.external_key, list_before=backlog, list_after=done)
    fake_trello.deliver_webhook(
        anonymous, moved, secret=TRELLO_API_SECRET, callback_url=trello_callback_url()
    )
    carded.refresh_from_db()
    assert carded.status == ImprovementAction.Status.DONE
    back = fake_trello.webhook_body(carded.external_key, list_before=done, list_after=backlog)
    fake_trello.deliver_webhook(anonymous, back, secret=TRELLO_API_SECRET, callback_url=trello_callback_url())
    carded.refresh_from_db()
    assert carded.status == ImprovementAction.Status.OPEN
    assert carded.done_at is None


def test_a_bad_signature_is_refused(fake_trello, carded, anonymous):
    body = fake_trello.webhook_body(carded.external_key, closed=True)
    wrong_url = fake_trello.deliver_webhook(
        anonymous, body, secret=TRELLO_API_SECRET, callback_url="https://evil/"
    )
    wrong_key = fake_trello.deliver_webhook(
        anonymous, body, secret="guess", callback_url=trello_callback_url()
    )
    assert (wrong_url.status_code, wrong_key.status_code) == (403, 403)
    carded.refresh_from_db()
    assert carded.status == ImprovementAction.Status.OPEN


def test_a_missing_signature_is_refused_with_401(fake_trello, carded, anonymous):
    body = fake_trello.webhook_body(carded.external_key, closed=True)
    assert fake_trello.deliver_webhook(anonymous, body, secret=None, callback_url="").status_code == 401


def test_without_a_configured_secret_everything_is_refused(fake_trello, carded, anonymous, settings):
    settings.TRELLO_API_SECRET = ""
    body = fake_trello.webhook_body(carded.external_key, closed=True)
    response = fake_trello.deliver_webhook(
        anonymous, body, secret="anything", callback_url=trello_callback_url()
    )
    assert response.status_code == 403


def test_the_reconciler_catches_a_card_archived_without_a_webhook(fake_trello, carded, raise_action):
    other = raise_action(title="Write the runbook")
    fake_trello.archive(carded.external_key)
    fake_trello.move(other.external_key, fake_trello.done_list_id)
    assert backlog_status_reconcile_task.delay().get() == 2
    carded.refresh_from_db()
    other.refresh_from_db()
    assert carded.status == other.status == ImprovementAction.Status.DONE
    fake_trello.archive(carded.external_key, closed=False)
    assert backlog_status_reconcile_task.delay().get() == 1
    carded.refresh_from_db()
    assert carded.status == ImprovementAction.Status.OPEN


def test_registering_the_webhook_watches_the_board_of_the_teams_list(fake_trello, trello_team):
    from reviews.backlog.trello import trello_register_webhook

    hook = trello_register_webhook(team=trello_team, callback_url=trello_callback_url())
    assert hook["idModel"] == fake_trello.board_id
    assert hook["callbackURL"] == "https://ybiyri.example.org/integrations/trello/webhook/"
    assert fake_trello.webhooks == [hook]


def test_the_command_registers_a_webhook_for_each_trello_team(fake_trello, trello_team, capsys):
    call_command("register_trello_webhooks")
    assert [hook["idModel"] for hook in fake_trello.webhooks] == [fake_trello.board_id]
    assert "Payments: webhook" in capsys.readouterr().out


def test_pushes_share_one_client_and_its_connection_until_the_settings_change(
    fake_trello, trello_team, raise_action, settings
):
    from reviews.backlog.trello import trello_client

    raise_action(title="First")
    raise_action(title="Second")
    assert len(fake_trello.requests) >= 2
    assert len({request.peer for request in fake_trello.requests}) == 1
    client = trello_client()
    assert trello_client() is client
    settings.TRELLO_TOKEN = "another-token"
    replacement = trello_client()
    assert replacement is not client
    assert "another-token" in replacement.session.headers["Authorization"]
