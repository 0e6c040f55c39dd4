"""Insights: every figure checked against a small organisation computed by hand."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from incidents.models import AnalysisSession, Incident, Service
from reviews.insights import InsightsFilterForm, InsightsScope, insights_for
from reviews.models import Review, Walkthrough
from reviews.templatetags.ybiyri_format import duration
from tests.factories import (
    AnalysisSessionFactory,
    ImprovementActionFactory,
    IncidentFactory,
    LearningThemeFactory,
    NarrativeFactory,
    ResponderFactory,
    ReviewFactory,
    ServiceFactory,
    TeamFactory,
    TrainingFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 22, 12, 0, tzinfo=UTC)


def scope(days: int = 90, **filters) -> InsightsScope:
    return InsightsScope(start=NOW - timedelta(days=days), end=NOW, **filters)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def organisation(frozen, team, service, pm, responder, teammate):
    """One incident of Payments on 10 March, with every cost the practice names."""
    service.cost_of_delay_per_day = Decimal("100.00")
    service.save()
    incident = IncidentFactory(
        team=team,
        service=service,
        declared_by=pm,
        severity=Incident.Severity.SEV2,
        started_at=datetime(2026, 3, 10, 9, 0, tzinfo=UTC),
        detected_at=datetime(2026, 3, 10, 9, 30, tzinfo=UTC),
        mitigated_at=datetime(2026, 3, 10, 11, 0, tzinfo=UTC),
        resolved_at=datetime(2026, 3, 11, 9, 0, tzinfo=UTC),
    )
    # Done after 4 days; open for 10 days so far (7–30 days old); both on a 100-a-day service.
    ImprovementActionFactory(
        incident=incident,
        raised_at=datetime(2026, 3, 11, 12, 0, tzinfo=UTC),
        done_at=datetime(2026, 3, 15, 12, 0, tzinfo=UTC),
        status="done",
        effort_estimate_hours=Decimal("5"),
        effort_actual_hours=Decimal("6"),
    )
    ImprovementActionFactory(
        incident=incident,
        raised_at=datetime(2026, 3, 12, 12, 0, tzinfo=UTC),
        effort_estimate_hours=Decimal("3"),
    )
    # Allocated 2 h a day after the incident resolved, spent 3 h: one hour over the time-box.
    analysis = AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=responder),
        scheduled_by=pm,
        allocated_minutes=120,
        time_spent_minutes=180,
        status=AnalysisSession.Status.SUBMITTED,
        due_at=datetime(2026, 3, 14, tzinfo=UTC),
    )
    AnalysisSession.objects.filter(pk=analysis.pk).update(created_at=datetime(2026, 3, 12, 9, 0, tzinfo=UTC))
    # Held review of 90 min: facilitator and two attendees = 4.5 person-hours.
    review = ReviewFactory(
        incident=incident,
        facilitator=pm,
        scheduled_at=datetime(2026, 3, 13, 9, 0, tzinfo=UTC),
        duration_minutes=90,
        status=Review.Status.HELD,
        held_at=datetime(2026, 3, 13, 10, 30, tzinfo=UTC),
    )
    review.attendees.add(responder, teammate)
    narrative = NarrativeFactory(
        incident=incident,
        created_by=pm,
        status="published",
        published_at=datetime(2026, 3, 16, 9, 0, tzinfo=UTC),
    )
    # A walkthrough held (60 min, presenter + one attendee = 2 h); one to come and one cancelled,
    # neither counted.
    held = Walkthrough.objects.create(
        narrative=narrative,
        scheduled_at=datetime(2026, 3, 20, 9, 0, tzinfo=UTC),
        duration_minutes=60,
        presenter=pm,
    )
    held.attendees.add(teammate)
    Walkthrough.objects.create(
        narrative=narrative,
        scheduled_at=datetime(2026, 3, 25, 9, 0, tzinfo=UTC),
        duration_minutes=60,
        presenter=pm,
    )
    Walkthrough.objects.create(
        narrative=narrative,
        scheduled_at=datetime(2026, 3, 19, 9, 0, tzinfo=UTC),
        duration_minutes=60,
        presenter=pm,
        status=Walkthrough.Status.CANCELLED,
    )
    # Training of 2 h: trainer + three attendees = 8 person-hours; a training elsewhere not seen.
    training = TrainingFactory(team=team, held_on=date(2026, 3, 5), duration_minutes=120, trainer=pm)
    training.attendees.add(responder, teammate, UserFactory())
    TrainingFactory(team=TeamFactory(name="Elsewhere"), held_on=date(2026, 3, 5))
    return incident


def test_the_three_costs_match_the_figures_computed_by_hand(organisation, pm):
    figures = insights_for(viewer=pm, scope=scope())
    totals = figures.totals
    assert totals["training_person_hours"] == 8.0
    assert totals["walkthrough_person_hours"] == 2.0
    assert totals["setup_person_hours"] == 10.0
    assert totals["actions_raised"] == 2
    assert totals["actions_done"] == 1
    assert totals["mean_cost_of_delay_done"] == 4.0
    assert totals["open_action_days"] == 10.0
    assert totals["cost_of_delay_days"] == 14.0
    assert totals["cost_of_delay_money"] == 1400.0
    assert totals["open_actions_7_to_30d"] == 1
    assert totals["open_actions_under_7d"] == 0
    assert totals["effort_estimate_hours"] == 8.0
    assert totals["effort_actual_hours"] == 6.0
    assert totals["analysis_hours"] == 3.0
    assert totals["review_person_hours"] == 4.5
    assert totals["run_person_hours"] == 13.5
    assert totals["capex_person_hours"] == 23.5
    assert totals["capex_person_hours_per_incident"] == 23.5
    assert totals["cost_of_delay_money_per_incident"] == 1400.0


def test_the_time_box_and_lead_times_match_the_figures_computed_by_hand(organisation, pm):
    totals = insights_for(viewer=pm, scope=scope()).totals
    assert totals["sessions"] == 1
    assert totals["sessions_over_time_box"] == 1
    assert totals["mean_overrun_hours"] == 1.0
    assert totals["allocated_hours"] == 2.0
    assert totals["mean_resolved_to_allocated_days"] == 1.0
    assert totals["sessions_overdue"] == 0
    assert totals["mean_time_to_resolve_days"] == 1.0
    assert totals["mean_resolved_to_review_days"] == 2.1
    assert totals["mean_resolved_to_narrative_days"] == 5.0


def test_figures_per_team_and_month_add_up_to_the_totals(organisation, pm):
    figures = insights_for(viewer=pm, scope=scope())
    assert figures.months == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert figures.teams == ["Payments"]
    assert figures.value("capex", "capex_person_hours", team="Payments") == 23.5
    assert figures.value("capex", "capex_person_hours", month="2026-03") == 23.5
    assert figures.value("capex", "capex_person_hours", team="Payments", month="2026-03") == 23.5
    # Months without data are shown, as zero.
    assert figures.value("capex", "capex_person_hours", month="2026-01") == 0
    assert figures.value("capex", "capex_person_hours_per_incident", month="2026-01") is None


def test_an_empty_period_shows_every_month_at_zero_and_no_team(frozen, pm):
    figures = insights_for(viewer=pm, scope=scope(days=30))
    assert figures.teams == []
    assert figures.months == ["2026-02", "2026-03"]
    assert figures.totals["capex_person_hours"] == 0
    assert figures.totals["mean_cost_of_delay_done"] is None
    assert figures.themes == []


def test_a_month_is_counted_in_the_organisations_time_zone(frozen, settings, team, service, pm):
    settings.TIME_ZONE = "Europe/Berlin"
    # 23:30 UTC on 31 January is already February in Berlin.
    IncidentFactory(team=team, service=service, started_at=datetime(2026, 1, 31, 23, 30, tzinfo=UTC))
    with timezone.override("Europe/Berlin"):
        figures = insights_for(viewer=pm, scope=scope())
    assert figures.value("capex", "incidents", month="2026-02") == 1
    assert figures.value("capex", "incidents", month="2026-01") == 0


def test_filters_on_severity_model_and_team_narrow_the_incidents(organisation, pm, team):
    ops = ServiceFactory(team=team, name="ledger", operating_model=Service.OperatingModel.OPS_RUN_IT)
    IncidentFactory(
        team=team, service=ops, severity=Incident.Severity.SEV1, started_at=NOW - timedelta(days=3)
    )
    assert insights_for(viewer=pm, scope=scope()).totals["incidents"] == 2
    assert insights_for(viewer=pm, scope=scope(severity="sev1")).totals["incidents"] == 1
    assert insights_for(viewer=pm, scope=scope(operating_model="ybiyri")).totals["incidents"] == 1
    assert insights_for(viewer=pm, scope=scope(team=TeamFactory(name="Quiet"))).totals["incidents"] == 0


def test_an_incident_keeps_the_operating_model_it_was_declared_under(organisation, pm, service):
    service.operating_model = Service.OperatingModel.OPS_RUN_IT
    service.save()
    models = {model["model"]: model for model in insights_for(viewer=pm, scope=scope()).models}
    assert models["ybiyri"]["figures"]["incidents"] == (1, "count")
    assert models["ops"]["figures"]["incidents"] == (0, "count")


def test_operating_models_compare_detection_restoration_and_actions(organisation, pm):
    ybiyri = insights_for(viewer=pm, scope=scope()).models[0]
    assert ybiyri["model"] == "ybiyri"
    assert ybiyri["by_severity"] == [
        {
            "severity": "sev2",
            "label": "SEV2 — major",
            "incidents": 1,
            "mean_time_to_detect_hours": 0.5,
            "mean_time_to_restore_hours": 2.0,
        }
    ]
    assert ybiyri["figures"]["actions_done_percent"] == (50, "percent")
    assert ybiyri["figures"]["mean_cost_of_delay_days"] == (7.0, "days")
    assert ybiyri["figures"]["analysis_hours"] == (3.0, "hours")


def test_services_whose_model_goes_against_the_guidance_are_flagged(frozen, pm, team):
    ServiceFactory(team=team, name="crm", sourcing="off_the_shelf", operating_model="ybiyri")
    ServiceFactory(team=team, name="checkout", sourcing="custom", demand="high", operating_model="ops")
    ServiceFactory(team=team, name="search", sourcing="custom", demand="high", operating_model="ybiyri")
    misfits = insights_for(viewer=pm, scope=scope()).misfits
    assert [service.name for service in misfits] == ["checkout", "crm"]
    assert "suggests you build it" in misfits[0].guidance


def test_recurring_themes_need_two_incidents_and_rise_when_seen_later(frozen, team, service, pm, responder):
    retries, dns = LearningThemeFactory(name="Retry storms"), LearningThemeFactory(name="DNS")
    for days_ago, themes in ((80, [retries, dns]), (10, [retries]), (5, [retries])):
        incident = IncidentFactory(team=team, service=service, started_at=NOW - timedelta(days=days_ago))
        analysis = AnalysisSessionFactory(
            responder=ResponderFactory(incident=incident, user=responder), status="submitted"
        )
        analysis.themes.add(*themes)
    themes = insights_for(viewer=pm, scope=scope()).themes
    assert [theme["name"] for theme in themes] == ["Retry storms"]
    assert themes[0]["incidents"] == 3
    assert (themes[0]["earlier"], themes[0]["later"], themes[0]["rising"]) == (1, 2, True)
    assert themes[0]["by_team"] == [("Payments", 3)]


def test_insights_only_count_what_the_viewer_can_see(organisation, other_team_member):
    totals = insights_for(viewer=other_team_member, scope=scope()).totals
    assert totals["incidents"] == 0
    assert totals["actions_raised"] == 0
    assert totals["training_person_hours"] == 0


def test_the_period_is_parsed_from_the_query_string(frozen):
    assert InsightsFilterForm({"period": "30d"}).scope().start == NOW - timedelta(days=30)
    custom = InsightsFilterForm({"from": "2026-01-01", "to": "2026-01-31"}).scope()
    assert custom.months() == ["2026-01"]
    assert custom.end - custom.start == timedelta(days=31)
    # Unknown values fall back to the default period, not an error.
    assert InsightsFilterForm({"period": "forever"}).scope().start == NOW - timedelta(days=90)
    backwards = InsightsFilterForm({"from": "2026-02-01", "to": "2026-01-01"})
    assert not backwards.is_valid()
    assert backwards.scope().start == NOW - timedelta(days=90)


def test_the_page_shows_the_figures_and_says_what_it_covers(organisation, client, pm):
    client.force_login(pm)
    response = client.get(reverse("reviews:insights"), {"period": "90d"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "incidents that started from 22 Dec 2025 to 22 Mar 2026" in page
    assert "23.5 person-hours over 1 incident" in page
    assert 'data-chart="stacked"' in page
    assert "chart-4.6.1.umd.min.js" in page


def test_bad_filters_fall_back_to_the_default_period(client, pm):
    client.force_login(pm)
    response = client.get(reverse("reviews:insights"), {"period": "forever", "team": "x", "from": "soon"})
    assert response.status_code == 200
    response = client.get(reverse("reviews:insights_export"), {"severity": "<script>", "model": "none"})
    assert response.status_code == 200


def test_the_export_holds_every_figure_of_the_page_for_the_same_parameters(organisation, client, pm):
    client.force_login(pm)
    response = client.get(reverse("reviews:insights_export"), {"period": "90d", "severity": "sev2"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "metric", "team", "month", "value", "unit"]
    expected = insights_for(viewer=pm, scope=scope(severity="sev2")).rows
    assert len(rows) - 1 == len(expected)
    assert ["capex", "capex_person_hours", "", "", "23.5", "hours"] in rows
    assert ["setup", "training_person_hours", "Payments", "2026-03", "8.0", "hours"] in rows
    assert ["operating_models", "ybiyri:sev2:mean_time_to_restore_hours", "", "", "2.0", "hours"] in rows


def test_the_export_needs_a_signed_in_member(client):
    response = client.get(reverse("reviews:insights_export"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("incidents", [10, 200])
def test_the_insights_page_costs_a_fixed_number_of_queries(
    incidents, client, team, service, pm, responder, django_assert_max_num_queries
):
    theme = LearningThemeFactory(name="Retry storms")
    for index, incident in enumerate(IncidentFactory.create_batch(incidents, team=team, service=service)):
        ImprovementActionFactory(incident=incident, done_at=timezone.now() if index % 2 else None)
        if index % 5 == 0:
            analysis = AnalysisSessionFactory(
                responder=ResponderFactory(incident=incident, user=responder), status="submitted"
            )
            analysis.themes.add(theme)
    client.force_login(pm)
    with django_assert_max_num_queries(32):
        assert client.get(reverse("reviews:insights"), {"period": "365d"}).status_code == 200


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "—"),
        (timedelta(minutes=12), "12 min"),
        (timedelta(hours=3, minutes=20), "3 h 20 min"),
        (timedelta(days=5, hours=1), "5 d 1 h"),
    ],
)
def test_durations_read_naturally(value, shown):
    assert duration(value) == shown


def test_a_service_without_a_cost_of_delay_counts_at_the_cost_of_failure_per_hour(
    frozen, settings, team, pm, client
):
    service = ServiceFactory(team=team, name="ledger", cost_of_delay_per_day=None)
    incident = IncidentFactory(team=team, service=service, started_at=NOW - timedelta(days=5))
    # Open for two days so far: 48 hours of failure at 1,000 an hour.
    ImprovementActionFactory(incident=incident, raised_at=NOW - timedelta(days=2))
    settings.COST_OF_FAILURE_PER_HOUR = None
    assert insights_for(viewer=pm, scope=scope()).totals["cost_of_delay_money"] == 0
    client.force_login(pm)
    assert (
        "counts in days only, as no cost of failure per hour is set"
        in client.get(reverse("reviews:insights")).content.decode()
    )

    settings.COST_OF_FAILURE_PER_HOUR = Decimal("1000")
    figures = insights_for(viewer=pm, scope=scope())
    assert figures.totals["cost_of_delay_money"] == 48000.0
    assert figures.totals["cost_of_failure_per_hour"] == 1000.0
    # A setting changes with a restart, which empties a process's cache; here it is emptied by hand.
    cache.clear()
    page = client.get(reverse("reviews:insights")).content.decode()
    assert "48,000.00 in money" in page
    assert "cost of failure of 1,000.00 an hour (<code>COST_OF_FAILURE_PER_HOUR</code>)" in page
    export = client.get(reverse("reviews:insights_export")).content.decode()
    assert "opportunity,cost_of_failure_per_hour,,,1000.0,money" in export


def test_walkthrough_and_playback_preparation_counts_in_setup_once_held(frozen, team, service, pm, teammate):
    incident = IncidentFactory(team=team, service=service, started_at=NOW - timedelta(days=20))
    narrative = NarrativeFactory(incident=incident, created_by=pm, status="published", published_at=NOW)
    # A playback held: 30 min with presenter and one attendee (1 h), prepared for 90 min.
    playback = Walkthrough.objects.create(
        narrative=narrative,
        kind=Walkthrough.Kind.PLAYBACK,
        scheduled_at=NOW - timedelta(days=2),
        duration_minutes=30,
        preparation_minutes=90,
        presenter=pm,
    )
    playback.attendees.add(teammate)
    # A walkthrough held (45 min, presenter alone), prepared for 60 min; one to come and one
    # cancelled, both prepared for, count nothing yet.
    Walkthrough.objects.create(
        narrative=narrative,
        scheduled_at=NOW - timedelta(days=1),
        duration_minutes=45,
        preparation_minutes=60,
        presenter=pm,
    )
    Walkthrough.objects.create(
        narrative=narrative, scheduled_at=NOW + timedelta(days=1), preparation_minutes=120, presenter=pm
    )
    Walkthrough.objects.create(
        narrative=narrative,
        scheduled_at=NOW - timedelta(days=3),
        preparation_minutes=120,
        presenter=pm,
        status=Walkthrough.Status.CANCELLED,
    )
    figures = insights_for(viewer=pm, scope=scope())
    totals = figures.totals
    assert totals["playback_person_hours"] == 1.0
    assert totals["walkthrough_person_hours"] == 0.8
    assert totals["preparation_person_hours"] == 2.5
    assert totals["setup_person_hours"] == 4.3
    assert figures.value("setup", "preparation_person_hours", team="Payments", month="2026-03") == 2.5


def test_recurring_themes_are_counted_month_by_month_for_the_chart_its_table_and_the_export(
    frozen, team, service, pm, responder, client
):
    retries, dns = LearningThemeFactory(name="Retry storms"), LearningThemeFactory(name="DNS")
    # 1 January, 12 and 17 March; DNS is seen once, so it does not recur.
    for days_ago, themes in ((80, [retries, dns]), (10, [retries]), (5, [retries])):
        incident = IncidentFactory(team=team, service=service, started_at=NOW - timedelta(days=days_ago))
        analysis = AnalysisSessionFactory(
            responder=ResponderFactory(incident=incident, user=responder), status="submitted"
        )
        analysis.themes.add(*themes)
    figures = insights_for(viewer=pm, scope=scope())
    assert figures.themes[0]["by_month"] == {"2026-01": 1, "2026-03": 2}
    table = figures.themes_panel
    assert [heading for _section, _metric, heading in table["panel"].columns] == ["Retry storms (rising)"]
    assert [(row["label"], row["values"]) for row in table["rows"]] == [
        ("2025-12", [0]),
        ("2026-01", [1]),
        ("2026-02", [0]),
        ("2026-03", [2]),
    ]
    assert table["total"] == [3]

    client.force_login(pm)
    page = client.get(reverse("reviews:insights")).content.decode()
    assert 'data-chart-table="themes-month-table"' in page
    assert "Recurring themes by month (incidents)" in page
    export = list(csv.reader(io.StringIO(client.get(reverse("reviews:insights_export")).content.decode())))
    slug = retries.slug
    assert ["themes", f"incidents:{slug}", "", "2026-01", "1", "count"] in export
    assert ["themes", f"incidents:{slug}", "", "2026-02", "0", "count"] in export
    assert ["themes", f"incidents:{slug}", "", "2026-03", "2", "count"] in export


def test_without_recurring_themes_there_is_no_theme_chart(frozen, pm, client):
    assert insights_for(viewer=pm, scope=scope()).themes_panel is None
    client.force_login(pm)
    assert "themes-month-table" not in client.get(reverse("reviews:insights")).content.decode()
