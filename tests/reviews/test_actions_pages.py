"""Improvement actions in the browser: the action's page, inline edit on the backlog list, and
pushing an action raised before its team chose a tracker."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import AuditEntry, Team
from reviews.models import ImprovementAction
from reviews.services.actions import action_raise
from tests.factories import (
    ContributingFactorFactory,
    ImprovementActionFactory,
    LearningFactory,
    ResponderFactory,
    ReviewFactory,
)

SyncState = ImprovementAction.SyncState


@pytest.fixture
def action(incident, pm):
    return action_raise(
        incident=incident,
        review=None,
        by=pm,
        title="Add a circuit breaker",
        description="Stop the retry storm.",
        kind="technical",
        owner=pm,
        priority="high",
        due_date=None,
    )


@pytest.fixture
def helper_from_another_team(other_team_member, incident):
    # A responder from another team sees the incident but is not of its team.
    ResponderFactory(incident=incident, user=other_team_member, role="Database expert")
    return other_team_member


def queries_of(get) -> int:
    """How many queries `get()` makes. The connection's log is emptied first: once it holds its
    maximum, a capture would count nothing."""
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as captured:
        get()
    return len(captured.captured_queries)


def page_url(action: ImprovementAction) -> str:
    return reverse("reviews:action", args=[action.pk])


def inline_url(action: ImprovementAction) -> str:
    return reverse("reviews:action_inline_edit", args=[action.pk])


def inline_post(action: ImprovementAction, **changes) -> dict[str, str]:
    """The inline form as the list rendered it (each field with the value it was read at), with `changes`."""
    read = {
        "title": action.title,
        "kind": action.kind,
        "owner": action.owner.username if action.owner else "",
        "priority": action.priority,
        "due_date": action.due_date.isoformat() if action.due_date else "",
    }
    prefix = f"action-{action.pk}"
    data = {f"{prefix}-{name}": value for name, value in {**read, **changes}.items()}
    data.update({f"initial-{prefix}-{name}": value for name, value in read.items()})
    return data


def page_post(action: ImprovementAction, **changes) -> dict[str, object]:
    read = {
        "title": action.title,
        "description": action.description,
        "kind": action.kind,
        "owner": action.owner.username if action.owner else "",
        "priority": action.priority,
        "due_date": action.due_date.isoformat() if action.due_date else "",
        "learnings": [str(pk) for pk in action.learnings.values_list("pk", flat=True)],
        "factors": [str(pk) for pk in action.factors.values_list("pk", flat=True)],
    }
    data = {f"action-{name}": value for name, value in {**read, **changes}.items()}
    data.update({f"initial-action-{name}": value for name, value in read.items()})
    return data


# --- the action's page ------------------------------------------------------------------------


def test_the_action_page_shows_the_action_its_sync_and_history(client, pm, action):
    client.force_login(pm)
    response = client.get(page_url(action))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Add a circuit breaker" in html
    assert "Checkout timeouts" in html
    assert "Save the action" in html
    assert "Priya Manager: raised it" in html


def test_the_action_page_is_read_only_for_a_responder_from_another_team(
    client, helper_from_another_team, action
):
    client.force_login(helper_from_another_team)
    response = client.get(page_url(action))
    assert response.status_code == 200
    assert "Save the action" not in response.content.decode()


def test_the_action_page_is_hidden_from_outsiders(client, outsider, action):
    client.force_login(outsider)
    assert client.get(page_url(action)).status_code == 404
    assert client.post(page_url(action), page_post(action, title="Mine")).status_code == 404


def test_a_responder_from_another_team_cannot_change_the_action(client, helper_from_another_team, action):
    client.force_login(helper_from_another_team)
    assert client.post(page_url(action), page_post(action, title="Mine")).status_code == 403
    assert client.post(inline_url(action), inline_post(action, title="Mine")).status_code == 403
    action.refresh_from_db()
    assert action.title == "Add a circuit breaker"


def test_any_member_of_the_incidents_team_may_change_the_action(client, teammate, action):
    client.force_login(teammate)
    assert "Save the action" in client.get(page_url(action)).content.decode()
    response = client.post(inline_url(action), inline_post(action, priority="medium"))
    assert response.status_code == 302
    action.refresh_from_db()
    assert action.priority == "medium"


def test_the_action_page_keeps_a_fixed_number_of_queries(client, pm, incident, action):
    review = ReviewFactory(incident=incident, facilitator=pm)
    client.force_login(pm)
    few = queries_of(lambda: client.get(page_url(action)))
    for rank in range(5):
        action.learnings.add(LearningFactory(review=review, rank=rank + 1))
        action.factors.add(ContributingFactorFactory(review=review))
    client.post(page_url(action), page_post(action, title="Circuit breaker, again"))
    assert 0 < queries_of(lambda: client.get(page_url(action))) <= few


def test_the_page_saves_the_fields_changed_and_records_them(client, pm, responder, action):
    client.force_login(pm)
    response = client.post(
        page_url(action),
        page_post(
            action, owner="RESPONDER@example.org", due_date="2026-12-24", description="Cap retries too."
        ),
    )
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.owner, action.due_date, action.description) == (
        responder,
        date(2026, 12, 24),
        "Cap retries too.",
    )
    entry = AuditEntry.objects.filter(verb="action.updated").get()
    assert set(entry.changes) == {"owner", "due_date", "description"}
    assert (
        "Priya Manager: changed (description, owner, due date)"
        in client.get(page_url(action)).content.decode()
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"title": "   "}, "title", "This field is required."),
        ({"title": "x" * 201}, "title", "at most 200 characters"),
        ({"kind": "magic"}, "kind", "Select a valid choice"),
        ({"priority": "urgent"}, "priority", "Select a valid choice"),
        ({"owner": "nobody-here"}, "owner", "Not an active member of the organisation: nobody-here."),
        ({"owner": "pm, responder"}, "owner", "Enter one member."),
        ({"due_date": "31/02/2026"}, "due_date", "Enter a valid date."),
        ({"learnings": ["999999"]}, "learnings", "Select a valid choice"),
    ],
)
def test_bad_input_on_the_page_is_refused_with_the_fields_errors(client, pm, action, changes, field, message):
    client.force_login(pm)
    response = client.post(page_url(action), page_post(action, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    action.refresh_from_db()
    assert (action.title, action.kind, action.priority, action.owner) == (
        "Add a circuit breaker",
        "technical",
        "high",
        action.raised_by,
    )


def test_the_action_traces_to_learnings_and_factors_of_its_incidents_review(client, pm, incident, action):
    review = ReviewFactory(incident=incident, facilitator=pm)
    learning = LearningFactory(review=review, description="Timeouts shorter than the caller's")
    factor = ContributingFactorFactory(review=review, description="No backoff on retries")
    client.force_login(pm)
    response = client.post(
        page_url(action), page_post(action, learnings=[str(learning.pk)], factors=[str(factor.pk)])
    )
    assert response.status_code == 302
    assert list(action.learnings.all()) == [learning]
    assert list(action.factors.all()) == [factor]
    html = client.get(page_url(action)).content.decode()
    assert "Timeouts shorter than the caller&#x27;s" in html
    assert "No backoff on retries" in html


def test_learnings_of_another_incident_cannot_be_linked(client, pm, action):
    elsewhere = LearningFactory()
    client.force_login(pm)
    response = client.post(page_url(action), page_post(action, learnings=[str(elsewhere.pk)]))
    assert response.status_code == 400
    assert not action.learnings.exists()


def test_two_people_changing_different_fields_both_keep_their_change(
    client, pm, problem_manager, responder, action
):
    # Both read the page before either saved.
    read_by_pm = page_post(action, priority="lowest")
    read_by_problem_manager = page_post(action, owner=responder.username)
    client.force_login(pm)
    assert client.post(page_url(action), read_by_pm).status_code == 302
    client.force_login(problem_manager)
    assert client.post(page_url(action), read_by_problem_manager).status_code == 302
    action.refresh_from_db()
    assert (action.priority, action.owner) == ("lowest", responder)


# --- inline edit on the backlog list ----------------------------------------------------------


def test_the_backlog_list_offers_inline_edit_to_those_who_may_change_actions(
    client, pm, helper_from_another_team, action
):
    client.force_login(pm)
    html = client.get(reverse("reviews:actions")).content.decode()
    assert inline_url(action) in html
    client.force_login(helper_from_another_team)
    html = client.get(reverse("reviews:actions")).content.decode()
    assert "Add a circuit breaker" in html
    assert inline_url(action) not in html


def test_the_backlog_list_keeps_a_fixed_number_of_queries(client, pm, incident):
    for _ in range(3):
        ImprovementActionFactory(incident=incident, owner=pm)
    client.force_login(pm)
    few = queries_of(lambda: client.get(reverse("reviews:actions")))
    for _ in range(10):
        ImprovementActionFactory(incident=incident, owner=pm)
    assert 0 < queries_of(lambda: client.get(reverse("reviews:actions"))) <= few


def test_inline_edit_with_htmx_answers_the_row_again(client, pm, action):
    client.force_login(pm)
    response = client.post(
        inline_url(action), inline_post(action, title="Circuit breaker on checkout"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="action-row-{action.pk}"')
    assert "Circuit breaker on checkout" in html
    action.refresh_from_db()
    assert action.title == "Circuit breaker on checkout"


def test_inline_edit_without_javascript_goes_back_to_the_list(client, pm, action):
    client.force_login(pm)
    data = inline_post(action, priority="low")
    data["next"] = "/actions/?status=open"
    response = client.post(inline_url(action), data)
    assert response.status_code == 302
    assert response["Location"] == "/actions/?status=open"
    action.refresh_from_db()
    assert action.priority == "low"


def test_inline_edit_never_redirects_elsewhere(client, pm, action):
    client.force_login(pm)
    data = inline_post(action, priority="low")
    data["next"] = "https://evil.example/"
    response = client.post(inline_url(action), data)
    assert response["Location"] == reverse("reviews:actions")


def test_bad_inline_input_with_htmx_answers_400_with_the_row_and_its_errors(client, pm, action):
    client.force_login(pm)
    response = client.post(
        inline_url(action), inline_post(action, title="", owner="ghost"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "data-error-summary" in html
    assert "Not an active member of the organisation: ghost." in html
    assert 'aria-invalid="true"' in html
    assert '<details class="inline-edit" open>' in html


def test_bad_inline_input_without_javascript_shows_the_action_page_with_the_errors(client, pm, action):
    client.force_login(pm)
    data = inline_post(action, due_date="someday")
    data["next"] = "/actions/"
    response = client.post(inline_url(action), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Enter a valid date." in html
    assert f'action="{inline_url(action)}"' in html
    assert 'name="next" value="/actions/"' in html


def test_inline_edit_is_hidden_from_outsiders(client, outsider, action):
    client.force_login(outsider)
    assert client.post(inline_url(action), inline_post(action, title="Mine")).status_code == 404


def test_inline_edit_refuses_get(client, pm, action):
    client.force_login(pm)
    assert client.get(inline_url(action)).status_code == 405


# --- push to backlog --------------------------------------------------------------------------


@pytest.fixture
def team_with_jira_now(team):
    team.tracker = Team.Tracker.JIRA
    team.save()
    return team


def test_an_action_never_synced_offers_a_push_once_the_team_has_a_tracker(client, pm, action, team):
    client.force_login(pm)
    assert "Push to" not in client.get(page_url(action)).content.decode()
    team.tracker = Team.Tracker.JIRA
    team.save()
    assert "Push to Jira" in client.get(page_url(action)).content.decode()
    assert "Push to Jira" in client.get(reverse("reviews:actions")).content.decode()


def test_pushing_from_the_page_requests_a_sync_through_the_outbox(
    client, pm, action, team_with_jira_now, django_capture_on_commit_callbacks
):
    assert action.sync_state == SyncState.NOT_SYNCED
    client.force_login(pm)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("backlog:retry", args=[action.pk]), {"next": page_url(action)})
    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.sync_state, action.tracker) == (SyncState.PENDING, "jira")
    assert len(callbacks) == 1
    assert AuditEntry.objects.filter(verb="action.push_requested", actor=pm).exists()


def test_pushing_through_the_api_uses_the_same_service(
    client, pm, action, team_with_jira_now, django_capture_on_commit_callbacks
):
    client.force_login(pm)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"/api/actions/{action.pk}/retry-sync/")
    assert response.status_code == 200
    assert response.json()["sync_state"] == "pending"
    assert len(callbacks) == 1
    assert AuditEntry.objects.filter(verb="action.push_requested", actor=pm).exists()


def test_a_push_is_refused_while_the_team_keeps_no_tracker(client, pm, action):
    client.force_login(pm)
    response = client.post(
        reverse("backlog:retry", args=[action.pk]), {"next": page_url(action)}, follow=True
    )
    assert "keeps no backlog tracker" in response.content.decode()
    action.refresh_from_db()
    assert action.sync_state == SyncState.NOT_SYNCED


def test_a_responder_from_another_team_cannot_push(
    client, helper_from_another_team, action, team_with_jira_now
):
    client.force_login(helper_from_another_team)
    assert client.post(reverse("backlog:retry", args=[action.pk])).status_code == 403
    action.refresh_from_db()
    assert action.sync_state == SyncState.NOT_SYNCED
