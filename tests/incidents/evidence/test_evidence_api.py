"""The evidence API: listing (filters, keyset pages, who may read), promotion, imports, drafts."""

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents.evidence.models import Evidence
from incidents.models import Incident, KeyEvent
from tests.factories import AnalysisSessionFactory, IncidentFactory

pytestmark = pytest.mark.django_db


def add_evidence(incident, count=3, **fields):
    start = timezone.now() - timedelta(hours=1)
    return [
        Evidence.objects.create(
            incident=incident,
            source=fields.get("source", "slack"),
            external_id=f"C1:{index}",
            kind="message",
            occurred_at=start + timedelta(minutes=index),
            text=f"message {index}",
            author=fields.get("author"),
            author_name=fields.get("author_name", "Someone"),
        )
        for index in range(count)
    ]


@pytest.fixture
def analysis(incident, responder):
    return AnalysisSessionFactory(
        incident=incident, responder=incident.responders.get(user=responder), analyst=responder
    )


def test_participants_list_the_evidence_in_time_order_filtered(client, incident, responder):
    add_evidence(incident, 3)
    Evidence.objects.create(
        incident=incident,
        source="pagerduty",
        external_id="E1",
        kind="triggered",
        occurred_at=timezone.now(),
        text="page",
    )
    client.force_login(responder)

    everything = client.get(f"/api/incidents/{incident.pk}/evidence/").json()["results"]
    paged = client.get(f"/api/incidents/{incident.pk}/evidence/?source=pagerduty").json()["results"]
    searched = client.get(f"/api/incidents/{incident.pk}/evidence/?q=message 1").json()["results"]

    assert [item["text"] for item in everything] == ["message 0", "message 1", "message 2", "page"]
    assert [item["external_id"] for item in paged] == ["E1"]
    assert [item["text"] for item in searched] == ["message 1"]


def test_the_person_filter_takes_a_member_id_or_a_name(client, incident, responder, pm):
    add_evidence(incident, 2, author=pm)
    add_evidence_other = Evidence.objects.create(
        incident=incident,
        source="slack",
        external_id="C1:x",
        kind="message",
        occurred_at=timezone.now(),
        author_name="Ext Person",
    )
    client.force_login(responder)

    by_id = client.get(f"/api/incidents/{incident.pk}/evidence/?person={pm.pk}").json()["results"]
    by_name = client.get(f"/api/incidents/{incident.pk}/evidence/?person=ext person").json()["results"]

    assert len(by_id) == 2
    assert [item["id"] for item in by_name] == [add_evidence_other.pk]


def test_evidence_pages_by_cursor_with_a_fixed_number_of_queries(
    client, incident, responder, django_assert_max_num_queries
):
    add_evidence(incident, 150)
    client.force_login(responder)

    with django_assert_max_num_queries(8):
        first = client.get(f"/api/incidents/{incident.pk}/evidence/").json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 100 and len(second["results"]) == 50
    assert second["results"][0]["text"] == "message 100"


@pytest.mark.parametrize("persona", ["outsider", "other_team_member"])
def test_people_outside_the_incident_get_a_404(client, incident, persona, request):
    add_evidence(incident, 1)
    client.force_login(request.getfixturevalue(persona))

    assert client.get(f"/api/incidents/{incident.pk}/evidence/").status_code == 404
    item = incident.evidence.get()
    assert (
        client.post(f"/api/evidence/{item.pk}/promote/", {"analysis": 1, "marker": "repair"}).status_code
        == 404
    )


def test_a_confidential_incidents_evidence_stays_with_its_participants(
    client, team, service, pm, other_team_member, problem_manager
):
    confidential = IncidentFactory(team=team, service=service, declared_by=pm, confidential=True)
    add_evidence(confidential, 1)

    client.force_login(other_team_member)
    assert client.get(f"/api/incidents/{confidential.pk}/evidence/").status_code == 404
    client.force_login(problem_manager)
    assert client.get(f"/api/incidents/{confidential.pk}/evidence/").status_code == 200


def test_an_unknown_source_is_a_400(client, incident, responder):
    client.force_login(responder)

    assert client.get(f"/api/incidents/{incident.pk}/evidence/?source=email").status_code == 400


def test_the_analyst_promotes_evidence_to_their_own_key_event(client, incident, responder, analysis):
    (item,) = add_evidence(incident, 1)
    client.force_login(responder)

    response = client.post(
        f"/api/evidence/{item.pk}/promote/",
        {"analysis": analysis.pk, "marker": "detection", "note": "First sign"},
        content_type="application/json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["evidence"], body["marker"], body["description"]) == (item.pk, "detection", "First sign")
    assert body["occurred_at"].startswith(item.occurred_at.isoformat()[:19])
    event = KeyEvent.objects.get()
    assert (event.analysis, event.evidence) == (analysis, item)


def test_without_a_note_the_key_event_reads_as_the_evidence(client, incident, responder, analysis):
    (item,) = add_evidence(incident, 1)
    client.force_login(responder)

    body = client.post(
        f"/api/evidence/{item.pk}/promote/", {"analysis": analysis.pk, "marker": "repair"}
    ).json()

    assert body["description"] == "Someone: message 0"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"marker": "guess"}, "marker"),
        ({"marker": "repair", "note": "x" * 2001}, "note"),
        ({"marker": "repair", "analysis": "abc"}, "analysis"),
    ],
)
def test_bad_promotions_are_a_400_naming_the_field(client, incident, responder, analysis, payload, field):
    (item,) = add_evidence(incident, 1)
    client.force_login(responder)

    response = client.post(
        f"/api/evidence/{item.pk}/promote/",
        {"analysis": analysis.pk, **payload},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert field in response.json()


def test_nobody_promotes_into_someone_elses_analysis(client, incident, pm, analysis):
    (item,) = add_evidence(incident, 1)
    client.force_login(pm)

    response = client.post(f"/api/evidence/{item.pk}/promote/", {"analysis": analysis.pk, "marker": "repair"})

    assert response.status_code == 403
    assert not KeyEvent.objects.exists()


def test_evidence_of_another_incident_cannot_be_promoted(
    client, incident, team, service, pm, responder, analysis
):
    other = IncidentFactory(team=team, service=service, declared_by=pm)
    (item,) = add_evidence(other, 1)
    client.force_login(responder)

    response = client.post(f"/api/evidence/{item.pk}/promote/", {"analysis": analysis.pk, "marker": "repair"})

    assert response.status_code == 400
    assert "another incident" in json.dumps(response.json())


def test_picks_show_how_many_analysts_picked_each_piece_and_under_which_marker(
    client, incident, responder, teammate, pm, analysis
):
    from incidents.models import Responder

    second = AnalysisSessionFactory(
        incident=incident,
        responder=Responder.objects.create(incident=incident, user=teammate),
        analyst=teammate,
        status="submitted",
    )
    analysis.status = "submitted"
    analysis.save()
    item, _unpicked = add_evidence(incident, 2)
    for session, marker in ((analysis, "detection"), (second, "diagnosis")):
        KeyEvent.objects.create(
            analysis=session,
            incident=incident,
            occurred_at=item.occurred_at,
            description="x",
            evidence=item,
            marker=marker,
        )
    client.force_login(pm)

    picks = client.get(f"/api/incidents/{incident.pk}/evidence/picks/").json()

    assert [(p["evidence"]["id"], p["analysts"], p["markers"]) for p in picks] == [
        (item.pk, 2, {"detection": 1, "diagnosis": 1})
    ]


def test_managers_start_a_slack_import_and_get_a_job(client, incident, pm, slack):
    slack.add_message("C0ABC", "1700000000.000100", user="U9", text="hello")
    slack.add_user("U9", name="Nine")
    client.force_login(pm)

    response = client.post(
        f"/api/incidents/{incident.pk}/evidence/import-slack/",
        {"channel": "C0ABC", "oldest": None, "latest": None},
        content_type="application/json",
    )

    assert response.status_code == 202, response.content
    assert response.json()["channel"] == "C0ABC"
    assert response.json()["state"] == "pending"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channel": "general"}, "channel"),
        ({"channel": "C0ABC", "oldest": "2026-01-02T00:00Z", "latest": "2026-01-01T00:00Z"}, "latest"),
    ],
)
def test_bad_import_requests_are_a_400(client, incident, pm, payload, field):
    client.force_login(pm)

    response = client.post(
        f"/api/incidents/{incident.pk}/evidence/import-slack/", payload, content_type="application/json"
    )

    assert response.status_code == 400
    assert field in response.json()


def test_responders_may_not_start_imports(client, incident, responder):
    client.force_login(responder)

    assert (
        client.post(f"/api/incidents/{incident.pk}/evidence/import-slack/", {"channel": "C0ABC"}).status_code
        == 403
    )


def export_archive(messages):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "users.json",
            json.dumps(
                [
                    {
                        "id": "U1",
                        "name": "omar",
                        "profile": {"real_name": "Omar Call", "email": "omar.call@example.org"},
                    }
                ]
            ),
        )
        archive.writestr("channels.json", json.dumps([{"id": "C0INC", "name": "inc-checkout"}]))
        archive.writestr("inc-checkout/2026-11-02.json", json.dumps(messages))
        archive.writestr(
            "inc-checkout/2026-12-25.json",
            json.dumps([{"type": "message", "ts": "1798156800.000100", "user": "U1", "text": "later"}]),
        )
    buffer.seek(0)
    buffer.name = "export.zip"
    return buffer


def test_an_uploaded_export_brings_in_edited_deleted_and_threaded_messages(client, incident, pm, on_call):
    base = datetime(2026, 11, 2, 9, tzinfo=UTC).timestamp()
    messages = [
        {
            "type": "message",
            "ts": f"{base:.6f}",
            "user": "U1",
            "text": "502s everywhere",
            "thread_ts": f"{base:.6f}",
            "reply_count": 1,
        },
        {
            "type": "message",
            "ts": f"{base + 10:.6f}",
            "user": "U1",
            "text": "it was the cache",
            "thread_ts": f"{base:.6f}",
            "parent_user_id": "U1",
        },
        {
            "type": "message",
            "ts": f"{base + 20:.6f}",
            "user": "U1",
            "text": "fixed (edited)",
            "edited": {"user": "U1", "ts": f"{base + 30:.6f}"},
        },
        {
            "type": "message",
            "ts": f"{base + 40:.6f}",
            "subtype": "tombstone",
            "text": "This message was deleted.",
            "user": "USLACKBOT",
        },
        {
            "type": "message",
            "ts": f"{base + 50:.6f}",
            "subtype": "channel_join",
            "user": "U1",
            "text": "<@U1> has joined",
        },
    ]
    client.force_login(pm)

    response = client.post(
        f"/api/incidents/{incident.pk}/evidence/upload/",
        {"archive": export_archive(messages), "channel": "inc-checkout", "latest": "2026-11-30T00:00:00Z"},
    )

    assert response.status_code == 201, response.content
    assert response.json() == {"messages_seen": 5, "messages_added": 4}
    stored = list(incident.evidence.order_by("occurred_at"))
    assert stored[0].author == on_call
    assert stored[1].thread_ts == stored[0].external_id.split(":")[1]
    assert stored[2].edited_at is not None
    assert stored[3].deleted_at is not None and stored[3].text == ""
    again = client.post(
        f"/api/incidents/{incident.pk}/evidence/upload/",
        {"archive": export_archive(messages), "channel": "C0INC"},
    )
    assert again.json()["messages_added"] == 1  # only the later day, outside the first window


@pytest.mark.parametrize(
    ("archive", "channel", "field"),
    [(io.BytesIO(b"not a zip"), "inc", "archive"), (None, "nope", "channel")],
)
def test_bad_exports_are_a_400(client, incident, pm, archive, channel, field):
    client.force_login(pm)
    upload = archive or export_archive([])
    upload.name = "export.zip"

    response = client.post(
        f"/api/incidents/{incident.pk}/evidence/upload/", {"archive": upload, "channel": channel}
    )

    assert response.status_code == 400
    assert field in response.json()


def test_drafts_are_listed_with_their_source_and_confirmed_or_dismissed_by_managers(
    client, team, service, pm, responder
):
    from incidents.evidence.services import pager_account

    draft = IncidentFactory(
        team=team,
        service=service,
        declared_by=pager_account(),
        status="draft",
        source="pagerduty",
        external_id="PGR1",
    )
    client.force_login(pm)

    listed = client.get("/api/incidents/?status=draft").json()["results"]
    assert [(i["id"], i["source"], i["external_id"]) for i in listed] == [(draft.pk, "pagerduty", "PGR1")]

    client.force_login(responder)
    assert client.post(f"/api/incidents/{draft.pk}/confirm/").status_code == 403
    client.force_login(pm)
    assert client.post(f"/api/incidents/{draft.pk}/confirm/").json()["status"] == "declared"
    assert client.post(f"/api/incidents/{draft.pk}/dismiss/").status_code == 400
    draft.refresh_from_db()
    assert (draft.status, draft.declared_by) == (Incident.Status.DECLARED, pm)
