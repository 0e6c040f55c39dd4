"""Every payload of the XSS corpus, put into every Markdown field and every plain-text field people
can fill, comes out inert: in each page that shows it, in the Atom feed and in the broadcast email."""

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.models import AnalysisSession, AuditEntry
from reviews.models import Narrative
from reviews.services.narrative import narrative_publish
from tests.factories import (
    AnalysisSessionFactory,
    ContributingFactorFactory,
    ImprovementActionFactory,
    IncidentFactory,
    InterviewFactory,
    KeyEventFactory,
    LearningFactory,
    LearningThemeFactory,
    NarrativeFactory,
    ResponderFactory,
    ReviewFactory,
    ServiceFactory,
)
from tests.security.xss_payloads import ALL_XSS_PAYLOADS, assert_inert

NONCE = re.compile(r"'nonce-([^']+)'")
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def hostile(request, team, pm, responder, problem_manager):
    """An incident whose every field people type holds the payload (cut to each field's length)."""
    payload: str = request.param
    service = ServiceFactory(team=team, name=payload[:100], description=payload)
    incident = IncidentFactory(
        team=team, service=service, declared_by=pm, title=payload[:200], summary=payload, severity="sev2"
    )
    responder_row = ResponderFactory(incident=incident, user=responder, role=payload[:100])
    analysis = AnalysisSessionFactory(
        responder=responder_row,
        scheduled_by=pm,
        report=f"## Findings\n\n{payload}\n\nMore: {payload}",
        status=AnalysisSession.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )
    analysis.themes.add(LearningThemeFactory(name=payload[:80], slug="hostile-theme"))
    InterviewFactory(analysis=analysis, interviewee=payload[:120], notes=payload)
    KeyEventFactory(analysis=analysis, description=payload[:2000], evidence_url="https://example.org/e")
    review = ReviewFactory(
        incident=incident,
        facilitator=pm,
        location=payload[:200],
        context_notes=payload,
        perspectives_notes=payload,
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    ContributingFactorFactory(review=review, description=payload)
    LearningFactory(review=review, description=payload)
    ImprovementActionFactory(
        incident=incident, review=review, title=payload[:200], description=payload, raised_by=pm
    )
    narrative = NarrativeFactory(
        incident=incident,
        created_by=pm,
        title=payload[:200],
        body=f"# {payload}\n\n{payload}\n\n* {payload}\n\n> {payload}",
    )
    AuditEntry.objects.create(
        actor=pm,
        verb="incident.updated",
        target_type="incidents.incident",
        target_id=str(incident.pk),
        target_repr=payload[:250],
        team=team,
        changes={"title": [payload, payload]},
    )
    return {
        "incident": incident,
        "analysis": analysis,
        "review": review,
        "narrative": narrative,
        "text": payload,
    }


def page_is_inert(client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200, path
    nonce = NONCE.search(response["Content-Security-Policy"]).group(1)
    assert_inert(response.content.decode(), nonce=nonce)


@pytest.mark.parametrize("hostile", ALL_XSS_PAYLOADS, indirect=True)
def test_payloads_are_inert_in_every_page(client, hostile, pm, responder, problem_manager):
    incident, analysis, review, narrative = (
        hostile["incident"],
        hostile["analysis"],
        hostile["review"],
        hostile["narrative"],
    )
    client.force_login(responder)
    for path in ("/", f"/analyses/{analysis.pk}/"):
        page_is_inert(client, path)

    client.force_login(pm)
    for path in (
        "/",
        "/incidents/",
        "/incidents/?q=a",
        f"/incidents/{incident.pk}/",
        f"/incidents/{incident.pk}/edit/",
        f"/analyses/{analysis.pk}/",
        f"/reviews/{review.pk}/",
        "/actions/",
        f"/narratives/{narrative.pk}/",
        f"/narratives/{narrative.pk}/edit/",
        f"/narratives/{narrative.pk}/revisions/",
        "/audit/",
    ):
        page_is_inert(client, path)

    narrative_publish(narrative=narrative, by=pm, override_reason=hostile["text"])
    client.force_login(problem_manager)
    for path in ("/narratives/", "/narratives/?q=the", f"/narratives/{narrative.pk}/"):
        page_is_inert(client, path)


@pytest.mark.parametrize("hostile", ALL_XSS_PAYLOADS, indirect=True)
def test_payloads_are_inert_in_the_feed_and_the_broadcast_email(
    client, hostile, pm, settings, django_capture_on_commit_callbacks
):
    settings.BROADCAST_EMAIL_TO = ["everyone@example.org"]
    narrative: Narrative = hostile["narrative"]
    with django_capture_on_commit_callbacks(execute=True):
        narrative_publish(narrative=narrative, by=pm, override_reason=hostile["text"])

    client.force_login(pm)
    feed = ET.fromstring(client.get("/narratives/feed/").content)  # noqa: S314 — our own feed
    entries = feed.findall(f"{ATOM}entry")
    assert entries
    for entry in entries:
        for element in entry.iter():
            if element.get("type") == "html" or element.tag in {f"{ATOM}summary", f"{ATOM}content"}:
                # The element's text is the HTML a feed reader renders.
                assert_inert(element.text or "")

    messages = [message for message in mail.outbox if "everyone@example.org" in message.to]
    assert messages
    html_parts = [
        alternative.content
        for message in messages
        for alternative in getattr(message, "alternatives", [])
        if alternative.mimetype == "text/html"
    ]
    assert html_parts
    for content in html_parts:
        assert_inert(content)
