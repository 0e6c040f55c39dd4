"""The services pages and the teams and services API: who changes what, and bad input."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import AuditEntry, Incident, Service, Team
from incidents.services import incident_declare
from tests.api.conftest import client_for
from tests.factories import IncidentFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def test_the_services_page_lists_models_incidents_and_misfits(client, teammate, team, service):
    ServiceFactory(team=team, name="crm", sourcing="off_the_shelf")
    IncidentFactory.create_batch(2, team=team, service=service)
    client.force_login(teammate)
    response = client.get(reverse("incidents:services"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "checkout-api" in page
    assert "An off-the-shelf service: the practice suggests ops run it." in page
    assert reverse("incidents:service_edit", args=[service.pk]) not in page  # a member does not edit
    assert [s.incident_count for s in response.context["page"]] == [2, 0]


def test_a_product_manager_changes_the_operating_model_and_cost_of_delay(client, pm, service, other_team):
    client.force_login(pm)
    response = client.post(
        reverse("incidents:service_edit", args=[service.pk]),
        {
            "description": "Takes payments",
            "operating_model": "ops",
            "on_call_team": other_team.pk,
            "demand": "high",
            "sourcing": "custom",
            "cost_of_delay_per_day": "2500.50",
        },
    )
    assert response.status_code == 302
    service.refresh_from_db()
    assert (service.operating_model, service.on_call_team, service.demand) == ("ops", other_team, "high")
    assert service.cost_of_delay_per_day == Decimal("2500.50")
    assert service.on_call == "Search"
    entry = AuditEntry.objects.get(verb="service.updated")
    assert entry.changes["operating_model"] == ["ybiyri", "ops"]


def test_bad_service_input_is_refused_with_field_errors(client, pm, service):
    client.force_login(pm)
    response = client.post(
        reverse("incidents:service_edit", args=[service.pk]),
        {"operating_model": "chaos", "demand": "high", "sourcing": "custom", "cost_of_delay_per_day": "-5"},
    )
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"operating_model", "cost_of_delay_per_day"}
    service.refresh_from_db()
    assert service.operating_model == "ybiyri"


@pytest.mark.parametrize("persona", ["teammate", "other_team_member", "outsider"])
def test_only_the_teams_product_managers_change_a_service(request, client, persona, service):
    client.force_login(request.getfixturevalue(persona))
    url = reverse("incidents:service_edit", args=[service.pk])
    assert client.get(url).status_code == 403
    assert (
        client.post(url, {"operating_model": "ops", "demand": "low", "sourcing": "custom"}).status_code == 403
    )
    service.refresh_from_db()
    assert service.operating_model == "ybiyri"


def test_a_missing_service_is_a_404(client, pm):
    client.force_login(pm)
    assert client.get(reverse("incidents:service_edit", args=[999999])).status_code == 404


def test_an_incident_is_declared_under_its_services_model_and_keeps_it(pm, team, service):
    incident = incident_declare(
        by=pm, team=team, service=service, title="Slow", severity="sev3", started_at=timezone.now()
    )
    service.operating_model = Service.OperatingModel.OPS_RUN_IT
    service.save()
    incident = Incident.objects.get(pk=incident.pk)
    assert incident.operating_model == "ybiyri"


def test_the_api_changes_a_service_for_its_teams_product_manager(pm, teammate, service):
    body = {
        "operating_model": "ops",
        "demand": "low",
        "sourcing": "off_the_shelf",
        "cost_of_delay_per_day": "10",
    }
    response = client_for(pm).patch(f"/api/services/{service.pk}/", body, format="json")
    assert response.status_code == 200
    assert response.data["operating_model"] == "ops"
    assert response.data["cost_of_delay_per_day"] == "10.00"
    assert client_for(teammate).patch(f"/api/services/{service.pk}/", body, format="json").status_code == 403


def test_the_api_refuses_bad_service_values(pm, service):
    response = client_for(pm).patch(
        f"/api/services/{service.pk}/", {"demand": "extreme", "cost_of_delay_per_day": "-1"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.data) >= {"demand", "cost_of_delay_per_day"}


def test_the_api_adds_a_service_only_to_a_team_one_manages(pm, team, other_team):
    created = client_for(pm).post("/api/services/", {"team": team.pk, "name": "ledger"}, format="json")
    assert created.status_code == 201
    assert created.data["operating_model"] == "ybiyri"
    refused = client_for(pm).post("/api/services/", {"team": other_team.pk, "name": "ledger"}, format="json")
    assert refused.status_code == 403


def test_only_administrators_create_and_change_teams(admin_user, pm, problem_manager, teammate):
    body = {"name": "Platform", "members": [teammate.pk], "product_managers": [pm.pk], "tracker": "none"}
    for user in (pm, problem_manager):
        assert client_for(user).post("/api/teams/", body, format="json").status_code == 403
    created = client_for(admin_user).post("/api/teams/", body, format="json")
    assert created.status_code == 201
    team = Team.objects.get(name="Platform")
    assert list(team.product_managers.all()) == [pm]
    assert client_for(pm).patch(f"/api/teams/{team.pk}/", {"name": "Core"}, format="json").status_code == 403
    renamed = client_for(admin_user).patch(f"/api/teams/{team.pk}/", {"name": "Core"}, format="json")
    assert renamed.status_code == 200
    assert renamed.data["name"] == "Core"


def test_a_team_needs_a_unique_name(admin_user, team):
    response = client_for(admin_user).post("/api/teams/", {"name": "Payments"}, format="json")
    assert response.status_code == 400
    assert "name" in response.data
    assert client_for(admin_user).post("/api/teams/", {"tracker": "jira"}, format="json").status_code == 400
