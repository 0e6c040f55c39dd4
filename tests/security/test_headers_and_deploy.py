"""Security headers on every page, and `manage.py check --deploy` clean under production settings."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
NONCE_IN_HEADER = re.compile(r"script-src [^;]*'nonce-([^']+)'")


def test_pages_send_a_content_security_policy_with_a_fresh_nonce(client):
    first = client.get("/accounts/login/")
    second = client.get("/accounts/login/")

    policy = first["Content-Security-Policy"]
    nonce = NONCE_IN_HEADER.search(policy).group(1)
    assert len(nonce) >= 16
    assert "default-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy
    # Every script the page loads carries this response's nonce, and only this one.
    scripts = re.findall(r"<script[^>]*>", first.text)
    assert scripts
    assert all(f'nonce="{nonce}"' in tag for tag in scripts)
    assert NONCE_IN_HEADER.search(second["Content-Security-Policy"]).group(1) != nonce


def test_signed_in_pages_send_the_policy_too(client, pm):
    client.force_login(pm)
    response = client.get("/")
    assert response.status_code == 200
    assert NONCE_IN_HEADER.search(response["Content-Security-Policy"])


def test_pages_forbid_framing_sniffing_and_leaky_referrers(client):
    response = client.get("/accounts/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_deploy_check_is_clean_under_production_settings():
    # Django's own switches in this process (the browser tests' fixture sets DJANGO_ALLOW_ASYNC_UNSAFE
    # for the rest of the run) are the test run's, not production's.
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DEBUG", "SECRET_KEY", "SITE_URL", "ALLOWED_HOSTS", "EMAIL_HOST"}
        and not key.startswith("DJANGO_")
    }
    environment |= {
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "SITE_URL": "https://ybiyri.example.org",
        "ALLOWED_HOSTS": "ybiyri.example.org",
        # Production sends mail: without a host, mail goes to the console, which the check flags.
        "EMAIL_HOST": "smtp.example.org",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
