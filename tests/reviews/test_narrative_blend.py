"""The narrative drafted as the blend of every source of the loop, stored as the Markdown people
wrote (never HTML-escaped), and kept up to date section by section with their say."""

import importlib
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import AnalysisSession
from reviews.models import Narrative, NarrativeRevision, Perspective, Review
from reviews.services import narrative as narrative_services
from reviews.services.blend import blend_changes, demote_headings, replace_section, split_sections
from reviews.services.review import learning_add
from tests.factories import (
    AnalysisSessionFactory,
    ContributingFactorFactory,
    ImprovementActionFactory,
    KeyEventFactory,
    LearningFactory,
    LearningThemeFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

TRICKY = 'the acquirer\'s "retry" cap & <budget>'


@pytest.fixture
def blended_incident(incident, pm, responder, teammate):
    """An incident with something in every source of the blend, special characters included."""
    incident.summary = f"Checkout failed: {TRICKY}."
    incident.detected_at = incident.started_at + timedelta(minutes=12)
    incident.mitigated_at = incident.started_at + timedelta(minutes=40)
    incident.resolved_at = incident.started_at + timedelta(hours=2, minutes=5)
    incident.save()
    ResponderFactory(incident=incident, user=teammate, role="Comms & status page")
    submitted = AnalysisSessionFactory(
        responder=incident.responders.get(user=responder),
        status=AnalysisSession.Status.SUBMITTED,
        submitted_at=timezone.now(),
        report=f"## What I saw\n\nThe pool drained: {TRICKY}.\n\n```\n## not a heading\n```",
    )
    submitted.themes.add(LearningThemeFactory(name="Retry storms"))
    AnalysisSessionFactory(
        responder=incident.responders.get(user=teammate),
        status=AnalysisSession.Status.IN_PROGRESS,
        report="Private draft that must stay out",
    )
    KeyEventFactory(analysis=submitted, description=f"Alert fired on {TRICKY}")
    review = ReviewFactory(
        incident=incident,
        facilitator=pm,
        context_notes=f"Quarter-end traffic: {TRICKY}",
        perspectives_notes="The on-call rota had just changed.",
    )
    Perspective.objects.create(review=review, author=teammate, body="Status page updates lagged.")
    technical = ContributingFactorFactory(
        review=review, kind="technical", description="Retries without backoff"
    )
    technical.themes.add(LearningThemeFactory(name="Observability gaps"))
    ContributingFactorFactory(review=review, kind="human", description="Runbook reused without review")
    LearningFactory(review=review, rank=2, description="Dashboards need dependencies")
    LearningFactory(review=review, rank=1, description="Budgets beat retries")
    ImprovementActionFactory(
        incident=incident,
        review=review,
        raised_by=pm,
        owner=responder,
        title="Add a retry budget",
        external_key="PAY-42",
        external_url="https://jira.example.org/browse/PAY-42",
    )
    return incident


def test_the_draft_blends_every_source_field_by_field(blended_incident, pm):
    body = narrative_services.narrative_draft(incident=blended_incident, by=pm).body
    sections = split_sections(body)

    assert f"Checkout failed: {TRICKY}." in sections["Summary"]
    assert "**Detected:**" in sections["Key facts"] and "(after 12 min)" in sections["Key facts"]
    assert "(after 40 min)" in sections["Key facts"] and "(after 2 h 5 min)" in sections["Key facts"]
    assert "Rui Oncall — Incident commander" in sections["Who responded"]
    assert "Tess Mate — Comms & status page" in sections["Who responded"]
    made_sense = sections["What made sense at the time"]
    assert "### Rui Oncall" in made_sense
    assert "#### What I saw" in made_sense  # the report's own heading, moved below the section's
    assert "## not a heading" in made_sense  # code stays as written
    assert f"The pool drained: {TRICKY}." in made_sense
    assert "*Themes: Retry storms*" in made_sense
    assert "Private draft" not in body
    assert f"Alert fired on {TRICKY}" in sections["Timeline"]
    assert f"Quarter-end traffic: {TRICKY}" in sections["Context"]
    assert "**Tess Mate:** Status page updates lagged." in sections["Perspectives"]
    assert "The on-call rota had just changed." in sections["Perspectives"]
    factors = sections["Contributing factors"]
    assert factors.index("### Human") < factors.index("### Technical")
    assert "Retries without backoff _(themes: Observability gaps)_" in factors
    learned = sections["What we learned"]
    assert learned.index("1. Budgets beat retries") < learned.index("2. Dashboards need dependencies")
    assert (
        "Add a retry budget ([PAY-42](https://jira.example.org/browse/PAY-42))"
        in sections["What we are changing"]
    )


def test_drafts_are_stored_as_written_not_html_escaped(blended_incident, pm, client):
    narrative = narrative_services.narrative_draft(incident=blended_incident, by=pm)

    for escaped in ("&#x27;", "&amp;", "&lt;", "&quot;", "&#39;"):
        assert escaped not in narrative.body
    assert narrative.revisions.get().body == narrative.body
    client.force_login(pm)
    editor = client.get(reverse("reviews:narrative_edit", args=[narrative.pk])).text
    assert "the acquirer&#x27;s &quot;retry&quot; cap &amp; &lt;budget&gt;" in editor  # escaped once
    assert "&amp;#x27;" not in editor and "&amp;amp;" not in editor
    page = client.get(narrative.get_absolute_url()).text
    assert "acquirer" in page and "&amp;#x27;" not in page and "&amp;amp;" not in page


def test_searching_for_a_word_with_an_apostrophe_finds_the_draft_text(postgres, blended_incident, pm):
    from reviews.selectors import narrative_library

    narrative = narrative_services.narrative_draft(incident=blended_incident, by=pm)
    review = blended_incident.review
    Review.objects.filter(pk=review.pk).update(status=Review.Status.HELD, held_at=timezone.now())
    AnalysisSession.objects.filter(incident=blended_incident).update(status=AnalysisSession.Status.SUBMITTED)
    narrative_services.narrative_publish(narrative=narrative, by=pm)

    assert list(narrative_library(viewer=pm, query="acquirer's")) == [narrative]


def test_changed_sources_are_offered_per_section_and_taken_in_only_when_accepted(
    blended_incident, pm, client
):
    narrative = narrative_services.narrative_draft(incident=blended_incident, by=pm)
    learning_add(review=blended_incident.review, by=pm, description="Rotas need a handover")
    client.force_login(pm)

    page = client.get(reverse("reviews:narrative_edit", args=[narrative.pk])).text
    assert "Changed since it was drafted" in page and "+3. Rotas need a handover" in page
    narrative.refresh_from_db()
    assert "Rotas need a handover" not in narrative.body  # nothing taken in by looking

    response = client.post(
        reverse("reviews:narrative_blend", args=[narrative.pk]),
        {"version": narrative.version, "section": "What we learned", "decision": "accept"},
    )

    assert response.status_code == 302
    narrative.refresh_from_db()
    assert "3. Rotas need a handover" in split_sections(narrative.body)["What we learned"]
    assert narrative.version == 2 and narrative.revisions.count() == 2
    assert (
        "Changed since it was drafted"
        not in client.get(reverse("reviews:narrative_edit", args=[narrative.pk])).text
    )


def test_ignoring_a_change_keeps_the_persons_text_and_stops_offering_it(blended_incident, pm):
    narrative = narrative_services.narrative_draft(incident=blended_incident, by=pm)
    edited = replace_section(narrative.body, "What we learned", "We learned to slow down.")
    narrative = narrative_services.narrative_save(
        narrative=narrative, by=pm, version=1, changes={"title": narrative.title, "body": edited}
    )
    learning_add(review=blended_incident.review, by=pm, description="Rotas need a handover")
    (change,) = blend_changes(body=narrative.body, drafted=narrative.blend, incident=blended_incident)
    assert change.title == "What we learned" and change.edited

    narrative = narrative_services.narrative_blend_apply(
        narrative=narrative, by=pm, version=narrative.version, ignore=["What we learned"]
    )

    assert split_sections(narrative.body)["What we learned"] == "We learned to slow down."
    assert narrative.version == 2
    assert blend_changes(body=narrative.body, drafted=narrative.blend, incident=blended_incident) == []


def test_taking_in_a_change_on_a_stale_version_is_refused(blended_incident, pm, client):
    narrative = narrative_services.narrative_draft(incident=blended_incident, by=pm)
    learning_add(review=blended_incident.review, by=pm, description="Rotas need a handover")
    client.force_login(pm)

    client.post(
        reverse("reviews:narrative_blend", args=[narrative.pk]),
        {"version": 99, "section": "What we learned", "decision": "accept"},
    )

    narrative.refresh_from_db()
    assert narrative.version == 1 and "Rotas" not in narrative.body


@pytest.mark.parametrize(
    "data",
    [
        {"version": 1, "section": "No such section", "decision": "accept"},
        {"version": 1, "section": "What we learned", "decision": "merge"},
        {"version": "x", "section": "What we learned", "decision": "accept"},
        {},
    ],
)
def test_bad_blend_decisions_change_nothing(blended_incident, pm, client, data):
    narrative = narrative_services.narrative_draft(incident=blended_incident, by=pm)
    learning_add(review=blended_incident.review, by=pm, description="Rotas need a handover")
    client.force_login(pm)

    response = client.post(reverse("reviews:narrative_blend", args=[narrative.pk]), data, follow=True)

    assert response.status_code == 200
    narrative.refresh_from_db()
    assert narrative.version == 1 and "Rotas" not in narrative.body


def test_only_the_team_takes_changes_in(blended_incident, pm, other_team_member, client):
    narrative = narrative_services.narrative_draft(incident=blended_incident, by=pm)
    helper = UserFactory(username="helper")
    ResponderFactory(incident=blended_incident, user=helper)
    data = {"version": 1, "section": "What we learned", "decision": "accept"}
    for person, status in ((other_team_member, 404), (helper, 404)):
        client.force_login(person)
        assert (
            client.post(reverse("reviews:narrative_blend", args=[narrative.pk]), data).status_code == status
        )


def test_demoting_headings_leaves_code_alone():
    text = "# Title\n## Part\n```\n# comment\n```\n###### deep\n#hashtag"
    assert demote_headings(text) == "### Title\n#### Part\n```\n# comment\n```\n###### deep\n#hashtag"


def test_the_migration_repairs_escaped_narratives_and_revisions(incident, pm):
    from django.apps import apps

    repair = importlib.import_module("reviews.migrations.0007_narrative_blend_and_traceability")
    narrative = narrative_services.narrative_draft(incident=incident, by=pm)
    escaped = "stuck in &#x27;pending&#x27; &amp; &lt;retrying&gt; &quot;forever&quot;"
    Narrative.objects.filter(pk=narrative.pk).update(body=escaped)
    NarrativeRevision.objects.filter(narrative=narrative).update(body=escaped)

    repair.unescape_drafted_text(apps, None)

    expected = "stuck in 'pending' & <retrying> \"forever\""
    assert Narrative.objects.get(pk=narrative.pk).body == expected
    assert NarrativeRevision.objects.get(narrative=narrative).body == expected


def test_sections_split_and_replace_at_level_two_headings_outside_code():
    body = "Intro\n\n## One\n\nfirst\n```\n## inside code\n```\n\n## Two\n\nsecond\n"

    assert split_sections(body) == {"": "Intro", "One": "first\n```\n## inside code\n```", "Two": "second"}
    assert split_sections(replace_section(body, "One", "new"))["One"] == "new"
    assert split_sections(replace_section(body, "One", "new"))["Two"] == "second"
    assert split_sections(replace_section(body, "Three", "third"))["Three"] == "third"
    assert split_sections(replace_section(body, "", "Opening"))[""] == "Opening"
