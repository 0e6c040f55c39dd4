import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def environment_with(unset: tuple[str, ...] = (), **environment: str) -> dict[str, str]:
    """This process's environment (which has the test suite's SECRET_KEY) with changes."""
    env = {key: value for key, value in os.environ.items() if key not in unset}
    return {**env, "DJANGO_SETTINGS_MODULE": "ybiyri.settings", **environment}


def settings_value(
    expression: str, unset: tuple[str, ...] = (), **environment: str
) -> subprocess.CompletedProcess:
    code = f"import django; django.setup(); from django.conf import settings; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment_with(unset, **environment),
        capture_output=True,
        text=True,
        check=False,
    )


def manage(*arguments: str, unset: tuple[str, ...] = (), **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=environment_with(unset, **environment),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_several_broadcast_webhook_urls_are_read_one_by_one():
    result = settings_value(
        "settings.BROADCAST_WEBHOOK_URLS", BROADCAST_WEBHOOK_URLS="https://a.example/x, https://b.example/y/"
    )
    assert result.stdout.strip() == "['https://a.example/x', 'https://b.example/y']"


def test_the_cost_of_failure_per_hour_is_read_as_money_and_unset_by_default():
    assert (
        settings_value(
            "repr(settings.COST_OF_FAILURE_PER_HOUR)", COST_OF_FAILURE_PER_HOUR=" 750000.50 "
        ).stdout.strip()
        == "Decimal('750000.50')"
    )
    assert (
        settings_value(
            "settings.COST_OF_FAILURE_PER_HOUR", unset=("COST_OF_FAILURE_PER_HOUR",)
        ).stdout.strip()
        == "None"
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BROADCAST_WEBHOOK_URLS", "https://ok.example,ftp://bad"),
        ("SLACK_WEBHOOK_URL", "not a url"),
        ("DEBUG", "maybe"),
        ("EMAIL_PORT", "twenty-five"),
        ("COST_OF_FAILURE_PER_HOUR", "$500k"),
        ("COST_OF_FAILURE_PER_HOUR", "-1"),
        ("COST_OF_FAILURE_PER_HOUR", "NaN"),
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


@pytest.mark.parametrize("debug", [{"DEBUG": "0"}, {}], ids=["DEBUG=0", "DEBUG unset"])
def test_without_debug_a_missing_secret_key_refuses_to_start(debug):
    result = settings_value("settings.SECRET_KEY", unset=("SECRET_KEY", "DEBUG"), **debug)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set" in result.stderr
    assert result.stdout == ""


def test_without_debug_the_given_secret_key_is_used():
    result = settings_value("settings.SECRET_KEY", DEBUG="0", SECRET_KEY="a-production-key-" + "x" * 40)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "a-production-key-" + "x" * 40


def test_the_development_key_is_marked_insecure_and_the_deploy_check_flags_it():
    key = settings_value("settings.SECRET_KEY", unset=("SECRET_KEY",), DEBUG="1")
    assert key.returncode == 0, key.stderr
    assert key.stdout.startswith("django-insecure-")

    check = manage("check", "--deploy", unset=("SECRET_KEY",), DEBUG="1")
    assert "security.W009" in check.stdout + check.stderr


def test_make_run_starts_without_a_secret_key():
    plan = subprocess.run(
        ["make", "--dry-run", "run"],
        cwd=ROOT,
        env=environment_with(unset=("SECRET_KEY", "DEBUG")),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    commands = [line for line in plan.stdout.splitlines() if " manage.py " in line]
    assert any(" manage.py runserver" in command for command in commands)

    for command in commands:
        # Each step with the environment the Makefile gives it, running a harmless command instead.
        checked = command.split(" manage.py ")[0] + " manage.py check"
        result = subprocess.run(
            ["sh", "-c", checked],
            cwd=ROOT,
            env=environment_with(unset=("SECRET_KEY", "DEBUG")),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{command}: {result.stderr}"


def test_every_variable_the_settings_read_is_in_the_readme():
    settings_source = (ROOT / "ybiyri" / "settings.py").read_text()
    names = set(
        re.findall(
            r"(?:env_(?:str|bool|int|money|list|url)|os\.environ\.get|os\.environ\[|checked_url)\(\s*\"([A-Z][A-Z0-9_]+)\"",
            settings_source,
        )
    )
    assert "DATABASE_URL" in names and "OIDC_RP_CLIENT_ID" in names  # the pattern finds what it should
    readme = (ROOT / "README.md").read_text()
    assert sorted(name for name in names if f"`{name}`" not in readme) == []


def test_no_setting_is_defined_twice():
    tree = ast.parse((ROOT / "ybiyri" / "settings.py").read_text())
    assigned = [
        target.id
        for node in tree.body
        for target in (node.targets if isinstance(node, ast.Assign) else [])
        if isinstance(target, ast.Name) and target.id.isupper()
    ]
    changed_in_place = [
        node.target.id
        for node in tree.body
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name)
    ] + [
        target.value.id
        for node in tree.body
        for target in (node.targets if isinstance(node, ast.Assign) else [])
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
    ]
    assert sorted({name for name in assigned if assigned.count(name) > 1}) == []
    assert changed_in_place == []
