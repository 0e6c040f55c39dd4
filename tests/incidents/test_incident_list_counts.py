"""The incident list's per-row counts: responders, analyses and submitted analyses of each incident."""

from django.utils import timezone

from incidents.models import AnalysisSession, Incident
from incidents.selectors import incident_list, incident_list_count
from reviews.models import Review
from tests.factories import AnalysisSessionFactory, IncidentFactory, ResponderFactory, ServiceFactory


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


def test_the_list_total_counts_exactly_the_incidents_each_person_may_see(
    client, team, other_team, service, pm, responder, other_team_member, outsider, problem_manager
):
    """The total is counted in parts (the teams' incidents, then the others one participates in):
    whoever looks and whatever they filter, it is the number of rows the list holds."""
    other_service = ServiceFactory(team=other_team)
    for index in range(3):
        IncidentFactory(team=team, service=service, severity="sev1" if index else "sev2")
        IncidentFactory(team=other_team, service=other_service, severity="sev1")
    responded = IncidentFactory(team=other_team, service=other_service, severity="sev1")
    ResponderFactory(incident=responded, user=responder)
    reviewed = IncidentFactory(team=other_team, service=other_service, severity="sev2")
    Review.objects.create(
        incident=reviewed, scheduled_at=timezone.now(), facilitator=responder, scheduled_by=pm
    )
    cancelled = IncidentFactory(team=other_team, service=other_service, severity="sev2")
    Review.objects.create(
        incident=cancelled,
        scheduled_at=timezone.now(),
        facilitator=responder,
        scheduled_by=pm,
        status=Review.Status.CANCELLED,
    )
    # Both a team member and a responder to the same incident: counted once.
    ResponderFactory(incident=Incident.objects.filter(team=team).first(), user=responder)
    for viewer in (pm, responder, other_team_member, outsider, problem_manager):
        for filters in ({}, {"severity": "sev1"}, {"severity": "sev2"}, {"team_id": other_team.pk}):
            listed = incident_list(viewer=viewer, **filters).count()
            assert incident_list_count(viewer=viewer, **filters) == listed, (viewer.username, filters)
    assert incident_list_count(viewer=responder) == 5
    client.force_login(responder)
    assert "5 incidents" in client.get("/incidents/").text
