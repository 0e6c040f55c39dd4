"""Pager mappings on the services page (and the API and admin over the same rules): which pages
open draft incidents on a service, edited by its team's product managers, validated so each page
has one service to go to."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.urls import reverse

from incidents.evidence.pagers import mapped_service
from incidents.models import AuditEntry, Service
from incidents.services import service_update
from tests.api.conftest import client_for
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def edit(client, service, **mappings):
    body = {
        "description": service.description,
        "operating_model": service.operating_model,
        "demand": service.demand,
        "sourcing": service.sourcing,
        "pagerduty_service_ids": "",
        "opsgenie_teams": "",
        "alertmanager_matchers": "",
        **mappings,
    }
    return client.post(reverse("incidents:service_edit", args=[service.pk]), body)


def test_a_product_manager_maps_pagers_to_a_service_one_per_line(client, pm, service):
    client.force_login(pm)

    response = edit(
        client,
        service,
        pagerduty_service_ids="PF9KMXH\r\n\r\n P2ND0NE ",
        opsgenie_teams="checkout\nPayments On-Call",
        alertmanager_matchers='service = checkout-api\nenv="prod"',
    )

    assert response.status_code == 302
    service.refresh_from_db()
    assert service.pagerduty_service_ids == ["PF9KMXH", "P2ND0NE"]
    assert service.opsgenie_teams == ["checkout", "Payments On-Call"]
    assert service.alertmanager_matchers == ["service=checkout-api", "env=prod"]
    route = frozenset({"service=checkout-api", "env=prod", "alertname=Latency"})
    assert mapped_service(Service.objects.all(), source="alertmanager", route=route) == service
    entry = AuditEntry.objects.get(verb="service.updated")
    assert "pagerduty_service_ids" in entry.changes


def test_the_edit_form_shows_the_current_mappings(client, pm, service):
    service.pagerduty_service_ids = ["PF9KMXH", "P2ND0NE"]
    service.alertmanager_matchers = ["service=checkout-api"]
    service.save()
    client.force_login(pm)

    body = client.get(reverse("incidents:service_edit", args=[service.pk])).content.decode()

    assert "PF9KMXH\nP2ND0NE</textarea>" in body
    assert 'for="id_alertmanager_matchers"' in body


def test_the_services_page_says_which_pages_reach_each_service(client, teammate, service):
    service.pagerduty_service_ids = ["PF9KMXH"]
    service.opsgenie_teams = ["checkout"]
    service.save()
    client.force_login(teammate)

    body = client.get(reverse("incidents:services")).content.decode()

    assert "Paged by PagerDuty PF9KMXH; Opsgenie checkout" in body


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("alertmanager_matchers", "service", "is not label=value"),
        ("alertmanager_matchers", "env!=prod", "only label equality"),
        ("alertmanager_matchers", "service=~checkout.*", "only label equality"),
        ("alertmanager_matchers", "1service=checkout", "is not label=value"),
        ("alertmanager_matchers", "service=", "is not label=value"),
        ("pagerduty_service_ids", "https://acme.pagerduty.com/service-directory/PF9KMXH", "not a PagerDuty"),
        ("pagerduty_service_ids", "pf9 kmxh", "not a PagerDuty"),
    ],
)
def test_bad_mapping_syntax_is_refused_with_the_value_named(client, pm, service, field, value, message):
    client.force_login(pm)

    response = edit(client, service, **{field: value})

    assert response.status_code == 400
    errors = " ".join(response.context["form"].errors[field])
    assert message in errors and value.split("=")[0] in errors
    service.refresh_from_db()
    assert getattr(service, field) == []


def test_a_pagerduty_id_or_opsgenie_team_mapped_to_another_service_is_refused(client, pm, team, service):
    ServiceFactory(team=team, name="ledger", pagerduty_service_ids=["PF9KMXH"], opsgenie_teams=["Checkout"])
    client.force_login(pm)

    response = edit(client, service, pagerduty_service_ids="PF9KMXH", opsgenie_teams="checkout")

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert errors["pagerduty_service_ids"] == [
        "PagerDuty service PF9KMXH is already mapped to ledger (Payments)."
    ]
    assert errors["opsgenie_teams"] == ["Opsgenie team Checkout is already mapped to ledger (Payments)."]
    service.refresh_from_db()
    assert service.pagerduty_service_ids == [] and service.opsgenie_teams == []


def test_matchers_an_alert_could_meet_for_two_services_are_refused(client, pm, team, other_team, service):
    ServiceFactory(team=other_team, name="search-api", alertmanager_matchers=["service=checkout-api"])
    client.force_login(pm)

    overlapping = edit(client, service, alertmanager_matchers="service=checkout-api\nenv=prod")
    apart = edit(client, service, alertmanager_matchers="service=checkout\nenv=prod")

    assert overlapping.status_code == 400
    assert "would match search-api (Search) as well" in " ".join(
        overlapping.context["form"].errors["alertmanager_matchers"]
    )
    assert apart.status_code == 302
    service.refresh_from_db()
    assert service.alertmanager_matchers == ["service=checkout", "env=prod"]


def test_saving_a_service_keeps_its_own_mapping(client, pm, service):
    service.pagerduty_service_ids = ["PF9KMXH"]
    service.save()
    client.force_login(pm)

    assert (
        edit(client, service, pagerduty_service_ids="PF9KMXH", description="Takes payments").status_code
        == 302
    )


@pytest.mark.parametrize("persona", ["teammate", "other_team_member", "outsider"])
def test_only_the_teams_product_managers_change_the_mappings(request, client, persona, service):
    client.force_login(request.getfixturevalue(persona))

    assert edit(client, service, pagerduty_service_ids="PF9KMXH").status_code == 403
    api = client_for(request.getfixturevalue(persona))
    response = api.patch(
        f"/api/services/{service.pk}/", {"pagerduty_service_ids": ["PF9KMXH"]}, format="json"
    )
    assert response.status_code in (403, 404)
    service.refresh_from_db()
    assert service.pagerduty_service_ids == []


def test_the_api_reads_and_changes_mappings_with_the_same_checks(pm, team, service):
    ServiceFactory(team=team, name="ledger", pagerduty_service_ids=["PTAKEN1"])
    api = client_for(pm)
    url = f"/api/services/{service.pk}/"

    changed = api.patch(url, {"alertmanager_matchers": ["service = checkout-api"]}, format="json")
    taken = api.patch(url, {"pagerduty_service_ids": ["PTAKEN1"]}, format="json")
    malformed = api.patch(url, {"alertmanager_matchers": ["env!=prod"]}, format="json")
    not_a_list = api.patch(url, {"opsgenie_teams": "checkout"}, format="json")

    assert changed.status_code == 200
    assert changed.data["alertmanager_matchers"] == ["service=checkout-api"]
    assert taken.status_code == 400 and "already mapped to ledger" in str(taken.data["pagerduty_service_ids"])
    assert malformed.status_code == 400 and "only label equality" in str(
        malformed.data["alertmanager_matchers"]
    )
    assert not_a_list.status_code == 400 and "opsgenie_teams" in not_a_list.data
    assert Service.objects.get(pk=service.pk).pagerduty_service_ids == []


def test_the_admin_refuses_a_mapping_another_service_holds(client, admin_user, team, service):
    ServiceFactory(team=team, name="ledger", opsgenie_teams=["checkout"])
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:incidents_service_change", args=[service.pk]),
        {
            "team": team.pk,
            "name": service.name,
            "description": "",
            "operating_model": "ybiyri",
            "demand": "medium",
            "sourcing": "custom",
            "pagerduty_service_ids": "[]",
            "opsgenie_teams": '["checkout"]',
            "alertmanager_matchers": "[]",
        },
    )

    assert response.status_code == 200
    assert "already mapped to ledger" in response.content.decode()
    service.refresh_from_db()
    assert service.opsgenie_teams == []


def test_two_managers_mapping_one_page_to_two_services_at_once_the_second_is_refused(
    postgres, transactional_db, pm, team, service
):
    """The second save waits for the first to commit, then is checked against it (PostgreSQL)."""
    ledger = ServiceFactory(team=team, name="ledger")
    first_checked, release = threading.Event(), threading.Event()
    outcome: dict[str, str] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                service_update(
                    service=Service.objects.get(pk=service.pk),
                    by=pm,
                    changes={"pagerduty_service_ids": ["PSAME01"]},
                )
                first_checked.set()
                release.wait(10)
        finally:
            connection.close()

    def second() -> None:
        try:
            service_update(
                service=Service.objects.get(pk=ledger.pk),
                by=pm,
                changes={"pagerduty_service_ids": ["PSAME01"]},
            )
            outcome["second"] = "saved"
        except ValidationError as error:
            outcome["second"] = " ".join(error.messages)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert first_checked.wait(10)
    threads[1].start()
    threads[1].join(1)
    assert threads[1].is_alive(), "the second save did not wait for the first"
    release.set()
    for thread in threads:
        thread.join(10)

    assert outcome["second"] == "PagerDuty service PSAME01 is already mapped to checkout-api (Payments)."
    assert Service.objects.get(pk=ledger.pk).pagerduty_service_ids == []
