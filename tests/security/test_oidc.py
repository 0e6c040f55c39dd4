"""Single sign-on end to end: the Django test client as the browser on our side, a real OpenID
Connect provider (node's `oidc-provider`) on 127.0.0.1 on the other, and real HTTP between the
backend and the provider for the token, JWKS and userinfo calls."""

import html
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import time_machine
from django.contrib.messages import get_messages
from django.utils import timezone

from incidents.models import User
from tests.factories import UserFactory
from ybiyri.auth import email_is_verified

PROJECT_DIR = Path(__file__).resolve().parents[2]
FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')
PROMPT = re.compile(r'name="prompt" value="([^"]+)"')


def provider_sign_in(authorize_url: str, *, login: str) -> str:
    """Go through the provider's own pages as a browser would (sign in, then consent) and return
    the URL it finally redirects to: our callback with `code` and `state`."""
    browser = requests.Session()
    url = authorize_url
    for _ in range(12):
        response = browser.get(url, allow_redirects=False, timeout=10)
        if response.is_redirect:
            url = urljoin(url, response.headers["Location"])
        else:
            assert response.status_code == 200, response.text[:500]
            prompt = PROMPT.search(response.text).group(1)
            data = {"prompt": prompt}
            if prompt == "login":
                data |= {"login": login, "password": "correct horse"}
            action = urljoin(url, html.unescape(FORM_ACTION.search(response.text).group(1)))
            response = browser.post(action, data=data, allow_redirects=False, timeout=10)
            assert response.is_redirect, response.text[:500]
            url = urljoin(action, response.headers["Location"])
        if url.startswith("http://testserver/"):
            return url
    raise AssertionError("the provider never sent the browser back")


def start_sign_in(client, *, next_url: str = "/incidents/") -> str:
    response = client.get("/oidc/authenticate/", {"next": next_url})
    assert response.status_code == 302
    return response["Location"]


def callback(client, url: str):
    parts = urlsplit(url)
    return client.get(f"{parts.path}?{parts.query}")


def signed_in_user(client) -> User | None:
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_login_page_offers_single_sign_on_only_when_configured(client, sso):
    assert "organisation account" not in client.get("/accounts/login/").text

    sso()
    page = client.get("/accounts/login/?next=/incidents/")
    assert page.status_code == 200
    assert 'href="/oidc/authenticate/?next=/incidents/"' in page.text


def test_code_flow_signs_in_and_creates_the_account_from_the_claims(client, sso):
    provider = sso()
    authorize_url = start_sign_in(client)
    assert authorize_url.startswith(f"{provider.issuer}/auth?")
    assert "code_challenge=" in authorize_url  # PKCE on top of the client secret

    response = callback(client, provider_sign_in(authorize_url, login="alice"))

    assert response.status_code == 302
    assert response["Location"] == "/incidents/"
    user = signed_in_user(client)
    assert user is not None
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "alice",
        "alice@example.org",
        "Alice",
        "Example",
    )
    assert not user.has_usable_password()
    assert client.get("/accounts/login/").status_code == 302  # signed in: the login page moves on


def test_existing_account_is_matched_by_email_and_refreshed_from_the_claims(client, sso):
    existing = UserFactory(username="p.manager", email="PRIYA@example.org", first_name="P", last_name="M")
    provider = sso()

    callback(client, provider_sign_in(start_sign_in(client), login="priya"))

    assert signed_in_user(client) == existing
    existing.refresh_from_db()
    assert (existing.username, existing.first_name, existing.last_name) == ("p.manager", "Priya", "Example")
    assert existing.email == "priya@example.org"
    assert User.objects.count() == 1
    assert provider.issuer


def test_a_taken_username_is_never_reused_for_someone_else(client, sso):
    someone_else = UserFactory(username="bob", email="bob@elsewhere.example")
    sso()

    callback(client, provider_sign_in(start_sign_in(client), login="bob"))

    user = signed_in_user(client)
    assert user is not None
    assert user != someone_else
    assert user.username.startswith("bob-")
    assert user.email == "bob@example.org"


UNVERIFIED_EMAIL = pytest.mark.parametrize(
    "claim",
    [";email_verified", ';email_verified="false"', ";email_verified=false"],
    ids=["absent", "string-false", "false"],
)


@UNVERIFIED_EMAIL
def test_an_unverified_email_never_signs_in_as_the_account_that_has_it(client, sso, claim):
    existing = UserFactory(username="gina", email="gina@example.org", first_name="G")
    sso()

    response = callback(client, provider_sign_in(start_sign_in(client), login=f"gina{claim}"))

    assert response.status_code == 403
    assert "did not confirm that the email address" in response.text
    assert "gina@example.org" in response.text
    assert 'href="/accounts/login/"' in response.text
    assert signed_in_user(client) is None
    existing.refresh_from_db()
    assert existing.first_name == "G"  # the claims were not applied either


@UNVERIFIED_EMAIL
def test_an_unverified_email_creates_no_account(client, sso, claim):
    sso()

    response = callback(client, provider_sign_in(start_sign_in(client), login=f"hank{claim}"))

    assert response.status_code == 403
    assert "did not confirm that the email address" in response.text
    assert signed_in_user(client) is None
    assert not User.objects.filter(email__iexact="hank@example.org").exists()


@pytest.mark.parametrize(
    "claim", [";email_verified=true", ';email_verified="true"'], ids=["true", "string-true"]
)
def test_a_verified_email_signs_in_as_the_account_that_has_it(client, sso, claim):
    existing = UserFactory(username="ida", email="ida@example.org")
    sso()

    response = callback(client, provider_sign_in(start_sign_in(client), login=f"ida{claim}"))

    assert response.status_code == 302
    assert response["Location"] == "/incidents/"
    assert signed_in_user(client) == existing


@pytest.mark.parametrize(
    ("value", "verified"),
    [
        (True, True),
        ("true", True),
        (" True ", True),
        (False, False),
        ("false", False),
        (None, False),
        (1, False),
        ("1", False),
        ("yes", False),
        ({"value": True}, False),
    ],
)
def test_only_true_or_the_string_true_counts_as_a_verified_email(value, verified):
    assert email_is_verified({"email": "x@example.org", "email_verified": value}) is verified
    assert email_is_verified({"email": "x@example.org"}) is False


@pytest.mark.parametrize(
    "privilege", [{"is_staff": True}, {"is_superuser": True}], ids=["staff", "superuser"]
)
def test_single_sign_on_never_opens_an_administrator_account(client, sso, privilege):
    administrator = UserFactory(username="root", email="ivy@example.org", first_name="R", **privilege)
    sso()

    # The provider vouches for the address: the refusal is about the account, not the claims.
    response = callback(client, provider_sign_in(start_sign_in(client), login="ivy;email_verified=true"))

    assert response.status_code == 403
    assert "Administrator accounts never sign in through single sign-on" in response.text
    assert 'href="/accounts/login/"' in response.text
    assert signed_in_user(client) is None
    administrator.refresh_from_db()
    assert (administrator.first_name, administrator.email) == ("R", "ivy@example.org")
    assert User.objects.count() == 1


def test_explicit_endpoints_work_without_discovery(client, sso, oidc_provider):
    metadata = requests.get(oidc_provider.discovery_url, timeout=10).json()
    sso(
        OIDC_OP_DISCOVERY="",
        OIDC_OP_AUTHORIZATION_ENDPOINT=metadata["authorization_endpoint"],
        OIDC_OP_TOKEN_ENDPOINT=metadata["token_endpoint"],
        OIDC_OP_USER_ENDPOINT=metadata["userinfo_endpoint"],
        OIDC_OP_JWKS_ENDPOINT=metadata["jwks_uri"],
        OIDC_OP_ISSUER=metadata["issuer"],
    )

    callback(client, provider_sign_in(start_sign_in(client), login="carol"))

    assert signed_in_user(client).username == "carol"


def test_id_token_issued_for_another_audience_is_refused(client, sso, oidc_provider):
    sso(client_id=oidc_provider.wrong_audience_client_id)

    response = callback(client, provider_sign_in(start_sign_in(client), login="mallory"))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert signed_in_user(client) is None
    assert not User.objects.filter(email="mallory@example.org").exists()
    assert any("Single sign-on did not succeed" in str(m) for m in get_messages(response.wsgi_request))


def test_expired_id_token_is_refused(client, sso):
    sso()
    callback_url = provider_sign_in(start_sign_in(client), login="dave")

    # The provider's ID tokens live an hour; two hours on, this one is past expiry and leeway.
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        response = callback(client, callback_url)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert signed_in_user(client) is None
    assert not User.objects.filter(email="dave@example.org").exists()


def test_a_callback_without_the_browsers_own_state_is_refused(client, sso, django_user_model):
    sso()
    callback_url = provider_sign_in(start_sign_in(client), login="erin")

    from django.test import Client

    other_browser = Client()
    other_browser.get("/accounts/login/")  # a session, but without the state this flow started
    response = callback(other_browser, callback_url)

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert signed_in_user(other_browser) is None


def test_an_unreachable_provider_leaves_password_sign_in_working(client, sso):
    user = UserFactory(username="frank")
    sso(OIDC_OP_DISCOVERY="http://127.0.0.1:9/.well-known/openid-configuration", OIDC_TIMEOUT=2)

    response = client.get("/oidc/authenticate/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"

    response = client.post("/accounts/login/", {"username": "frank", "password": "demo-pass-123"})
    assert response.status_code == 302
    assert signed_in_user(client) == user


def run_with_environment(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OIDC_")}
    environment |= {"DJANGO_SETTINGS_MODULE": "ybiyri.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRINT_SSO_WIRING = (
    "from django.conf import settings; from django.urls import reverse; "
    "print(settings.AUTHENTICATION_BACKENDS); print(reverse('oidc_authentication_init'))"
)


def test_single_sign_on_is_wired_from_the_environment():
    result = run_with_environment(
        PRINT_SSO_WIRING,
        OIDC_RP_CLIENT_ID="ybiyri",
        OIDC_RP_CLIENT_SECRET="s3cret",
        OIDC_OP_DISCOVERY="https://id.example.org/.well-known/openid-configuration",
    )
    assert result.returncode == 0, result.stderr
    assert "ybiyri.auth.OIDCBackend" in result.stdout
    assert "/oidc/authenticate/" in result.stdout


def test_single_sign_on_is_off_without_a_client_id():
    result = run_with_environment(PRINT_SSO_WIRING)
    assert "ybiyri.auth.OIDCBackend" not in result.stdout
    assert "NoReverseMatch" in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OIDC_RP_CLIENT_ID": "ybiyri"}, "OIDC_RP_CLIENT_SECRET"),
        ({"OIDC_RP_CLIENT_ID": "ybiyri", "OIDC_RP_CLIENT_SECRET": "s"}, "OIDC_OP_TOKEN_ENDPOINT"),
    ],
)
def test_incomplete_single_sign_on_configuration_names_the_missing_variable(env, named):
    result = run_with_environment("pass", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr
