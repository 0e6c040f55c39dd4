"""The incident page: responders' roles set in place by the product manager, by keyboard."""


def test_a_product_manager_sets_a_role_in_place_by_keyboard(open_browser, incident, pm) -> None:
    responder = incident.responders.get()
    visitor = open_browser(pm)
    page = visitor.page
    visitor.visit(incident.get_absolute_url(), "incident")
    field = f"#id_responder-{responder.pk}-role"
    visitor.tab_to(field)
    page.keyboard.press("Control+A")
    page.keyboard.type("Communications lead")
    page.keyboard.press("Enter")
    page.locator("#responders li", has_text="Rui Oncall — Communications lead").wait_for()
    assert page.url.endswith(incident.get_absolute_url()), "updated in place"
    responder.refresh_from_db()
    assert responder.role == "Communications lead"
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.closest('#responders') !== null"
    )
    visitor.check("incident-role-saved")
