"""Pager webhooks: PagerDuty (signed), Opsgenie and Alertmanager (bearer) open and update drafts."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.evidence.models import Evidence
from incidents.models import Incident
from tests.fakes.pagers import (
    alertmanager_alert,
    alertmanager_notification,
    opsgenie_delivery,
    pagerduty_event,
    pagerduty_request,
)
from tests.incidents.evidence.conftest import ALERTMANAGER_TOKEN, OPSGENIE_TOKEN, PAGERDUTY_SECRET

PAGERDUTY = "/integrations/pagerduty/webhook/"
OPSGENIE = "/integrations/opsgenie/webhook/"
ALERTMANAGER = "/integrations/alertmanager/webhook/"

pytestmark = pytest.mark.django_db


def deliver_pagerduty(client, payload, *, secret=PAGERDUTY_SECRET):
    body, headers = pagerduty_request(payload, secret)
    return client.post(PAGERDUTY, data=body, content_type="application/json", **headers)


def bearer(client, url, payload, token):
    return client.post(
        url, data=json.dumps(payload), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def test_a_triggered_page_opens_a_draft_on_the_mapped_service_with_the_assignee_proposed(
    client, mapped_service, on_call
):
    now = timezone.now()
    payload = pagerduty_event(
        "incident.triggered", occurred_at=now, assignee_emails=("omar.call@example.org",)
    )

    response = deliver_pagerduty(client, payload)

    assert response.status_code == 200, response.content
    assert response.json()["result"] == "opened"
    incident = Incident.objects.get(source="pagerduty", external_id="PGR0VU2")
    assert incident.status == Incident.Status.DRAFT
    assert (incident.service, incident.team) == (mapped_service, mapped_service.team)
    assert incident.detected_at == incident.started_at == now
    assert incident.severity == Incident.Severity.SEV2
    assert [r.user for r in incident.responders.all()] == [on_call]
    assert incident.evidence.get().kind == Evidence.Kind.TRIGGERED


def test_acknowledged_and_resolved_events_fill_the_times_and_propose_whoever_acknowledged(
    client, mapped_service, on_call
):
    start = timezone.now() - timedelta(hours=1)
    deliver_pagerduty(client, pagerduty_event("incident.triggered", occurred_at=start))
    deliver_pagerduty(
        client,
        pagerduty_event(
            "incident.acknowledged",
            occurred_at=start + timedelta(minutes=3),
            agent_email="omar.call@example.org",
        ),
    )
    deliver_pagerduty(client, pagerduty_event("incident.resolved", occurred_at=start + timedelta(minutes=40)))

    incident = Incident.objects.get(external_id="PGR0VU2")
    assert incident.acknowledged_at - incident.detected_at == timedelta(minutes=3)
    assert incident.resolved_at - incident.detected_at == timedelta(minutes=40)
    assert incident.responders.get().role == "Acknowledged the page"
    assert incident.evidence.count() == 3


def test_events_out_of_order_give_the_same_draft_as_in_order(client, mapped_service):
    start = timezone.now() - timedelta(hours=1)
    resolved = pagerduty_event("incident.resolved", occurred_at=start + timedelta(minutes=40))
    triggered = pagerduty_event("incident.triggered", occurred_at=start)
    acknowledged = pagerduty_event("incident.acknowledged", occurred_at=start + timedelta(minutes=2))

    for payload in (resolved, acknowledged, triggered):
        assert deliver_pagerduty(client, payload).status_code == 200

    incident = Incident.objects.get(external_id="PGR0VU2")
    assert incident.started_at == incident.detected_at
    assert incident.resolved_at - incident.started_at == timedelta(minutes=40)
    assert incident.acknowledged_at - incident.started_at == timedelta(minutes=2)
    assert Incident.objects.count() == 1


def test_a_duplicate_delivery_is_accepted_and_changes_nothing(client, mapped_service):
    payload = pagerduty_event("incident.triggered", occurred_at=timezone.now())
    deliver_pagerduty(client, payload)

    response = deliver_pagerduty(client, payload)

    assert response.status_code == 200
    assert response.json()["result"] == "duplicate"
    assert Evidence.objects.count() == 1
    assert Incident.objects.count() == 1


def test_a_replayed_old_delivery_is_refused(client, mapped_service, settings):
    settings.PAGER_WEBHOOK_MAX_AGE_SECONDS = 3600
    payload = pagerduty_event("incident.triggered", occurred_at=timezone.now() - timedelta(hours=2))

    response = deliver_pagerduty(client, payload)

    assert response.status_code == 403
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"HTTP_X_PAGERDUTY_SIGNATURE": "v1=" + "0" * 64}, 403),
        ({"HTTP_X_PAGERDUTY_SIGNATURE": "v0=whatever"}, 403),
    ],
)
def test_unsigned_or_wrongly_signed_deliveries_are_refused(client, mapped_service, headers, status):
    body = json.dumps(pagerduty_event("incident.triggered", occurred_at=timezone.now())).encode()

    response = client.post(PAGERDUTY, data=body, content_type="application/json", **headers)

    assert response.status_code == status
    assert not Incident.objects.exists()


def test_any_of_several_signatures_may_match_while_the_secret_rotates(client, mapped_service):
    body, headers = pagerduty_request(
        pagerduty_event("incident.triggered", occurred_at=timezone.now()), PAGERDUTY_SECRET
    )
    headers["HTTP_X_PAGERDUTY_SIGNATURE"] = "v1=" + "f" * 64 + "," + headers["HTTP_X_PAGERDUTY_SIGNATURE"]

    response = client.post(PAGERDUTY, data=body, content_type="application/json", **headers)

    assert response.status_code == 200


def test_pagerduty_webhooks_are_refused_when_no_secret_is_configured(client, mapped_service, settings):
    settings.PAGERDUTY_WEBHOOK_SECRET = ""

    response = deliver_pagerduty(
        client, pagerduty_event("incident.triggered", occurred_at=timezone.now()), secret="x"
    )

    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"event": "a string"}).encode(),
        json.dumps(
            {
                "event": {
                    "id": "E1",
                    "event_type": "incident.triggered",
                    "occurred_at": "yesterday",
                    "data": {"id": "P1"},
                }
            }
        ).encode(),
        json.dumps(
            {
                "event": {
                    "id": "E1\u0000",
                    "event_type": "incident.triggered",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "data": {"id": "P1"},
                }
            }
        ).encode(),
        json.dumps(
            {
                "event": {
                    "id": "E1",
                    "event_type": "incident.triggered",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "data": {"id": "P1", "assignees": "x"},
                }
            }
        ).encode(),
    ],
)
def test_signed_payloads_of_the_wrong_shape_are_a_400(client, mapped_service, body):
    from tests.fakes.pagers import pagerduty_signature

    response = client.post(
        PAGERDUTY,
        data=body,
        content_type="application/json",
        HTTP_X_PAGERDUTY_SIGNATURE=pagerduty_signature(body, PAGERDUTY_SECRET),
    )

    assert response.status_code == 400
    assert "error" in response.json()


def test_a_page_no_service_claims_is_acknowledged_and_ignored(client, service):
    response = deliver_pagerduty(client, pagerduty_event("incident.triggered", occurred_at=timezone.now()))

    assert response.status_code == 200
    assert response.json()["result"] == "unmapped"
    assert not Incident.objects.exists()


def test_a_confirmed_incident_keeps_the_times_people_set_and_gains_the_missing_ones(
    client, mapped_service, pm
):
    from incidents.evidence.services import incident_confirm

    start = timezone.now() - timedelta(hours=1)
    deliver_pagerduty(client, pagerduty_event("incident.triggered", occurred_at=start))
    incident = Incident.objects.get()
    incident_confirm(incident=incident, by=pm)
    Incident.objects.filter(pk=incident.pk).update(detected_at=start + timedelta(minutes=5))

    deliver_pagerduty(client, pagerduty_event("incident.resolved", occurred_at=start + timedelta(minutes=30)))

    incident.refresh_from_db()
    assert incident.status == Incident.Status.DECLARED
    assert incident.detected_at == start + timedelta(minutes=5)
    assert incident.resolved_at is not None


def test_opsgenie_alert_actions_open_and_close_a_draft(client, mapped_service, on_call):
    created = timezone.now() - timedelta(minutes=30)
    create = opsgenie_delivery("Create", alert_id="70413a06-38d6", created_at=created, priority="P1")
    ack = opsgenie_delivery(
        "Acknowledge",
        alert_id="70413a06-38d6",
        created_at=created,
        updated_at=created + timedelta(minutes=1),
        username="omar.call@example.org",
    )
    close = opsgenie_delivery(
        "Close", alert_id="70413a06-38d6", created_at=created, updated_at=created + timedelta(minutes=20)
    )

    results = [
        bearer(client, OPSGENIE, payload, OPSGENIE_TOKEN).json()["result"]
        for payload in (create, ack, close, ack)
    ]

    assert results == ["opened", "updated", "updated", "duplicate"]
    incident = Incident.objects.get(source="opsgenie")
    assert incident.severity == Incident.Severity.SEV1
    assert incident.resolved_at - incident.detected_at == timedelta(minutes=20)
    assert [r.user for r in incident.responders.all()] == [on_call]


@pytest.mark.parametrize(("header", "status"), [("", 401), ("Bearer wrong", 403), ("Basic abc", 401)])
def test_opsgenie_deliveries_without_the_token_are_refused(client, mapped_service, header, status):
    payload = opsgenie_delivery("Create", alert_id="a1", created_at=timezone.now())
    extra = {"HTTP_AUTHORIZATION": header} if header else {}

    response = client.post(OPSGENIE, data=json.dumps(payload), content_type="application/json", **extra)

    assert response.status_code == status


def test_opsgenie_payload_of_the_wrong_shape_is_a_400(client, mapped_service):
    response = bearer(
        client, OPSGENIE, {"action": "Create", "alert": {"alertId": "a", "createdAt": "soon"}}, OPSGENIE_TOKEN
    )

    assert response.status_code == 400


def test_alertmanager_alerts_open_drafts_by_label_matchers_and_resolve_them(client, mapped_service):
    start = timezone.now() - timedelta(minutes=10)
    labels = {"service": "checkout-api", "env": "prod", "severity": "critical"}
    firing = alertmanager_notification(
        alertmanager_alert(status="firing", starts_at=start, labels=labels, fingerprint="c0ffee"),
        alertmanager_alert(
            status="firing",
            starts_at=start,
            labels={"service": "checkout-api", "env": "staging"},
            fingerprint="bead",
        ),
    )
    resolved = alertmanager_notification(
        alertmanager_alert(
            status="resolved",
            starts_at=start,
            ends_at=start + timedelta(minutes=8),
            labels=labels,
            fingerprint="c0ffee",
        ),
        status="resolved",
    )

    first = bearer(client, ALERTMANAGER, firing, ALERTMANAGER_TOKEN)
    again = bearer(client, ALERTMANAGER, firing, ALERTMANAGER_TOKEN)
    last = bearer(client, ALERTMANAGER, resolved, ALERTMANAGER_TOKEN)

    assert first.json()["events"] == ["opened", "unmapped"]
    assert again.json()["events"] == ["duplicate", "unmapped"]
    assert last.json()["result"] == "updated"
    incident = Incident.objects.get(source="alertmanager")
    assert incident.severity == Incident.Severity.SEV2
    assert incident.resolved_at - incident.started_at == timedelta(minutes=8)


@pytest.mark.parametrize(
    "payload",
    [
        {"alerts": "none"},
        {"alerts": [{"status": "pending", "startsAt": "2026-01-01T00:00:00Z"}]},
        {"alerts": [{"status": "firing"}]},
    ],
)
def test_alertmanager_payload_of_the_wrong_shape_is_a_400(client, mapped_service, payload):
    assert bearer(client, ALERTMANAGER, payload, ALERTMANAGER_TOKEN).status_code == 400


def test_alertmanager_without_the_token_is_refused(client, mapped_service):
    response = client.post(ALERTMANAGER, data="{}", content_type="application/json")

    assert response.status_code == 401
