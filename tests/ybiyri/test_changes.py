"""The one partial-update mechanism: only the given fields are set, what changed is reported, and
a field the service does not accept is refused before anything is set."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from incidents.models import AuditEntry, Service
from incidents.services import incident_update, service_update
from tests.api.conftest import client_for
from tests.factories import NarrativeFactory
from ybiyri.changes import apply_changes, audit_changes


def test_only_the_given_fields_are_set_and_only_real_changes_are_reported(service):
    description = service.description
    changed = apply_changes(
        service,
        {"demand": "high", "sourcing": service.sourcing},
        fields=("demand", "sourcing", "description"),
    )
    assert changed == {"demand": (Service.Demand.MEDIUM, "high")}
    assert (service.demand, service.description) == ("high", description)


def test_an_unknown_field_is_refused_before_anything_is_set(service):
    with pytest.raises(TypeError, match="name"):
        apply_changes(service, {"demand": "high", "name": "renamed"}, fields=("demand",))
    service.refresh_from_db()
    assert (service.demand, service.name) == (Service.Demand.MEDIUM, "checkout-api")


def test_the_audit_log_keeps_people_rows_dates_and_money_as_json(pm, team):
    changed = {
        "owner": (None, pm),
        "team": (team, team),
        "due_date": (date(2026, 1, 2), None),
        "cost": (Decimal("10.50"), Decimal("12")),
    }
    assert audit_changes(changed) == {
        "owner": ["", "pm"],
        "team": ["Payments", "Payments"],
        "due_date": ["2026-01-02", ""],
        "cost": ["10.50", "12"],
    }


def test_a_service_refuses_a_field_it_does_not_change(incident, pm):
    with pytest.raises(TypeError):
        incident_update(incident=incident, by=pm, changes={"declared_by": pm})


def test_an_update_that_changes_nothing_writes_no_audit_entry(service, pm):
    service_update(service=service, by=pm, changes={"demand": service.demand})
    assert not AuditEntry.objects.filter(verb="service.updated").exists()
    service_update(service=service, by=pm, changes={"demand": "high"})
    assert AuditEntry.objects.get(verb="service.updated").changes == {"demand": ["medium", "high"]}


def test_a_partial_api_update_keeps_what_it_does_not_send(incident, pm, teammate):
    api = client_for(pm)
    review = api.post(
        "/api/reviews/",
        {
            "incident": incident.pk,
            "scheduled_at": (timezone.now() + timedelta(days=3)).isoformat(),
            "time_zone": "Europe/London",
            "duration_minutes": 90,
            "facilitator": pm.pk,
            "attendees": [teammate.pk],
            "location": "Room 4",
        },
        format="json",
    ).data
    moved = api.patch(f"/api/reviews/{review['id']}/", {"duration_minutes": 60}, format="json")
    assert moved.status_code == 200, moved.data
    assert (moved.data["duration_minutes"], moved.data["location"]) == (60, "Room 4")
    assert moved.data["attendees"] == [teammate.pk]

    narrative = NarrativeFactory(incident=incident, created_by=pm, title="The timeouts")
    saved = api.patch(f"/api/narratives/{narrative.pk}/", {"version": 1, "body": "Retold."}, format="json")
    assert saved.status_code == 200, saved.data
    assert (saved.data["title"], saved.data["body"], saved.data["version"]) == ("The timeouts", "Retold.", 2)
