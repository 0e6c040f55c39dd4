"""Fixtures for the broadcast: a real SMTP server, an HTTP sink for Slack/Teams/webhooks, and a
published narrative of the Payments team's incident."""

import pytest
from django.db import transaction
from django.utils import timezone

from reviews.broadcast.services import broadcast_publication
from reviews.models import Narrative
from tests.factories import NarrativeFactory
from tests.fakes.http_sink import HttpSink
from tests.fakes.smtp import FakeSMTPServer

LIST_ADDRESS = "everyone@example.org"
WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture
def smtp_server(settings):
    """Django's default mailer: the SMTP backend pointed at a fake server on 127.0.0.1."""
    with FakeSMTPServer() as server:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": server.host, "port": server.port, "timeout": 5},
            }
        }
        yield server


@pytest.fixture
def sink():
    with HttpSink() as http_sink:
        yield http_sink


@pytest.fixture
def channels(settings, smtp_server, sink):
    """Every channel configured: the list address, members, Slack, Teams and one signed webhook."""
    settings.BROADCAST_EMAIL_TO = [LIST_ADDRESS]
    settings.BROADCAST_EMAIL_MEMBERS = True
    settings.SLACK_WEBHOOK_URL = sink.url("/slack")
    settings.TEAMS_WEBHOOK_URL = sink.url("/teams")
    settings.BROADCAST_WEBHOOK_URLS = [sink.url("/hook")]
    settings.BROADCAST_WEBHOOK_SECRET = WEBHOOK_SECRET
    return settings


@pytest.fixture
def narrative(incident, pm):
    return NarrativeFactory(
        incident=incident,
        created_by=pm,
        title="Checkout timeouts",
        body="## What happened\n\nThe payment provider slowed down and **retries** piled up.\n\n"
        "<script>alert('x')</script>\n\n[runbook](https://runbooks.example.org/checkout)",
    )


def publish_narrative(narrative: Narrative, by=None) -> list:
    """Do what narrative_publish does around broadcast_publication (the contract the broadcast relies
    on): in one transaction, mark it published, count the publication, write the deliveries."""
    with transaction.atomic():
        narrative.status = Narrative.Status.PUBLISHED
        narrative.published_at = narrative.published_at or timezone.now()
        narrative.published_by = by or narrative.created_by
        narrative.publication += 1
        narrative.save()
        return broadcast_publication(narrative=narrative)


@pytest.fixture
def publish(django_capture_on_commit_callbacks):
    """Publish and run what the commit triggers (the send tasks, eagerly)."""

    def run(narrative: Narrative, by=None) -> list:
        with django_capture_on_commit_callbacks(execute=True):
            return publish_narrative(narrative, by)

    return run
