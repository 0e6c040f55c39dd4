"""Personas and shared fixtures.

The organisation in every test: team "Payments" (pm manages it, responder and teammate are
members), team "Search" (other_team_member), an outsider who belongs to no team, and an
organisation-wide problem manager.
"""

import os
import socket
from urllib.parse import urlparse

import pytest
from django.core.cache import cache

from tests.factories import IncidentFactory, ResponderFactory, ServiceFactory, TeamFactory, UserFactory
from ybiyri.celery import app as celery_app


def service_reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def require_service(name: str, available: bool) -> None:
    """Skip a test that needs a real service, or fail it when CI says services must be there."""
    if available:
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"{name} is required (REQUIRE_SERVICES=1) but not reachable")
    pytest.skip(f"{name} not available")


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    require_service("Redis (REDIS_URL)", bool(url) and service_reachable(url, 6379))
    return url


@pytest.fixture
def postgres(settings) -> None:
    from django.db import connection

    require_service("PostgreSQL (DATABASE_URL)", connection.vendor == "postgresql")


@pytest.fixture(autouse=True)
def _isolated_side_effects(settings):
    """Tasks run eagerly and mail stays in memory unless a test asks for the real thing."""
    settings.SITE_URL = "https://ybiyri.example.org"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    cache.clear()
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def team(db):
    return TeamFactory(name="Payments")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Search")


@pytest.fixture
def service(team):
    return ServiceFactory(team=team, name="checkout-api")


@pytest.fixture
def pm(team):
    user = UserFactory(username="pm", first_name="Priya", last_name="Manager")
    team.members.add(user)
    team.product_managers.add(user)
    return user


@pytest.fixture
def responder(team):
    user = UserFactory(username="responder", first_name="Rui", last_name="Oncall")
    team.members.add(user)
    return user


@pytest.fixture
def teammate(team):
    user = UserFactory(username="teammate", first_name="Tess", last_name="Mate")
    team.members.add(user)
    return user


@pytest.fixture
def other_team_member(other_team):
    user = UserFactory(username="other", first_name="Olga", last_name="Elsewhere")
    other_team.members.add(user)
    return user


@pytest.fixture
def outsider(db):
    return UserFactory(username="outsider", first_name="Otto", last_name="Outside")


@pytest.fixture
def problem_manager(db):
    return UserFactory(username="problem", first_name="Pat", last_name="Problem", is_problem_manager=True)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def incident(team, service, pm, responder):
    incident = IncidentFactory(team=team, service=service, declared_by=pm, title="Checkout timeouts")
    ResponderFactory(incident=incident, user=responder, role="Incident commander")
    return incident


@pytest.fixture
def celery_worker_on_redis(redis_url, transactional_db):
    """A real Celery worker (in a thread) consuming every queue from Redis; tests using it commit for real."""
    from celery.contrib.testing.worker import start_worker

    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    queues = [
        celery_app.conf.task_default_queue,
        *(route["queue"] for route in celery_app.conf.task_routes.values()),
    ]
    with start_worker(
        celery_app, perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30, queues=queues
    ):
        yield celery_app
    # The worker's threads kept their own database connections; end them so that the test
    # database can be flushed now and dropped at the end of the run.
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
