"""The insights page in a browser: the charts are drawn from the tables that follow them, the
recurring themes month by month among them, and the tables stay readable without JavaScript."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    AnalysisSessionFactory,
    IncidentFactory,
    LearningThemeFactory,
    ResponderFactory,
    ServiceFactory,
    TeamFactory,
    UserFactory,
)


@pytest.fixture
def pm(transactional_db):
    payments = TeamFactory(name="Payments")
    pm = UserFactory(username="pm", first_name="Priya", last_name="Manager", email="pm@example.org")
    responder = UserFactory(username="responder", email="rui@example.org")
    payments.members.add(pm, responder)
    payments.product_managers.add(pm)
    service = ServiceFactory(team=payments)
    retries = LearningThemeFactory(name="Retry storms")
    for days_ago in (70, 40, 5):
        incident = IncidentFactory(
            team=payments,
            service=service,
            declared_by=pm,
            started_at=timezone.now() - timedelta(days=days_ago),
        )
        analysis = AnalysisSessionFactory(
            responder=ResponderFactory(incident=incident, user=responder), status="submitted"
        )
        analysis.themes.add(retries)
    return pm


def test_the_themes_chart_is_drawn_from_its_table(open_browser, pm):
    person = open_browser(pm)
    page = person.page
    person.visit(reverse("reviews:insights"), "insights")
    table = page.locator("#themes-month-table")
    assert table.locator("thead th").all_inner_texts() == ["Month", "Retry storms (rising)"]
    assert table.locator("tfoot td").inner_text() == "3"
    # Chart.js has drawn a line chart on the canvas, with the table's months and counts.
    canvas = "canvas[data-chart-table='themes-month-table']"
    page.wait_for_function(f'() => window.Chart && window.Chart.getChart(document.querySelector("{canvas}"))')
    drawn = page.evaluate(
        f'() => {{ const chart = window.Chart.getChart(document.querySelector("{canvas}"));'
        " return {type: chart.config.type, labels: chart.data.labels, data: chart.data.datasets[0].data,"
        " label: chart.data.datasets[0].label}; }"
    )
    rows = table.locator("tbody tr")
    months = [rows.nth(index).locator("th").inner_text() for index in range(rows.count())]
    counts = [int(rows.nth(index).locator("td").inner_text()) for index in range(rows.count())]
    assert drawn == {"type": "line", "labels": months, "data": counts, "label": "Retry storms (rising)"}
    assert sum(counts) == 3
    assert page.locator(canvas).bounding_box()["height"] > 0


def test_without_javascript_the_themes_table_is_still_there(open_browser, pm):
    person = open_browser(pm, javascript=False)
    person.visit(reverse("reviews:insights"), "insights-no-js")
    assert person.page.locator("#themes-month-table tfoot td").inner_text() == "3"
