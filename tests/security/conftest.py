"""Fixtures for the security tests: a real OpenID Connect provider on 127.0.0.1, and SSO settings.

The provider is the `oidc-provider` library from npm (tests/oidc/provider.mjs), installed by
tests/oidc/install.sh. Without node or its packages the SSO tests skip locally, and fail when
REQUIRE_SERVICES=1 (CI).
"""

import importlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import clear_url_caches

from tests.conftest import require_service

OIDC_DIR = Path(__file__).resolve().parent.parent / "oidc"
CALLBACK_URL = "http://testserver/oidc/callback/"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is not under test here, and every persona has a password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass(frozen=True)
class OIDCProvider:
    issuer: str
    client_id: str
    client_secret: str
    wrong_audience_client_id: str

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OIDCProvider]:
    node = shutil.which("node")
    installed = (OIDC_DIR / "node_modules" / "oidc-provider").is_dir()
    require_service("OIDC provider (node, and `bash tests/oidc/install.sh`)", bool(node) and installed)
    provider = OIDCProvider(
        issuer="",
        client_id="ybiyri",
        client_secret=secrets.token_urlsafe(32),
        wrong_audience_client_id="ybiyri-behind-a-tampering-provider",
    )
    clients = [
        {
            "client_id": client_id,
            "client_secret": provider.client_secret,
            "redirect_uris": [CALLBACK_URL],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        }
        for client_id in (provider.client_id, provider.wrong_audience_client_id)
    ]
    env = {
        **os.environ,
        "OIDC_CLIENTS": json.dumps(clients),
        "OIDC_WRONG_AUDIENCE_CLIENTS": provider.wrong_audience_client_id,
        "NODE_NO_WARNINGS": "1",
    }
    process = subprocess.Popen(
        [node, str(OIDC_DIR / "provider.mjs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = process.stdout.readline()  # the provider prints its issuer once it listens
        if not line:
            pytest.fail(f"the OIDC provider did not start (exit code {process.wait(timeout=5)})")
        issuer = json.loads(line)["issuer"]
        yield OIDCProvider(
            issuer=issuer,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            wrong_audience_client_id=provider.wrong_audience_client_id,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def reload_urlconf() -> None:
    """Rebuild the URL patterns from the current settings (the SSO routes are conditional)."""
    for module in ("mozilla_django_oidc.urls", "ybiyri.urls"):
        if module in sys.modules:
            importlib.reload(sys.modules[module])
    clear_url_caches()


def sso_settings(provider: OIDCProvider, *, client_id: str | None = None, **overrides) -> dict:
    """Settings as ybiyri/settings.py derives them from an environment using discovery."""
    return {
        "OIDC_RP_CLIENT_ID": client_id or provider.client_id,
        "OIDC_RP_CLIENT_SECRET": provider.client_secret,
        "OIDC_OP_DISCOVERY": provider.discovery_url,
        "AUTHENTICATION_BACKENDS": ["django.contrib.auth.backends.ModelBackend", "ybiyri.auth.OIDCBackend"],
        **overrides,
    }


@pytest.fixture
def sso(oidc_provider, db) -> Iterator[callable]:
    """Turn single sign-on on for a test: ``sso()`` or ``sso(client_id=..., **other_settings)``."""
    stack: list[override_settings] = []

    def enable(**kwargs) -> OIDCProvider:
        override = override_settings(**sso_settings(oidc_provider, **kwargs))
        override.enable()
        stack.append(override)
        reload_urlconf()
        return oidc_provider

    yield enable
    while stack:
        stack.pop().disable()
    reload_urlconf()
