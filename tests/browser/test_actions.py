"""The backlog list's inline edit, by keyboard, with htmx and without JavaScript: bad input shown where
it was typed, a good change saved in place; the action's own page."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from reviews.models import ImprovementAction
from tests.factories import (
    ImprovementActionFactory,
    IncidentFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)


@pytest.fixture
def backlog(transactional_db):
    payments = TeamFactory(name="Payments")
    pm = UserFactory(username="pm", first_name="Priya", last_name="Manager", email="pm@example.org")
    responder = UserFactory(
        username="responder", first_name="Rui", last_name="Oncall", email="rui@example.org"
    )
    payments.members.add(pm, responder)
    payments.product_managers.add(pm)
    incident = IncidentFactory(
        team=payments, service=ServiceFactory(team=payments), declared_by=pm, title="Checkout timeouts"
    )
    action = ImprovementActionFactory(
        incident=incident, raised_by=pm, owner=pm, title="Add a circuit breaker", priority="high"
    )
    return {"pm": pm, "responder": responder, "action": action}


def test_inline_edit_by_keyboard_shows_bad_input_in_place_then_saves(open_browser, backlog):
    action = backlog["action"]
    person = open_browser(backlog["pm"])
    page = person.page
    person.visit(reverse("reviews:actions"), "action-list")
    row = f"#action-row-{action.pk}"
    person.tab_to(f"{row} details.inline-edit > summary")
    page.keyboard.press("Enter")
    person.tab_to(f"#id_action-{action.pk}-owner")
    page.keyboard.press("Control+A")
    page.keyboard.type("nobody-here")
    person.tab_to(f"#id_action-{action.pk}-priority")
    page.select_option(f"#id_action-{action.pk}-priority", "lowest")
    person.tab_to(f"{row} details form button[type=submit]")
    page.keyboard.press("Enter")

    # Refused in place: the row comes back with the form open, the error said and focused.
    page.wait_for_selector(f"{row} [data-error-summary]")
    assert "Not an active member of the organisation: nobody-here." in page.inner_text(row)
    expect(page.locator(f"#id_action-{action.pk}-owner")).to_be_focused()
    person.check("action-list-inline-error")
    action.refresh_from_db()
    assert (action.owner, action.priority) == (backlog["pm"], "high")

    page.keyboard.press("Control+A")
    page.keyboard.type("RUI@example.org")
    person.tab_to(f"{row} details form button[type=submit]")
    page.keyboard.press("Enter")
    # Saved in place: the row shows the new owner once htmx has swapped it.
    expect(page.locator(f"{row} td[data-label=Owner]")).to_contain_text("Rui Oncall")
    assert "Lowest" in page.inner_text(f"{row} td[data-label=Priority]")
    assert page.locator(f"{row} [data-error-summary]").count() == 0
    person.check("action-list-inline-saved")
    action.refresh_from_db()
    assert (action.owner, action.priority) == (backlog["responder"], ImprovementAction.Priority.LOWEST)


def test_inline_edit_works_without_javascript(open_browser, backlog):
    action = backlog["action"]
    person = open_browser(backlog["pm"], javascript=False)
    page = person.page
    # Without JavaScript axe-core cannot run here; the same pages are checked with it above.
    page.goto(reverse("reviews:actions"))
    page.click(f"#action-row-{action.pk} details.inline-edit > summary")
    page.fill(f"#id_action-{action.pk}-title", "")
    with page.expect_navigation():
        page.click(f"#action-row-{action.pk} details form button[type=submit]")
    # The action's page with what was typed and what is wrong.
    assert "This field is required." in page.inner_text("main")
    page.fill(f"#id_action-{action.pk}-title", "Circuit breaker on the checkout client")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    person.wait_for_path(reverse("reviews:actions"))
    assert "Circuit breaker on the checkout client" in page.inner_text(f"#action-row-{action.pk}")


def test_the_action_page_passes_the_checks(open_browser, backlog):
    person = open_browser(backlog["pm"])
    person.visit(reverse("reviews:action", args=[backlog["action"].pk]), "action-detail")
    assert "Change the action" in person.page.inner_text("main")
