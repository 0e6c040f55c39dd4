"""Signing in with the keyboard alone, at desktop and phone size."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory


@pytest.fixture
def member(db):
    user = UserFactory(username="mira", first_name="Mira", last_name="Member")
    user.set_password("a-long-passphrase")
    user.save()
    return user


def test_a_member_signs_in_with_the_keyboard_and_lands_on_my_work(open_browser, member) -> None:
    visitor = open_browser()
    page = visitor.page
    visitor.visit(reverse("login"), "sign-in")
    visitor.tab_to("#id_username")
    page.keyboard.type("mira")
    page.keyboard.press("Tab")
    page.keyboard.type("a-long-passphrase")
    page.keyboard.press("Enter")
    visitor.wait_for_path(reverse("incidents:my_work"))
    assert page.get_by_role("heading", name="My work").is_visible()
    visitor.check("my-work")


def test_a_wrong_password_is_shown_beside_the_form_and_keeps_the_username(open_browser, member) -> None:
    visitor = open_browser()
    page = visitor.page
    page.goto(reverse("login"))
    page.fill("#id_username", "mira")
    page.fill("#id_password", "not-the-passphrase")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".error-summary").is_visible()
    assert page.input_value("#id_username") == "mira"
    visitor.check("sign-in-refused")
