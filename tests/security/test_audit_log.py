"""The audit log page and selector: product managers read their teams' entries, problem managers
and admins everything, nobody else anything."""

import pytest

from incidents.audit import audit_entries
from incidents.models import AuditEntry
from incidents.services import audit_record
from reviews.broadcast.services import delivery_retry
from reviews.models import Delivery
from reviews.services import review as review_services
from tests.factories import IncidentFactory, NarrativeFactory, ReviewFactory, TeamFactory

AUDIT_URL = "/audit/"


@pytest.fixture
def entries(incident, other_team, pm, other_team_member, problem_manager):
    """One entry per team, and one organisation-wide entry with no team."""
    other_incident = IncidentFactory(team=other_team, declared_by=other_team_member, title="Search is slow")
    ours = audit_record(actor=pm, verb="incident.declared", target=incident, team=incident.team)
    theirs = audit_record(
        actor=other_team_member, verb="incident.declared", target=other_incident, team=other_team
    )
    organisation = audit_record(
        actor=problem_manager, verb="theme.created", target=problem_manager, changes={"name": "Retries"}
    )
    return ours, theirs, organisation


def test_product_managers_read_their_teams_entries_only(client, pm, entries):
    ours = entries[0]
    assert list(audit_entries(viewer=pm)) == [ours]

    client.force_login(pm)
    response = client.get(AUDIT_URL)
    assert response.status_code == 200
    assert "Checkout timeouts" in response.text
    assert "Search is slow" not in response.text


@pytest.mark.parametrize("persona", ["problem_manager", "admin_user"])
def test_problem_managers_and_admins_read_every_entry(client, persona, request, entries):
    viewer = request.getfixturevalue(persona)
    assert set(audit_entries(viewer=viewer)) == set(entries)

    client.force_login(viewer)
    response = client.get(AUDIT_URL)
    assert response.status_code == 200
    assert "Search is slow" in response.text
    assert "theme.created" in response.text


@pytest.mark.parametrize("persona", ["responder", "teammate", "other_team_member", "outsider"])
def test_people_who_manage_no_team_are_refused(client, persona, request, entries):
    viewer = request.getfixturevalue(persona)
    assert not audit_entries(viewer=viewer).exists()

    client.force_login(viewer)
    assert client.get(AUDIT_URL).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, entries):
    response = client.get(AUDIT_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_entries_can_be_narrowed_to_a_team_and_a_verb(client, problem_manager, entries):
    ours, _theirs, organisation = entries
    client.force_login(problem_manager)

    by_team = client.get(AUDIT_URL, {"team": ours.team.slug})
    assert list(by_team.context["page"].object_list) == [ours]
    by_verb = client.get(AUDIT_URL, {"verb": "theme.created"})
    assert list(by_verb.context["page"].object_list) == [organisation]


def test_a_product_manager_cannot_filter_their_way_into_another_team(client, pm, other_team, entries):
    client.force_login(pm)
    response = client.get(AUDIT_URL, {"team": other_team.slug})
    assert "Search is slow" not in response.text


def test_entries_render_inert(client, problem_manager, incident):
    payload = "<script>alert('audit')</script>"
    audit_record(actor=problem_manager, verb="incident.updated", target=incident, changes={"title": payload})
    client.force_login(problem_manager)
    response = client.get(AUDIT_URL)
    assert payload not in response.text
    assert "&lt;script&gt;" in response.text


@pytest.mark.parametrize("count", [10, 120])
def test_the_page_issues_the_same_queries_whatever_the_volume(
    client, problem_manager, pm, count, django_assert_num_queries
):
    team = TeamFactory()
    incident = IncidentFactory(team=team, declared_by=pm)
    AuditEntry.objects.bulk_create(
        AuditEntry(
            actor=pm,
            verb="incident.updated",
            target_type="incidents.incident",
            target_id=str(incident.pk),
            target_repr=incident.title,
            team=team,
        )
        for _ in range(count)
    )
    client.force_login(problem_manager)
    client.get(AUDIT_URL)  # warm the session
    # session + user, teams for the filter, count, page (actor and team joined)
    with django_assert_num_queries(5):
        response = client.get(AUDIT_URL, {"page": "2"} if count > 50 else {})
    assert response.status_code == 200


def test_product_managers_read_the_review_and_broadcast_entries_of_their_team(client, pm, incident):
    """The facilitation verbs and a broadcast retry name no team: the entry takes its target's."""
    review = ReviewFactory(incident=incident, facilitator=pm)
    review_services.review_start(review=review, by=pm)
    review_services.review_step_go(review=review, by=pm, step=review.Step.CONTEXT)
    review_services.review_step_set(review=review, by=pm, step=review.Step.REPORTS, done=True)
    review_services.review_notes_save(
        review=review, by=pm, field="context_notes", text="Peak hour.", version=1
    )
    review_services.perspective_save(review=review, by=pm, body="We paged late.", version=0)
    factor = review_services.factor_add(review=review, by=pm, description="No timeout.", kind="technical")
    review_services.learning_add(review=review, by=pm, description="Set timeouts.")
    review_services.review_mark_held(review=review, by=pm)
    narrative = NarrativeFactory(incident=incident, created_by=pm)
    failed = Delivery.objects.create(
        narrative=narrative,
        publication=1,
        channel=Delivery.Channel.SLACK,
        recipient="#incidents",
        state="failed",
    )
    delivery_retry(delivery=failed, by=pm)

    verbs = {
        "review.started",
        "review.step_current",
        "review.step_done",
        "review.notes_updated",
        "perspective.added",
        "factor.added",
        "learning.added",
        "review.held",
        "broadcast.retry",
    }
    assert set(AuditEntry.objects.filter(verb__in=verbs).values_list("team", flat=True)) == {incident.team_id}
    assert verbs <= set(audit_entries(viewer=pm).values_list("verb", flat=True))
    client.force_login(pm)
    response = client.get(AUDIT_URL, {"verb": "factor.added"})
    assert [entry.target_id for entry in response.context["page"].object_list] == [str(factor.pk)]


@pytest.mark.parametrize(
    ("persona", "shown"),
    [
        ("pm", True),
        ("problem_manager", True),
        ("admin_user", True),
        ("responder", False),
        ("outsider", False),
    ],
)
def test_the_navigation_links_the_audit_log_for_exactly_those_the_page_lets_in(
    client, persona, shown, request
):
    viewer = request.getfixturevalue(persona)
    client.force_login(viewer)
    page = client.get("/incidents/")
    assert (f'href="{AUDIT_URL}"' in page.text) is shown
    assert (client.get(AUDIT_URL).status_code == 200) is shown
