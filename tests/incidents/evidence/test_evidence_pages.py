"""Pages: the evidence panel beside the analysis, promotion from it, imports, the pager drafts."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.evidence.models import Evidence, SlackImport
from incidents.evidence.services import pager_account
from incidents.models import Incident, KeyEvent
from tests.factories import AnalysisSessionFactory, IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def analysis(incident, responder):
    return AnalysisSessionFactory(
        incident=incident, responder=incident.responders.get(user=responder), analyst=responder
    )


@pytest.fixture
def messages(incident, pm):
    start = timezone.now() - timedelta(hours=2)
    return [
        Evidence.objects.create(
            incident=incident, source="slack", external_id=f"C1:{i}", kind="message",
            occurred_at=start + timedelta(minutes=i), text=f"line {i}", author=pm if i % 2 else None, author_name="Ext",
        )
        for i in range(60)
    ]  # fmt: skip


def test_the_panel_shows_a_page_of_evidence_with_a_link_to_the_next(
    client, responder, analysis, messages, django_assert_max_num_queries
):
    client.force_login(responder)

    with django_assert_max_num_queries(14):
        response = client.get(f"/analyses/{analysis.pk}/evidence/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    body = response.content.decode()
    assert "line 49" in body and "line 50" not in body
    later = client.get(
        f"/analyses/{analysis.pk}/evidence/?after={messages[49].pk}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "line 50" in later and "line 49" not in later


def test_the_panels_queries_do_not_grow_with_the_transcript(
    client, responder, analysis, messages, django_assert_num_queries
):
    client.force_login(responder)
    client.get(f"/analyses/{analysis.pk}/evidence/", HTTP_HX_REQUEST="true")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        client.get(f"/analyses/{analysis.pk}/evidence/?source=slack&q=line 1", HTTP_HX_REQUEST="true")
    with CaptureQueriesContext(connection) as many:
        client.get(f"/analyses/{analysis.pk}/evidence/?source=slack", HTTP_HX_REQUEST="true")
    assert len(few) == len(many)


def test_the_analysis_page_loads_the_panel(client, responder, analysis):
    client.force_login(responder)

    body = client.get(f"/analyses/{analysis.pk}/").content.decode()

    assert f'hx-get="/analyses/{analysis.pk}/evidence/"' in body


def test_promoting_from_the_panel_adds_a_key_event_and_marks_the_evidence(
    client, responder, analysis, messages
):
    client.force_login(responder)
    item = messages[3]

    response = client.post(
        f"/analyses/{analysis.pk}/evidence/{item.pk}/promote/",
        {f"promote-{item.pk}-marker": "diagnosis", f"promote-{item.pk}-note": "The cache, again"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert response["HX-Trigger"] == "key-events-changed"
    assert "in your timeline: diagnosis" in response.content.decode()
    event = KeyEvent.objects.get()
    assert (event.marker, event.description, event.evidence) == ("diagnosis", "The cache, again", item)


def test_a_bad_marker_is_shown_on_the_form(client, responder, analysis, messages):
    client.force_login(responder)
    item = messages[0]

    response = client.post(
        f"/analyses/{analysis.pk}/evidence/{item.pk}/promote/",
        {f"promote-{item.pk}-marker": "hunch"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not KeyEvent.objects.exists()


@pytest.mark.parametrize(("persona", "status"), [("pm", 403), ("outsider", 404), ("other_team_member", 404)])
def test_only_the_analyst_promotes(client, analysis, messages, persona, status, request):
    client.force_login(request.getfixturevalue(persona))
    item = messages[0]

    response = client.post(
        f"/analyses/{analysis.pk}/evidence/{item.pk}/promote/", {f"promote-{item.pk}-marker": "repair"}
    )

    assert response.status_code == status
    assert not KeyEvent.objects.exists()


def test_outsiders_do_not_see_the_panel(client, outsider, analysis, messages):
    client.force_login(outsider)

    assert client.get(f"/analyses/{analysis.pk}/evidence/").status_code == 404


def test_managers_import_a_channel_from_the_incidents_evidence_page(client, pm, incident, slack):
    slack.channels["C0ABC"] = []
    client.force_login(pm)

    response = client.post(f"/incidents/{incident.pk}/evidence/slack/", {"channel": "C0ABC"})

    assert response.status_code == 302
    assert SlackImport.objects.get().channel == "C0ABC"
    assert "C0ABC" in client.get(f"/incidents/{incident.pk}/evidence/").content.decode()


def test_an_import_by_channel_name_is_refused_with_the_reason(client, pm, incident):
    client.force_login(pm)

    response = client.post(f"/incidents/{incident.pk}/evidence/slack/", {"channel": "#incident"})

    assert response.status_code == 400
    assert "not its name" in response.content.decode()


@pytest.mark.parametrize(("persona", "status"), [("responder", 403), ("outsider", 404)])
def test_only_managers_import(client, incident, persona, status, request):
    client.force_login(request.getfixturevalue(persona))

    assert (
        client.post(f"/incidents/{incident.pk}/evidence/slack/", {"channel": "C0ABC"}).status_code == status
    )


@pytest.fixture
def draft(team, service):
    return IncidentFactory(
        team=team,
        service=service,
        declared_by=pager_account(),
        status="draft",
        source="opsgenie",
        external_id="a-1",
    )


def test_product_managers_see_drafts_and_confirm_them(client, pm, draft):
    client.force_login(pm)

    assert "a-1" in client.get("/incidents/drafts/").content.decode()
    response = client.post(f"/incidents/{draft.pk}/confirm/")

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == Incident.Status.DECLARED


def test_dismissing_a_draft_keeps_it_out_of_the_drafts(client, pm, draft):
    client.force_login(pm)

    client.post(f"/incidents/{draft.pk}/dismiss/")

    draft.refresh_from_db()
    assert draft.status == Incident.Status.DISMISSED
    assert "a-1" not in client.get("/incidents/drafts/").content.decode()


@pytest.mark.parametrize(("persona", "status"), [("responder", 403), ("other_team_member", 404)])
def test_others_may_not_decide_drafts(client, draft, persona, status, request):
    client.force_login(request.getfixturevalue(persona))

    assert client.post(f"/incidents/{draft.pk}/confirm/").status_code == status
    assert client.post(f"/incidents/{draft.pk}/dismiss/").status_code == status
    assert "a-1" not in client.get("/incidents/drafts/").content.decode()
