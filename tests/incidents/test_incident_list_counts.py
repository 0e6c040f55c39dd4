"""The incident list's per-row counts: responders, analyses and submitted analyses of each incident."""

from incidents.models import AnalysisSession
from incidents.selectors import incident_list
from tests.factories import AnalysisSessionFactory, IncidentFactory, ResponderFactory


def test_each_listed_incident_counts_its_own_responders_and_analyses(team, service, responder):
    IncidentFactory(team=team, service=service, title="Quiet")
    busy = IncidentFactory(team=team, service=service, title="Busy")
    for status in (
        AnalysisSession.Status.SUBMITTED,
        AnalysisSession.Status.SUBMITTED,
        AnalysisSession.Status.SCHEDULED,
    ):
        AnalysisSessionFactory(responder=ResponderFactory(incident=busy), status=status)
    ResponderFactory(incident=busy)
    rows = {incident.title: incident for incident in incident_list(viewer=responder)}
    assert (rows["Busy"].responder_count, rows["Busy"].analysis_count, rows["Busy"].submitted_count) == (
        4,
        3,
        2,
    )
    assert (rows["Quiet"].responder_count, rows["Quiet"].analysis_count, rows["Quiet"].submitted_count) == (
        0,
        0,
        0,
    )


def test_the_incident_list_page_shows_the_counts(client, team, service, responder):
    incident = IncidentFactory(team=team, service=service)
    AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident), status=AnalysisSession.Status.SUBMITTED
    )
    client.force_login(responder)
    assert "1/1 submitted" in client.get("/incidents/").content.decode()


def test_an_outsider_sees_no_counts_of_incidents_they_may_not_see(client, team, service, outsider):
    incident = IncidentFactory(team=team, service=service, title="Not for outsiders")
    AnalysisSessionFactory(responder=ResponderFactory(incident=incident))
    assert list(incident_list(viewer=outsider)) == []
    client.force_login(outsider)
    assert "Not for outsiders" not in client.get("/incidents/").content.decode()
