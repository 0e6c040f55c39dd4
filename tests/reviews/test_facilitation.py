"""The review as a live meeting: each part saved on its own, versions, participants, live refresh."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from incidents.models import AnalysisSession, KeyEvent
from incidents.services import StaleVersion
from reviews.models import (
    ContributingFactor,
    FactorSuggestion,
    ImprovementAction,
    Learning,
    Perspective,
    Review,
)
from reviews.services import review as review_services
from reviews.services.actions import action_raise
from tests.factories import AnalysisSessionFactory, InterviewFactory, KeyEventFactory, ResponderFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def raise_action(review, pm, title="Add a retry budget"):
    return action_raise(
        incident=review.incident, review=review, by=pm, title=title, description="", kind="technical",
        owner=None, priority="medium", due_date=None,
    )  # fmt: skip


class IdCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.ids += [value for name, value in attrs if name == "id"]


def element_ids(html: str) -> list[str]:
    parser = IdCollector()
    parser.feed(html)
    return parser.ids


# --- services -------------------------------------------------------------------------------


def test_saving_one_notes_field_leaves_the_other_alone(review, pm):
    review_services.review_notes_save(
        review=review, by=pm, field="perspectives_notes", text="Ops saw a cache issue", version=1
    )
    review = review_services.review_notes_save(
        review=review, by=pm, field="context_notes", text="Quarter-end freeze", version=1
    )
    assert (review.context_notes, review.context_notes_version) == ("Quarter-end freeze", 2)
    assert (review.perspectives_notes, review.perspectives_notes_version) == ("Ops saw a cache issue", 2)


def test_a_notes_save_based_on_a_stale_version_is_refused(review, pm):
    review_services.review_notes_save(review=review, by=pm, field="context_notes", text="First", version=1)
    with pytest.raises(StaleVersion) as stale:
        review_services.review_notes_save(
            review=review, by=pm, field="context_notes", text="Second", version=1
        )
    assert stale.value.current_version == 2
    review.refresh_from_db()
    assert review.context_notes == "First"


def test_unknown_notes_field_and_overlong_notes_are_refused(review, pm):
    with pytest.raises(ValidationError):
        review_services.review_notes_save(review=review, by=pm, field="status", text="held", version=1)
    with pytest.raises(ValidationError):
        review_services.review_notes_save(
            review=review, by=pm, field="context_notes", text="x" * 20001, version=1
        )


def test_each_participant_gives_one_perspective_and_edits_it_by_version(review, responder, teammate):
    first = review_services.perspective_save(review=review, by=responder, body="I saw alerts late", version=0)
    review_services.perspective_save(review=review, by=teammate, body="Deploy looked fine", version=0)
    edited = review_services.perspective_save(
        review=review, by=responder, body="I saw alerts late; paging was muted", version=1
    )
    assert edited.pk == first.pk and edited.version == 2
    with pytest.raises(StaleVersion):
        review_services.perspective_save(review=review, by=responder, body="Overwrite", version=1)
    with pytest.raises(StaleVersion):
        review_services.perspective_save(review=review, by=teammate, body="A second one", version=0)
    assert dict(Perspective.objects.values_list("author__username", "body")) == {
        "responder": "I saw alerts late; paging was muted",
        "teammate": "Deploy looked fine",
    }


def test_only_people_in_the_meeting_give_perspectives_or_suggest_factors(review, other_team_member):
    with pytest.raises(PermissionDenied):
        review_services.perspective_save(review=review, by=other_team_member, body="Me too", version=0)
    with pytest.raises(PermissionDenied):
        review_services.factor_suggest(review=review, by=other_team_member, description="x", kind="human")
    assert not Perspective.objects.exists() and not FactorSuggestion.objects.exists()


def test_an_empty_perspective_is_refused(review, responder):
    with pytest.raises(ValidationError):
        review_services.perspective_save(review=review, by=responder, body="   ", version=0)


def test_a_suggested_factor_becomes_a_factor_as_the_facilitator_words_it(review, pm, teammate):
    suggestion = review_services.factor_suggest(
        review=review, by=teammate, description="no backoff", kind="technical"
    )
    factor = review_services.factor_suggestion_accept(
        suggestion=suggestion, by=pm, description="Retries without backoff", kind="technical"
    )
    assert factor.description == "Retries without backoff"
    assert not FactorSuggestion.objects.exists()
    with pytest.raises(ValidationError):
        review_services.factor_suggestion_accept(
            suggestion=suggestion, by=pm, description="Again", kind="human"
        )
    dismissed = review_services.factor_suggest(
        review=review, by=teammate, description="Bad luck", kind="human"
    )
    review_services.factor_suggestion_dismiss(suggestion=dismissed, by=pm)
    assert list(ContributingFactor.objects.values_list("description", flat=True)) == [
        "Retries without backoff"
    ]


def test_factors_and_learnings_are_edited_by_version(review, pm):
    factor = review_services.factor_add(review=review, by=pm, description="No backoff", kind="technical")
    learning = review_services.learning_add(review=review, by=pm, description="Budgets")
    factor = review_services.factor_update(
        factor=factor, by=pm, description="No jitter", kind="technical", version=1
    )
    learning = review_services.learning_update(
        learning=learning, by=pm, description="Retry budgets", version=1
    )
    assert (factor.description, factor.version) == ("No jitter", 2)
    assert (learning.description, learning.version) == ("Retry budgets", 2)
    with pytest.raises(StaleVersion):
        review_services.factor_update(factor=factor, by=pm, description="Old", kind="human", version=1)
    with pytest.raises(StaleVersion):
        review_services.learning_update(learning=learning, by=pm, description="Old", version=1)
    with pytest.raises(ValidationError):
        review_services.factor_update(factor=factor, by=pm, description="x", kind="magic", version=2)


def test_an_action_leaves_the_review_until_a_tracker_holds_it(review, pm):
    untracked = raise_action(review, pm, "Write the runbook")
    review_services.action_withdraw(action=untracked, by=pm)
    assert not ImprovementAction.objects.filter(pk=untracked.pk).exists()
    tracked = raise_action(review, pm, "Fix the retry loop")
    ImprovementAction.objects.filter(pk=tracked.pk).update(
        external_key="PAY-7", sync_state=ImprovementAction.SyncState.SYNCED
    )
    with pytest.raises(ValidationError, match="PAY-7"):
        review_services.action_withdraw(action=tracked, by=pm)
    assert ImprovementAction.objects.filter(pk=tracked.pk).exists()


def test_starting_runs_the_timer_and_finishing_a_step_moves_the_meeting_on(review, pm):
    review = review_services.review_start(review=review, by=pm)
    assert review.started_at is not None and review.current_step == "reports"
    with pytest.raises(ValidationError):
        review_services.review_start(review=review, by=pm)
    review = review_services.review_step_set(review=review, by=pm, step="reports", done=True)
    assert review.current_step == "context"
    review = review_services.review_step_go(review=review, by=pm, step="factors")
    assert review.current_step == "factors"
    with pytest.raises(ValidationError):
        review_services.review_step_go(review=review, by=pm, step="dance")


def test_every_change_raises_the_revision_that_pages_poll(review, pm, responder):
    revisions = []
    for change in (
        lambda: review_services.review_start(review=review, by=pm),
        lambda: review_services.review_notes_save(
            review=review, by=pm, field="context_notes", text="x", version=1
        ),
        lambda: review_services.perspective_save(review=review, by=responder, body="y", version=0),
        lambda: review_services.factor_add(review=review, by=pm, description="z", kind="human"),
        lambda: review_services.learning_add(review=review, by=pm, description="w"),
    ):
        change()
        revisions.append(Review.objects.get(pk=review.pk).revision)
    assert revisions == sorted(set(revisions))


# --- the page -------------------------------------------------------------------------------


def test_saving_context_on_the_page_never_overwrites_perspectives_saved_meanwhile(
    client, review, pm, problem_manager
):
    client.force_login(pm)
    page = client.get(review.get_absolute_url())
    assert 'name="perspectives_notes"' not in page.text
    review_services.review_notes_save(
        review=review, by=problem_manager, field="perspectives_notes", text="Saved elsewhere", version=1
    )
    response = client.post(
        reverse("reviews:notes", args=[review.pk, "context_notes"]),
        {"context_notes-version": "1", "context_notes-text": "Budget season"},
        **HTMX,
    )
    assert response.status_code == 200
    review.refresh_from_db()
    assert (review.context_notes, review.perspectives_notes) == ("Budget season", "Saved elsewhere")


def test_two_people_typing_in_context_and_a_perspective_lose_nothing(client, review, pm, responder):
    facilitator, attendee = client, client.__class__()
    facilitator.force_login(pm)
    attendee.force_login(responder)
    facilitator.get(review.get_absolute_url())
    attendee.get(review.get_absolute_url())
    attendee_saved = attendee.post(
        reverse("reviews:perspective", args=[review.pk]),
        {"perspective-version": "0", "perspective-body": "Paging was muted"},
        **HTMX,
    )
    facilitator_saved = facilitator.post(
        reverse("reviews:notes", args=[review.pk, "context_notes"]),
        {"context_notes-version": "1", "context_notes-text": "Release freeze"},
        **HTMX,
    )
    assert (attendee_saved.status_code, facilitator_saved.status_code) == (200, 200)
    review.refresh_from_db()
    assert review.context_notes == "Release freeze"
    assert review.perspectives.get().body == "Paging was muted"


def test_a_stale_save_on_the_page_is_a_409_showing_both_texts(client, review, pm, problem_manager):
    review_services.review_notes_save(
        review=review, by=problem_manager, field="context_notes", text="Their context", version=1
    )
    client.force_login(pm)
    response = client.post(
        reverse("reviews:notes", args=[review.pk, "context_notes"]),
        {"context_notes-version": "1", "context_notes-text": "My context"},
        **HTMX,
    )
    assert response.status_code == 409
    assert "Their context" in response.text and "My context" in response.text
    assert 'name="context_notes-version" value="2"' in response.text
    assert "<html" not in response.text
    review.refresh_from_db()
    assert review.context_notes == "Their context"


def test_a_stale_perspective_save_is_a_409_and_keeps_the_stored_text(client, review, responder):
    review_services.perspective_save(review=review, by=responder, body="From my laptop", version=0)
    client.force_login(responder)
    response = client.post(
        reverse("reviews:perspective", args=[review.pk]),
        {"perspective-version": "0", "perspective-body": "From my phone"},
        **HTMX,
    )
    assert response.status_code == 409
    assert "From my laptop" in response.text and "From my phone" in response.text
    assert review.perspectives.get().body == "From my laptop"


@pytest.mark.parametrize(
    ("kind", "url_name", "field"),
    [("factor", "factor_update", "description"), ("learning", "learning_update", "description")],
)
def test_stale_factor_and_learning_edits_are_409s(client, review, pm, kind, url_name, field):
    if kind == "factor":
        item = review_services.factor_add(review=review, by=pm, description="Theirs", kind="human")
        review_services.factor_update(factor=item, by=pm, description="Theirs, v2", kind="human", version=1)
        data = {f"factor-{item.pk}-description": "Mine", f"factor-{item.pk}-kind": "human"}
    else:
        item = review_services.learning_add(review=review, by=pm, description="Theirs")
        review_services.learning_update(learning=item, by=pm, description="Theirs, v2", version=1)
        data = {f"learning-{item.pk}-description": "Mine"}
    client.force_login(pm)
    response = client.post(
        reverse(f"reviews:{url_name}", args=[review.pk, item.pk]),
        {**data, f"{kind}-{item.pk}-version": "1"},
        **HTMX,
    )
    assert response.status_code == 409
    assert "Theirs, v2" in response.text and "Mine" in response.text
    item.refresh_from_db()
    assert getattr(item, field) == "Theirs, v2"


def test_bad_input_with_htmx_returns_only_the_part_with_its_errors(client, review, pm):
    client.force_login(pm)
    response = client.post(
        reverse("reviews:factor_add", args=[review.pk]),
        {"factor-description": "", "factor-kind": "magic"},
        **HTMX,
    )
    assert response.status_code == 400
    assert response.text.lstrip().startswith('<div id="review-factors"')
    assert 'class="error"' in response.text and "data-unsaved" in response.text
    for url, data in (
        (reverse("reviews:notes", args=[review.pk, "context_notes"]), {"context_notes-version": "x"}),
        (
            reverse("reviews:perspective", args=[review.pk]),
            {"perspective-version": "0", "perspective-body": ""},
        ),
        (reverse("reviews:learning_add", args=[review.pk]), {"learning-description": "x" * 2001}),
        (reverse("reviews:action_add", args=[review.pk]), {"action-title": "", "action-kind": "x"}),
        (reverse("reviews:step", args=[review.pk]), {"step": "dance", "done": "1"}),
        (reverse("reviews:step_go", args=[review.pk]), {"step": ""}),
    ):
        response = client.post(url, data, **HTMX)
        assert response.status_code == 400, url
        assert "<html" not in response.text
    assert client.post(reverse("reviews:notes", args=[review.pk, "status"]), {}, **HTMX).status_code == 404
    assert not ContributingFactor.objects.exists() and not ImprovementAction.objects.exists()


def test_bad_input_without_javascript_renders_the_page_with_the_errors(client, review, pm):
    client.force_login(pm)
    response = client.post(reverse("reviews:learning_add", args=[review.pk]), {"learning-description": ""})
    assert response.status_code == 400
    assert "<html" in response.text and 'class="error"' in response.text


def test_a_successful_post_without_javascript_goes_back_to_its_step(client, review, pm):
    client.force_login(pm)
    response = client.post(
        reverse("reviews:learning_add", args=[review.pk]), {"learning-description": "Budgets"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#step-learnings")


def test_the_whole_meeting_runs_through_htmx_parts(client, review, pm, teammate):
    client.force_login(pm)
    for url, data in (
        (reverse("reviews:start", args=[review.pk]), {}),
        (reverse("reviews:step", args=[review.pk]), {"step": "reports", "done": "1"}),
        (
            reverse("reviews:notes", args=[review.pk, "context_notes"]),
            {"context_notes-version": "1", "context_notes-text": "Freeze"},
        ),
        (
            reverse("reviews:perspective", args=[review.pk]),
            {"perspective-version": "0", "perspective-body": "Mine"},
        ),
        (
            reverse("reviews:factor_add", args=[review.pk]),
            {"factor-description": "No backoff", "factor-kind": "technical"},
        ),
        (reverse("reviews:learning_add", args=[review.pk]), {"learning-description": "Budgets"}),
        (
            reverse("reviews:action_add", args=[review.pk]),
            {"action-title": "Budget", "action-kind": "technical", "action-priority": "high"},
        ),
    ):
        response = client.post(url, data, **HTMX)
        assert response.status_code == 200, (url, response.text[:300])
        assert "<html" not in response.text
    for step in Review.Step.values[1:]:
        client.post(reverse("reviews:step", args=[review.pk]), {"step": step, "done": "1"}, **HTMX)
    response = client.post(reverse("reviews:held", args=[review.pk]), **HTMX)
    assert response.status_code == 200 and 'hx-swap-oob="true"' in response.text
    review.refresh_from_db()
    assert review.status == Review.Status.HELD and review.all_steps_done


def test_an_action_is_edited_field_by_field_and_removed_from_the_review(client, review, pm, teammate):
    action = raise_action(review, pm)
    prefix = f"action-{action.pk}"
    seen = {
        "title": action.title,
        "description": "",
        "kind": "technical",
        "owner": "",
        "priority": "medium",
        "due_date": "",
    }
    ImprovementAction.objects.filter(pk=action.pk).update(priority="highest")
    posted = {f"{prefix}-{name}": value for name, value in seen.items()}
    posted |= {f"initial-{prefix}-{name}": value for name, value in seen.items()}
    posted[f"{prefix}-title"] = "Add a retry budget per client"
    client.force_login(pm)
    assert (
        client.post(reverse("reviews:action_edit", args=[review.pk, action.pk]), posted, **HTMX).status_code
        == 200
    )
    action.refresh_from_db()
    assert (action.title, action.priority) == ("Add a retry budget per client", "highest")
    bad = posted | {f"{prefix}-priority": "urgent"}
    assert (
        client.post(reverse("reviews:action_edit", args=[review.pk, action.pk]), bad, **HTMX).status_code
        == 400
    )
    client.force_login(teammate)
    assert (
        client.post(reverse("reviews:action_withdraw", args=[review.pk, action.pk]), **HTMX).status_code
        == 403
    )
    client.force_login(pm)
    assert (
        client.post(reverse("reviews:action_withdraw", args=[review.pk, action.pk]), **HTMX).status_code
        == 200
    )
    assert not ImprovementAction.objects.exists()


def test_the_held_button_is_the_primary_one_only_once_every_step_is_done(client, review, pm):
    client.force_login(pm)
    page = client.get(review.get_absolute_url()).text
    assert '<button type="submit" id="review-held">' in page
    assert 'class="primary" id="review-start"' in page
    for step in Review.Step.values:
        review_services.review_step_set(review=review, by=pm, step=step, done=True)
    assert (
        '<button type="submit" id="review-held" class="primary">'
        in client.get(review.get_absolute_url()).text
    )


def test_step_one_names_who_has_not_submitted_and_shows_the_interviews(client, review, pm, teammate):
    submitted = AnalysisSessionFactory(
        responder=review.incident.responders.get(),
        status=AnalysisSession.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )
    InterviewFactory(analysis=submitted, interviewee="The on-call DBA", notes="Saw the locks")
    AnalysisSessionFactory(responder=ResponderFactory(incident=review.incident, user=teammate))
    client.force_login(pm)
    page = client.get(review.get_absolute_url()).text
    reports = page[page.index('id="review-reports"') : page.index('id="step-state-reports"')]
    assert "Not submitted yet" in reports and teammate.display_name in reports
    assert "The on-call DBA" in reports and "Saw the locks" in reports


@pytest.mark.parametrize("persona", ["pm", "responder", "teammate"])
def test_the_page_has_no_duplicate_element_ids(client, review, pm, teammate, persona, request):
    review_services.factor_add(review=review, by=pm, description="No backoff", kind="technical")
    review_services.factor_add(review=review, by=pm, description="Muted pager", kind="human")
    review_services.factor_suggest(review=review, by=teammate, description="Old runbook", kind="human")
    review_services.learning_add(review=review, by=pm, description="Budgets")
    review_services.learning_add(review=review, by=pm, description="Paging")
    raise_action(review, pm, "One")
    raise_action(review, pm, "Two")
    review_services.perspective_save(review=review, by=teammate, body="Mine", version=0)
    client.force_login(request.getfixturevalue(persona))
    ids = element_ids(client.get(review.get_absolute_url()).text)
    assert ids and len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_the_live_poll_answers_204_until_something_changes(
    client, review, pm, responder, django_assert_max_num_queries
):
    client.force_login(responder)
    page = client.get(review.get_absolute_url())
    token = page.context["live_token"]
    url = reverse("reviews:live", args=[review.pk])
    with django_assert_max_num_queries(8):
        assert client.get(url, {"token": token}, **HTMX).status_code == 204
    review_services.factor_add(review=review, by=pm, description="No backoff", kind="technical")
    response = client.get(url, {"token": token}, **HTMX)
    assert response.status_code == 200
    assert "No backoff" in response.text
    assert response.text.count('hx-swap-oob="true"') >= 10
    new_token = response.context["live_token"]
    assert new_token != token
    assert client.get(url, {"token": new_token}, **HTMX).status_code == 204
    raise_action(review, pm)
    assert client.get(url, {"token": new_token}, **HTMX).status_code == 200


def test_an_attendee_from_another_team_takes_part(client, incident, pm, other_team_member):
    review = review_services.review_schedule(
        incident=incident, by=pm, scheduled_at=timezone.now() + timedelta(days=1), time_zone="UTC",
        duration_minutes=60, facilitator=pm, attendees=[other_team_member],
    )  # fmt: skip
    client.force_login(other_team_member)
    assert client.get(review.get_absolute_url()).status_code == 200
    response = client.post(
        reverse("reviews:perspective", args=[review.pk]),
        {"perspective-version": "0", "perspective-body": "From the search side"},
        **HTMX,
    )
    assert response.status_code == 200
    response = client.post(
        reverse("reviews:factor_suggest", args=[review.pk]),
        {"suggest-description": "Shared cache", "suggest-kind": "technical"},
        **HTMX,
    )
    assert response.status_code == 200
    assert FactorSuggestion.objects.get().suggested_by == other_team_member


def facilitator_only_posts(review, factor, learning, suggestion, action) -> list[tuple[str, dict]]:
    return [
        (reverse("reviews:start", args=[review.pk]), {}),
        (reverse("reviews:held", args=[review.pk]), {}),
        (reverse("reviews:step", args=[review.pk]), {"step": "reports", "done": "1"}),
        (reverse("reviews:step_go", args=[review.pk]), {"step": "factors"}),
        (
            reverse("reviews:notes", args=[review.pk, "context_notes"]),
            {"context_notes-version": "1", "context_notes-text": "x"},
        ),
        (
            reverse("reviews:factor_add", args=[review.pk]),
            {"factor-description": "x", "factor-kind": "human"},
        ),
        (
            reverse("reviews:factor_update", args=[review.pk, factor.pk]),
            {f"factor-{factor.pk}-description": "x"},
        ),
        (reverse("reviews:factor_delete", args=[review.pk, factor.pk]), {}),
        (reverse("reviews:suggestion_accept", args=[review.pk, suggestion.pk]), {}),
        (reverse("reviews:suggestion_dismiss", args=[review.pk, suggestion.pk]), {}),
        (reverse("reviews:learning_add", args=[review.pk]), {"learning-description": "x"}),
        (reverse("reviews:learning_update", args=[review.pk, learning.pk]), {}),
        (reverse("reviews:learning_move", args=[review.pk, learning.pk]), {"direction": "up"}),
        (reverse("reviews:learning_delete", args=[review.pk, learning.pk]), {}),
        (reverse("reviews:action_add", args=[review.pk]), {"action-title": "x"}),
        (reverse("reviews:action_edit", args=[review.pk, action.pk]), {}),
        (reverse("reviews:action_withdraw", args=[review.pk, action.pk]), {}),
    ]


@pytest.mark.parametrize(
    ("persona", "status"), [("teammate", 403), ("other_team_member", 404), ("outsider", 404)]
)
def test_only_the_facilitator_and_managers_run_the_meeting(
    client, review, pm, teammate, persona, status, request
):
    factor = review_services.factor_add(review=review, by=pm, description="Kept", kind="human")
    learning = review_services.learning_add(review=review, by=pm, description="Kept")
    suggestion = review_services.factor_suggest(review=review, by=teammate, description="Kept", kind="human")
    action = raise_action(review, pm)
    before = Review.objects.get(pk=review.pk).revision
    client.force_login(request.getfixturevalue(persona))
    for url, data in facilitator_only_posts(review, factor, learning, suggestion, action):
        assert client.post(url, data, **HTMX).status_code == status, url
    assert Review.objects.get(pk=review.pk).revision == before
    assert (
        ContributingFactor.objects.count()
        == Learning.objects.count()
        == ImprovementAction.objects.count()
        == 1
    )


@pytest.mark.parametrize(
    ("persona", "status"), [("problem_manager", 403), ("other_team_member", 404), ("outsider", 404)]
)
def test_people_outside_the_meeting_give_no_perspective_or_suggestion(
    client, review, persona, status, request
):
    client.force_login(request.getfixturevalue(persona))
    assert (
        client.post(
            reverse("reviews:perspective", args=[review.pk]),
            {"perspective-version": "0", "perspective-body": "x"},
            **HTMX,
        ).status_code
        == status
    )
    assert (
        client.post(
            reverse("reviews:factor_suggest", args=[review.pk]),
            {"suggest-description": "x", "suggest-kind": "human"},
            **HTMX,
        ).status_code
        == status
    )
    assert client.get(reverse("reviews:live", args=[review.pk])).status_code == (
        200 if status == 403 else 404
    )
    assert not Perspective.objects.exists() and not FactorSuggestion.objects.exists()


def test_a_cancelled_review_takes_no_more_perspectives(client, review, pm, responder):
    review_services.review_cancel(review=review, by=pm)
    client.force_login(responder)
    response = client.post(
        reverse("reviews:perspective", args=[review.pk]),
        {"perspective-version": "0", "perspective-body": "Late"},
        **HTMX,
    )
    assert response.status_code in {400, 404}
    assert not Perspective.objects.exists()


def test_the_review_lists_analyses_by_state_and_counts_only_the_timeline_its_viewer_may_see(
    client, review, pm, responder
):
    submitted = AnalysisSessionFactory(
        responder=review.incident.responders.get(),
        status=AnalysisSession.Status.SUBMITTED,
        submitted_at=timezone.now(),
        report="Retries piled up",
    )
    InterviewFactory(analysis=submitted, interviewee="Ola on call")
    KeyEventFactory(analysis=submitted, description="Shared event")
    writing = AnalysisSessionFactory(responder=ResponderFactory(incident=review.incident, user=pm))
    KeyEventFactory.create_batch(2, analysis=writing, description="Draft event")
    client.force_login(responder)
    page = client.get(review.get_absolute_url()).text
    assert "Retries piled up" in page and "Ola on call" in page
    assert "Not submitted yet" in page and "Draft event" not in page
    assert "1 key event." in page
    client.force_login(pm)
    page = client.get(review.get_absolute_url()).text
    assert "3 key events." in page and "Draft event" in page


def test_the_merged_timeline_of_a_long_review_is_shown_a_page_at_a_time(client, review, pm, responder):
    analysis = AnalysisSessionFactory(
        responder=review.incident.responders.get(), status=AnalysisSession.Status.SUBMITTED
    )
    KeyEvent.objects.bulk_create(
        KeyEvent(
            analysis=analysis,
            incident=review.incident,
            occurred_at=review.incident.started_at + timedelta(seconds=index),
            description=f"event-{index:03d}",
        )
        for index in range(120)
    )
    client.force_login(responder)
    page = client.get(review.get_absolute_url()).text
    assert "120 key events" in page
    assert "event-049" in page and "event-050" not in page
    # Without JavaScript the next page stays on the review; with it, the events are appended.
    assert f'href="{review.get_absolute_url()}?timeline_page=2#timeline-heading"' in page
    second = client.get(review.get_absolute_url(), {"timeline_page": 2}).text
    assert "event-050" in second and "event-099" in second and "event-049" not in second
