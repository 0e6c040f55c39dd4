from datetime import timedelta

import feedparser
import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from incidents.models import AnalysisSession
from incidents.services import StaleVersion, user_rotate_feed_token
from reviews.models import Narrative, NarrativeRead, NarrativeRevision, NarrativeTemplate, Review
from reviews.selectors import narrative_library
from reviews.services import narrative as narrative_services
from tests.factories import (
    AnalysisSessionFactory,
    ContributingFactorFactory,
    IncidentFactory,
    KeyEventFactory,
    LearningFactory,
    LearningThemeFactory,
    ReviewFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

XSS_MARKDOWN = [
    "<script>alert('xss')</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "![img](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<svg onload=alert(1)>",
    "<iframe src='https://evil.example'></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<body onload=alert(1)>",
    '<form action="https://evil.example"><input type=submit></form>',
    "<object data='javascript:alert(1)'></object>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    "<details open ontoggle=alert(1)>",
    '"><script>alert(1)</script>',
    "<scr<script>ipt>alert(1)</script>",
    "[x](vbscript:msgbox(1))",
    "<meta http-equiv='refresh' content='0;url=https://evil.example'>",
    "<link rel=stylesheet href='https://evil.example/x.css'>",
]
DANGEROUS = (
    "<script",
    "onerror",
    "onload",
    "ontoggle",
    "javascript:",
    "vbscript:",
    "<iframe",
    "<svg",
    "<object",
    "<meta",
    "<link",
    "<form",
    "style=",
    "data:text",
)


def publish(narrative, by):
    return narrative_services.narrative_publish(narrative=narrative, by=by)


@pytest.fixture
def reviewed_incident(incident, pm, responder):
    analysis = AnalysisSessionFactory(
        responder=incident.responders.get(), status=AnalysisSession.Status.SUBMITTED, report="report"
    )
    KeyEventFactory(analysis=analysis, description="Pool exhausted")
    analysis.themes.add(LearningThemeFactory(name="Retry storms"))
    review = ReviewFactory(
        incident=incident, facilitator=pm, status=Review.Status.HELD, held_at=timezone.now()
    )
    ContributingFactorFactory(review=review, description="Retries without backoff")
    LearningFactory(review=review, description="Budgets beat retries", rank=1)
    return incident


def test_the_draft_is_built_from_the_incident_through_the_template(reviewed_incident, pm):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    assert narrative.title == reviewed_incident.title
    for expected in (
        "## Timeline",
        "Pool exhausted",
        "Retries without backoff",
        "1. Budgets beat retries",
        reviewed_incident.summary,
    ):
        assert expected in narrative.body
    assert narrative.revisions.get().version == 1


def test_the_organisation_can_change_the_template(reviewed_incident, pm):
    NarrativeTemplate.objects.create(
        name="Short", is_default=True, body="# {{ incident.title }}\n\nLessons: {{ learnings|length }}"
    )
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    assert narrative.body == f"# {reviewed_incident.title}\n\nLessons: 1\n"


def test_a_broken_template_is_a_clear_error(reviewed_incident, pm):
    NarrativeTemplate.objects.create(name="Broken", is_default=True, body="{% for x in %}")
    with pytest.raises(Exception, match="narrative template is broken"):
        narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    assert not Narrative.objects.exists()


def test_saves_keep_every_revision_and_stale_saves_are_refused(reviewed_incident, pm, responder):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    narrative_services.narrative_save(
        narrative=narrative, by=pm, version=1, changes={"title": "T", "body": "second"}
    )
    with pytest.raises(StaleVersion) as stale:
        narrative_services.narrative_save(
            narrative=narrative, by=responder, version=1, changes={"title": "T", "body": "lost?"}
        )
    assert stale.value.current_version == 2
    assert list(NarrativeRevision.objects.order_by("version").values_list("version", "body"))[1] == (
        2,
        "second",
    )


def test_the_edit_page_refuses_a_stale_save_with_409_and_keeps_the_text(
    client, reviewed_incident, pm, teammate
):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    client.force_login(teammate)
    url = reverse("reviews:narrative_edit", args=[narrative.pk])
    assert client.post(url, {"version": 1, "title": "T", "body": "first edit"}).status_code == 302
    response = client.post(url, {"version": 1, "title": "T", "body": "my version"})
    assert response.status_code == 409
    assert "my version" in response.text and "first edit" in response.text
    narrative.refresh_from_db()
    assert narrative.body == "first edit"


def test_two_revisions_can_be_compared(client, reviewed_incident, pm):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    narrative_services.narrative_save(
        narrative=narrative, by=pm, version=1, changes={"title": narrative.title, "body": "Brand new line"}
    )
    client.force_login(pm)
    response = client.get(reverse("reviews:narrative_revisions", args=[narrative.pk]), {"a": 1, "b": 2})
    assert response.status_code == 200
    assert "<ins>+ Brand new line</ins>" in response.text
    assert "<del>- ## Timeline</del>" in response.text
    assert (
        client.get(reverse("reviews:narrative_revisions", args=[narrative.pk]), {"a": 1, "b": 9}).status_code
        == 404
    )
    assert (
        client.get(
            reverse("reviews:narrative_revisions", args=[narrative.pk]), {"a": "x", "b": 1}
        ).status_code
        == 404
    )


def test_drafts_are_invisible_outside_the_team(
    client, reviewed_incident, pm, teammate, other_team_member, outsider
):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    responder_elsewhere = UserFactory(username="helper")
    reviewed_incident.responders.create(user=responder_elsewhere)
    client.force_login(teammate)
    assert client.get(narrative.get_absolute_url()).status_code == 200
    for person in (other_team_member, outsider, responder_elsewhere):
        client.force_login(person)
        assert client.get(narrative.get_absolute_url()).status_code == 404
        assert narrative.title not in client.get(reverse("reviews:library")).text
        assert client.get(reverse("reviews:narrative_edit", args=[narrative.pk])).status_code == 404


def test_publishing_makes_it_readable_by_every_member_and_closes_the_incident(
    client, reviewed_incident, pm, outsider
):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    client.force_login(pm)
    assert client.post(reverse("reviews:narrative_publish", args=[narrative.pk])).status_code == 302
    narrative.refresh_from_db()
    assert narrative.is_published and narrative.publication == 1
    reviewed_incident.refresh_from_db()
    assert reviewed_incident.status == "closed"
    client.force_login(outsider)
    response = client.get(narrative.get_absolute_url())
    assert response.status_code == 200
    assert NarrativeRead.objects.filter(narrative=narrative, reader=outsider).exists()
    assert client.get(reverse("reviews:narrative_edit", args=[narrative.pk])).status_code == 403
    assert client.post(reverse("reviews:narrative_publish", args=[narrative.pk])).status_code == 403


def test_team_members_and_the_facilitator_publish(client, reviewed_incident, pm, teammate, other_team_member):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    client.force_login(other_team_member)
    assert client.post(reverse("reviews:narrative_publish", args=[narrative.pk])).status_code == 404
    client.force_login(teammate)
    assert client.post(reverse("reviews:narrative_publish", args=[narrative.pk])).status_code == 302
    assert Narrative.objects.get(pk=narrative.pk).is_published


def test_a_facilitator_from_another_team_leaves_the_draft_to_the_team(
    client, reviewed_incident, pm, other_team_member
):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    reviewed_incident.review.facilitator = other_team_member
    reviewed_incident.review.save()
    client.force_login(other_team_member)
    assert client.post(reverse("reviews:narrative_publish", args=[narrative.pk])).status_code == 404
    assert not Narrative.objects.get(pk=narrative.pk).is_published


def test_a_confidential_narrative_stays_with_those_who_see_the_incident(
    client, reviewed_incident, pm, outsider, problem_manager
):
    reviewed_incident.confidential = True
    reviewed_incident.save()
    narrative = publish(narrative_services.narrative_draft(incident=reviewed_incident, by=pm), pm)
    client.force_login(outsider)
    assert client.get(narrative.get_absolute_url()).status_code == 404
    client.force_login(problem_manager)
    assert client.get(narrative.get_absolute_url()).status_code == 200


def test_edits_after_publishing_show_when_it_was_last_updated(client, reviewed_incident, pm, outsider):
    narrative = publish(narrative_services.narrative_draft(incident=reviewed_incident, by=pm), pm)
    narrative_services.narrative_save(
        narrative=narrative,
        by=pm,
        version=narrative.version,
        changes={"title": "New title", "body": "Updated story"},
    )
    client.force_login(outsider)
    response = client.get(narrative.get_absolute_url())
    assert "last updated" in response.text
    assert "Updated story" in response.text


@pytest.mark.parametrize("payload", XSS_MARKDOWN)
def test_xss_payloads_in_a_narrative_are_rendered_inert(client, reviewed_incident, pm, payload):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    narrative_services.narrative_save(
        narrative=narrative, by=pm, version=1, changes={"title": "Safe", "body": f"Story\n\n{payload}\n"}
    )
    publish(narrative, pm)
    client.force_login(pm)
    page = client.get(narrative.get_absolute_url()).text
    article = page[page.index('<div class="markdown card">') : page.index("</article>")].lower()
    assert not any(marker in article for marker in DANGEROUS), article
    feed = client.get(reverse("reviews:feed")).content.decode().lower()
    entry = feedparser.parse(feed).entries[0]
    assert not any(marker in entry.summary.lower() for marker in ("<script", "onerror", "javascript:"))


def test_the_atom_feed_parses_and_lists_published_narratives(client, reviewed_incident, pm):
    narrative = publish(narrative_services.narrative_draft(incident=reviewed_incident, by=pm), pm)
    draft_incident = IncidentFactory(
        team=reviewed_incident.team, service=reviewed_incident.service, title="Still a draft"
    )
    narrative_services.narrative_draft(incident=draft_incident, by=pm)
    client.force_login(pm)
    response = client.get(reverse("reviews:feed"))
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo
    assert [entry.title for entry in feed.entries] == [f"[SEV2 — major] Payments: {narrative.title}"]
    assert feed.entries[0].link.endswith(narrative.get_absolute_url())
    assert "<h2>Timeline</h2>" in feed.entries[0].summary


def test_the_feed_needs_sign_in_but_the_private_url_does_not(client, reviewed_incident, pm, responder):
    publish(narrative_services.narrative_draft(incident=reviewed_incident, by=pm), pm)
    assert client.get(reverse("reviews:feed")).status_code == 302
    private = reverse("reviews:private_feed", args=[responder.feed_token])
    response = client.get(private)
    assert response.status_code == 200
    assert len(feedparser.parse(response.content).entries) == 1
    assert client.get(reverse("reviews:private_feed", args=["wrong-token"])).status_code == 404
    user_rotate_feed_token(user=responder)
    assert client.get(private).status_code == 404


def make_published(team, service, pm, count, **incident_fields):
    incidents = IncidentFactory.create_batch(count, team=team, service=service, **incident_fields)
    now = timezone.now()
    Narrative.objects.bulk_create(
        Narrative(
            incident=incident,
            title=incident.title,
            body="Story",
            status="published",
            published_at=now,
            created_by=pm,
        )
        for incident in incidents
    )


def test_library_and_narrative_pages_use_the_same_queries_at_10_and_200(
    client, team, service, pm, reviewed_incident
):
    narrative = publish(narrative_services.narrative_draft(incident=reviewed_incident, by=pm), pm)
    client.force_login(pm)

    def count(url):
        # What computing the page costs: the versioned caches would serve the same page again.
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    make_published(team, service, pm, 10)
    count(narrative.get_absolute_url())  # the first visit records the read
    small = (
        count(reverse("reviews:library")),
        count(narrative.get_absolute_url()),
        count(reverse("reviews:feed")),
    )
    make_published(team, service, pm, 190)
    for user in UserFactory.create_batch(30):
        NarrativeRead.objects.create(narrative=narrative, reader=user)
    large = (
        count(reverse("reviews:library")),
        count(narrative.get_absolute_url()),
        count(reverse("reviews:feed")),
    )
    assert large == small


def test_library_filters_by_team_severity_and_theme(
    client, reviewed_incident, pm, other_team, problem_manager
):
    publish(narrative_services.narrative_draft(incident=reviewed_incident, by=pm), pm)
    other = IncidentFactory(team=other_team, severity="sev4", title="Search hiccup")
    narrative_services.narrative_publish(
        narrative=narrative_services.narrative_draft(incident=other, by=problem_manager),
        by=problem_manager,
        override_reason="A minor hiccup: no review needed",
    )
    theme = reviewed_incident.analyses.get().themes.get()
    client.force_login(pm)
    assert (
        "Search hiccup"
        not in client.get(reverse("reviews:library"), {"team": reviewed_incident.team_id}).text
    )
    assert "Search hiccup" in client.get(reverse("reviews:library"), {"severity": "sev4"}).text
    by_theme = client.get(reverse("reviews:library"), {"theme": theme.pk}).text
    assert reviewed_incident.title in by_theme and "Search hiccup" not in by_theme


def test_sqlite_fallback_search_ranks_title_matches_first(team, service, pm):
    make_published(team, service, pm, 0)
    body_match = IncidentFactory(team=team, service=service, title="Quiet night")
    title_match = IncidentFactory(team=team, service=service, title="Kafka lag")
    for incident, body in ((body_match, "We saw kafka lag growing"), (title_match, "Consumers stalled")):
        Narrative.objects.create(
            incident=incident,
            title=incident.title,
            body=body,
            status="published",
            published_at=timezone.now() - timedelta(days=1 if incident is title_match else 0),
            created_by=pm,
        )
        narrative_services.narrative_search_vector_update(Narrative.objects.get(incident=incident))
    results = list(narrative_library(viewer=pm, query="kafka"))
    assert [n.title for n in results] == ["Kafka lag", "Quiet night"]
    assert list(narrative_library(viewer=pm, query="nothing-matches")) == []


def test_postgres_search_finds_body_words_and_ranks_title_above_body(postgres, team, service, pm):
    body_only = IncidentFactory(team=team, service=service, title="Tuesday outage")
    in_title = IncidentFactory(team=team, service=service, title="Certificate expiry broke sign-in")
    for incident, body in (
        (body_only, "An expired certificate on the load balancer stopped traffic."),
        (in_title, "Sign-in failed for everyone."),
        (IncidentFactory(team=team, service=service, title="Unrelated"), "Disk filled up."),
    ):
        narrative = Narrative.objects.create(
            incident=incident,
            title=incident.title,
            body=body,
            status="published",
            published_at=timezone.now(),
            created_by=pm,
        )
        narrative_services.narrative_search_vector_update(narrative)
    assert [n.title for n in narrative_library(viewer=pm, query="certificates")] == [
        in_title.title,
        body_only.title,
    ]
    assert [n.title for n in narrative_library(viewer=pm, query="load balancer")] == [body_only.title]
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'narrative_search_gin'")
        assert "gin" in cursor.fetchone()[0].lower()


def test_walkthrough_invites_reach_people_and_the_list_address(
    reviewed_incident, pm, teammate, mailoutbox, django_capture_on_commit_callbacks
):
    narrative = publish(narrative_services.narrative_draft(incident=reviewed_incident, by=pm), pm)
    with django_capture_on_commit_callbacks(execute=True):
        walkthrough = narrative_services.walkthrough_schedule(
            narrative=narrative, by=pm, scheduled_at=timezone.now() + timedelta(days=7), time_zone="UTC",
            duration_minutes=45, audience_email="engineering@example.org", attendees=[teammate],
        )  # fmt: skip
        narrative_services.walkthrough_cancel(walkthrough=walkthrough, by=pm)
    methods = sorted((m.to[0], str(Calendar.from_ical(m.attachments[0][1])["METHOD"])) for m in mailoutbox)
    assert methods == [
        ("engineering@example.org", "CANCEL"),
        ("engineering@example.org", "REQUEST"),
        ("teammate@example.org", "CANCEL"),
        ("teammate@example.org", "REQUEST"),
    ]


def test_walkthroughs_need_a_published_narrative_and_an_audience(reviewed_incident, pm):
    narrative = narrative_services.narrative_draft(incident=reviewed_incident, by=pm)
    when = timezone.now() + timedelta(days=7)
    with pytest.raises(Exception, match="Publish the narrative"):
        narrative_services.walkthrough_schedule(
            narrative=narrative, by=pm, scheduled_at=when, time_zone="UTC", duration_minutes=45
        )
    narrative = publish(narrative, pm)
    with pytest.raises(Exception, match="Invite an audience"):
        narrative_services.walkthrough_schedule(
            narrative=narrative, by=pm, scheduled_at=when, time_zone="UTC", duration_minutes=45
        )


def test_draft_page_flow_from_the_review(client, reviewed_incident, pm):
    client.force_login(pm)
    response = client.post(reverse("reviews:narrative_draft", args=[reviewed_incident.pk]))
    narrative = Narrative.objects.get()
    assert response["Location"] == reverse("reviews:narrative_edit", args=[narrative.pk])
    again = client.post(reverse("reviews:narrative_draft", args=[reviewed_incident.pk]))
    assert again["Location"] == reverse("reviews:narrative_edit", args=[narrative.pk])
    assert Narrative.objects.count() == 1
