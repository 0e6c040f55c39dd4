"""Visiting pages as a browser does, for the tests of what the versioned caches serve."""

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

# The CSRF token a page's forms carry.
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def signed_in(user) -> Client:
    """A browser signed in as `user` that checks CSRF tokens as the site does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def visit(client, url: str) -> tuple[str, int]:
    """The page at `url` (which must answer 200) and the SQL queries it took."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode(), len(queries)
