"""Sign-in throttling: failed attempts counted per account and, with a much higher limit, per
address; refusals before the password is even checked."""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.signals import user_login_failed
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory

LOGIN_URL = "/accounts/login/"
PASSWORD = "demo-pass-123"  # tests.factories.UserFactory's
ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 12


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_FAILURE_LIMIT = ACCOUNT_LIMIT
    settings.LOGIN_FAILURE_ADDRESS_LIMIT = ADDRESS_LIMIT
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 600


@pytest.fixture
def member(db):
    return UserFactory(username="member")


def attempt(client: Client, username: str, password: str, address: str = "192.0.2.10"):
    return client.post(LOGIN_URL, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def password_checks():
    """Counts the times Django actually checked credentials and found them wrong."""
    calls: list[str] = []

    def record(sender, credentials, **kwargs):
        calls.append(credentials.get("username"))

    user_login_failed.connect(record)
    yield calls
    user_login_failed.disconnect(record)


def test_failures_below_the_limit_are_ordinary_form_errors(client, member):
    for _ in range(ACCOUNT_LIMIT):
        response = attempt(client, "member", "wrong")
        assert response.status_code == 200
        assert "Please enter a correct username and password" in response.text


def test_over_the_limit_the_right_password_is_refused_with_429_unchecked(client, member, password_checks):
    for _ in range(ACCOUNT_LIMIT):
        attempt(client, "member", "wrong")
    assert len(password_checks) == ACCOUNT_LIMIT

    response = attempt(client, "member", PASSWORD)

    assert response.status_code == 429
    assert response["Retry-After"] == "600"
    assert "Too many failed sign-in attempts" in response.text
    assert "_auth_user_id" not in client.session
    assert len(password_checks) == ACCOUNT_LIMIT  # the password was not even looked at


def test_an_account_is_locked_for_everyone_after_its_limit(client, member):
    for index in range(ACCOUNT_LIMIT):
        attempt(client, "member", "wrong", address=f"198.51.100.{index}")

    assert attempt(client, "member", PASSWORD, address="203.0.113.77").status_code == 429


def test_one_persons_failures_do_not_lock_out_a_colleague_behind_the_same_address(client, member):
    UserFactory(username="colleague")
    for _ in range(ACCOUNT_LIMIT):
        attempt(client, "member", "wrong", address="198.51.100.9")
    assert attempt(client, "member", PASSWORD, address="198.51.100.9").status_code == 429

    assert attempt(client, "colleague", PASSWORD, address="198.51.100.9").status_code == 302


def test_an_address_trying_many_accounts_is_locked_at_the_address_limit(client, member):
    for index in range(ADDRESS_LIMIT - 1):
        attempt(client, f"guess{index}", "wrong", address="198.51.100.9")
    assert attempt(client, "member", PASSWORD, address="198.51.100.9").status_code == 302
    client.logout()

    attempt(client, "one-more-guess", "wrong", address="198.51.100.9")

    locked = attempt(client, "member", PASSWORD, address="198.51.100.9")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "600"
    assert attempt(client, "member", PASSWORD, address="198.51.100.10").status_code == 302


def test_usernames_are_counted_case_insensitively(client, member):
    for index, username in enumerate(("member", "MEMBER", " Member", "mEmBeR", "member ")):
        attempt(client, username, "wrong", address=f"198.51.100.{index}")

    assert attempt(client, "member", PASSWORD, address="203.0.113.1").status_code == 429


def test_a_successful_sign_in_forgets_the_accounts_failures(client, member):
    for _ in range(ACCOUNT_LIMIT - 1):
        attempt(client, "member", "wrong", address="198.51.100.1")
    assert attempt(client, "member", PASSWORD, address="198.51.100.2").status_code == 302
    client.logout()

    for _ in range(ACCOUNT_LIMIT - 1):
        assert attempt(client, "member", "wrong", address="198.51.100.3").status_code == 200
    assert attempt(client, "member", PASSWORD, address="198.51.100.4").status_code == 302


def test_attempts_are_allowed_again_once_the_window_has_passed(client, member, settings):
    # Local memory cache: its expiry follows the (travelled) clock.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(ACCOUNT_LIMIT):
            attempt(client, "member", "wrong")
        assert attempt(client, "member", PASSWORD).status_code == 429

        traveller.shift(timedelta(seconds=601))

        assert attempt(client, "member", PASSWORD).status_code == 302


def test_forwarded_addresses_are_ignored_unless_behind_a_trusted_proxy(client, member, settings):
    settings.LOGIN_TRUST_X_FORWARDED_FOR = False
    for index in range(ADDRESS_LIMIT):
        client.post(
            LOGIN_URL,
            {"username": f"guess{index}", "password": "wrong"},
            REMOTE_ADDR="192.0.2.1",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{index}",
        )
    # Forging X-Forwarded-For did not spread the attempts over several addresses.
    assert attempt(client, "member", PASSWORD, address="192.0.2.1").status_code == 429


def test_behind_a_trusted_proxy_the_last_forwarded_hop_is_the_client(client, member, settings):
    settings.LOGIN_TRUST_X_FORWARDED_FOR = True
    for index in range(ADDRESS_LIMIT):
        client.post(
            LOGIN_URL,
            {"username": f"guess{index}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",  # the proxy
            HTTP_X_FORWARDED_FOR=f"forged-{index}, 203.0.113.5",
        )

    blocked = client.post(
        LOGIN_URL, {"username": "member", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.5"
    )
    assert blocked.status_code == 429
    other_client = client.post(
        LOGIN_URL, {"username": "member", "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.6"
    )
    assert other_client.status_code == 302


def test_the_admin_sign_in_is_throttled_too(client, admin_user, password_checks):
    for _ in range(ACCOUNT_LIMIT):
        client.post("/admin/login/", {"username": "admin", "password": "wrong"}, REMOTE_ADDR="192.0.2.4")

    response = client.post(
        "/admin/login/", {"username": "admin", "password": PASSWORD}, REMOTE_ADDR="192.0.2.5"
    )

    assert "Too many failed sign-in attempts" in response.text
    assert "_auth_user_id" not in client.session
    assert len(password_checks) == ACCOUNT_LIMIT


def test_the_sign_in_form_requires_a_csrf_token(member):
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(LOGIN_URL, {"username": "member", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in browser.session
