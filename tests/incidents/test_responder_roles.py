"""Responders' roles, set and changed inline on the incident page."""

import pytest
from django.urls import reverse

from incidents import services
from incidents.models import AuditEntry, Responder
from tests.factories import ResponderFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def responder_row(incident, responder) -> Responder:
    return incident.responders.get(user=responder)


def role_url(responder_row: Responder) -> str:
    return reverse("incidents:responder_role", args=[responder_row.incident_id, responder_row.pk])


def role_data(responder_row: Responder, role: str) -> dict:
    return {f"responder-{responder_row.pk}-role": role}


def test_setting_a_role_saves_it_and_audits_the_change(responder_row, pm):
    services.responder_set_role(responder=responder_row, by=pm, role="  Communications   lead ")
    responder_row.refresh_from_db()
    assert responder_row.role == "Communications lead"
    entry = AuditEntry.objects.get(verb="responder.role_set")
    assert entry.changes["role"] == ["Incident commander", "Communications lead"]


def test_an_unchanged_role_writes_nothing(responder_row, pm):
    services.responder_set_role(responder=responder_row, by=pm, role="Incident commander")
    assert not AuditEntry.objects.filter(verb="responder.role_set").exists()


def test_the_manager_changes_a_role_in_place_with_htmx(client, responder_row, pm):
    client.force_login(pm)
    response = client.post(
        role_url(responder_row), role_data(responder_row, "Scribe"), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="responders"')
    assert 'data-announce="Role of Rui Oncall saved."' in response.text
    responder_row.refresh_from_db()
    assert responder_row.role == "Scribe"


def test_the_manager_changes_a_role_without_javascript(client, responder_row, pm):
    client.force_login(pm)
    response = client.post(role_url(responder_row), role_data(responder_row, "On-call engineer"))
    assert response.status_code == 302
    responder_row.refresh_from_db()
    assert responder_row.role == "On-call engineer"


@pytest.mark.parametrize("htmx", [True, False])
def test_a_too_long_role_is_a_400_that_keeps_the_typed_text(client, responder_row, pm, htmx):
    client.force_login(pm)
    typed = "x" * 101
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = client.post(role_url(responder_row), role_data(responder_row, typed), **headers)
    assert response.status_code == 400
    assert f'value="{typed}"' in response.text
    assert 'aria-invalid="true"' in response.text
    responder_row.refresh_from_db()
    assert responder_row.role == "Incident commander"


def test_only_the_incidents_managers_set_roles(client, responder_row, responder, other_team_member):
    for user, status in ((responder, 403), (other_team_member, 404)):
        client.force_login(user)
        assert (
            client.post(role_url(responder_row), role_data(responder_row, "Hijacked")).status_code == status
        )
    responder_row.refresh_from_db()
    assert responder_row.role == "Incident commander"


def test_a_responder_of_another_incident_is_not_found(client, incident, pm):
    elsewhere = ResponderFactory(user=UserFactory())
    client.force_login(pm)
    url = reverse("incidents:responder_role", args=[incident.pk, elsewhere.pk])
    assert client.post(url, {f"responder-{elsewhere.pk}-role": "x"}).status_code == 404


def test_the_incident_page_has_a_role_form_per_responder_for_managers_only(client, incident, pm, responder):
    client.force_login(pm)
    assert "Role of Rui Oncall" in client.get(incident.get_absolute_url()).text
    client.force_login(responder)
    assert "Role of Rui Oncall" not in client.get(incident.get_absolute_url()).text
