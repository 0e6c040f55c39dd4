"""CSRF on every form: no page that changes data accepts a POST without the token. The only
exceptions are the endpoints that authenticate otherwise (tracker and pager webhooks by shared
secret, signature or token, one-click unsubscribe by its token), and those refuse a request
without their credential."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

# Authenticated by something other than the session, so exempt from CSRF on purpose.
EXEMPT = {
    "integrations/jira/webhook/",
    "integrations/trello/webhook/",
    "integrations/pagerduty/webhook/",
    "integrations/opsgenie/webhook/",
    "integrations/alertmanager/webhook/",
    "broadcast/unsubscribe/x/",
}
# Not forms of ours: the API (session writes are CSRF-checked by DRF, see tests/api), the admin
# (Django's own) and single sign-on (the provider's redirects carry `state` instead).
SKIPPED_PREFIXES = ("api/", "admin/", "oidc/", "static/")


def concrete_routes(patterns=None, prefix: str = "") -> list[str]:
    """Every route of the project with its parameters filled in (ids as 1, strings as x)."""
    routes = []
    for pattern in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes.extend(concrete_routes(pattern.url_patterns, route))
        elif isinstance(pattern, URLPattern):
            routes.append(re.sub(r"<int:\w+>", "1", re.sub(r"<(?:str|slug):\w+>", "x", route)))
    return sorted({route for route in routes if not route.startswith(("^", *SKIPPED_PREFIXES))})


ROUTES = concrete_routes()


def test_the_route_list_covers_the_pages_that_change_data():
    for route in ("accounts/login/", "incidents/declare/", "narratives/1/publish/", "reviews/1/factors/"):
        assert route in ROUTES


@pytest.mark.parametrize("route", [route for route in ROUTES if route not in EXEMPT])
def test_posting_without_the_csrf_token_is_refused(route, admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)

    response = browser.post(f"/{route}", {"anything": "1"})

    assert response.status_code == 403, route
    assert b"CSRF" in response.content


WEBHOOKS = ["jira", "trello", "pagerduty", "opsgenie", "alertmanager"]


@pytest.mark.parametrize("route", [f"integrations/{name}/webhook/" for name in WEBHOOKS], ids=WEBHOOKS)
@pytest.mark.parametrize("secret", [None, "wrong-secret"], ids=["missing", "wrong"])
def test_webhooks_refuse_a_missing_or_wrong_secret(route, secret, settings, db):
    settings.JIRA_WEBHOOK_SECRET = "the-real-secret"
    settings.TRELLO_API_SECRET = "the-real-secret"
    settings.PAGERDUTY_WEBHOOK_SECRET = "the-real-secret"
    settings.OPSGENIE_WEBHOOK_TOKEN = "the-real-secret"
    settings.ALERTMANAGER_WEBHOOK_TOKEN = "the-real-secret"
    headers = {}
    if secret:
        headers = {
            "HTTP_AUTHORIZATION": f"Bearer {secret}",
            "HTTP_X_TRELLO_WEBHOOK": secret,
            "HTTP_X_HUB_SIGNATURE": secret,
            "HTTP_X_PAGERDUTY_SIGNATURE": f"v1={secret}",
        }
    response = Client().post(
        f"/{route}?secret={secret or ''}",
        '{"webhookEvent": "jira:issue_updated"}',
        "application/json",
        **headers,
    )
    assert response.status_code in {401, 403}, response.content


def test_the_jira_webhook_accepts_its_real_secret(settings, db):
    """The control for the refusals above: the same request with the right secret gets through."""
    settings.JIRA_WEBHOOK_SECRET = "the-real-secret"
    response = Client().post(
        "/integrations/jira/webhook/?secret=the-real-secret",
        '{"webhookEvent": "jira:issue_updated", "issue": {"key": "PAY-1", "fields": {"labels": []}}}',
        "application/json",
    )
    assert response.status_code == 200, response.content
