import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def settings_value(expression: str, **environment: str) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "ybiyri.settings", **environment}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_several_broadcast_webhook_urls_are_read_one_by_one():
    result = settings_value(
        "settings.BROADCAST_WEBHOOK_URLS", BROADCAST_WEBHOOK_URLS="https://a.example/x, https://b.example/y/"
    )
    assert result.stdout.strip() == "['https://a.example/x', 'https://b.example/y']"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BROADCAST_WEBHOOK_URLS", "https://ok.example,ftp://bad"),
        ("SLACK_WEBHOOK_URL", "not a url"),
        ("DEBUG", "maybe"),
        ("EMAIL_PORT", "twenty-five"),
    ],
)
def test_bad_configuration_names_the_variable(variable, value):
    result = settings_value("1", **{variable: value})
    assert result.returncode != 0
    assert f"ImproperlyConfigured: {variable}" in result.stderr


def test_mail_goes_to_the_configured_smtp_server():
    result = settings_value(
        "settings.MAILERS['default']['OPTIONS']['host'], settings.MAILERS['default']['OPTIONS']['port']",
        EMAIL_HOST="smtp.example.org",
        EMAIL_PORT="2525",
    )
    assert result.stdout.strip() == "smtp.example.org 2525"
