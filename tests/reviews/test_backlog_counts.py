"""The backlog's total, counted by index in parts: exactly the actions each person may see."""

from django.utils import timezone

from reviews.models import ImprovementAction, Review
from reviews.selectors import action_backlog, action_backlog_count
from tests.api.conftest import client_for
from tests.factories import ImprovementActionFactory, IncidentFactory, ResponderFactory, ServiceFactory


def test_the_total_is_the_number_of_actions_each_person_may_see(
    client, team, other_team, service, pm, responder, other_team_member, outsider, problem_manager
):
    other_service = ServiceFactory(team=other_team)
    ours = IncidentFactory(team=team, service=service)
    theirs = IncidentFactory(team=other_team, service=other_service)
    for priority in ("high", "low", "low"):
        ImprovementActionFactory(incident=ours, priority=priority, raised_by=pm)
        ImprovementActionFactory(incident=theirs, priority=priority, raised_by=pm, owner=responder)
    responded = IncidentFactory(team=other_team, service=other_service)
    ResponderFactory(incident=responded, user=responder)
    ImprovementActionFactory(incident=responded, priority="high", raised_by=pm)
    attended = IncidentFactory(team=other_team, service=other_service)
    Review.objects.create(
        incident=attended, scheduled_at=timezone.now(), facilitator=outsider, scheduled_by=pm
    )
    ImprovementActionFactory(
        incident=attended, priority="low", raised_by=pm, status=ImprovementAction.Status.DONE
    )
    # A team's own incident the person also responded to: counted once.
    ResponderFactory(incident=ours, user=responder)
    filters = [
        {},
        {"priority": "high"},
        {"team_id": other_team.pk},
        {"owner_id": responder.pk},
        {"status": ImprovementAction.Status.DONE},
        {"incident_id": responded.pk},
    ]
    for viewer in (pm, responder, other_team_member, outsider, problem_manager):
        for chosen in filters:
            listed = action_backlog(viewer=viewer, **chosen).count()
            assert action_backlog_count(viewer=viewer, **chosen) == listed, (viewer.username, chosen)
    assert action_backlog_count(viewer=responder) == 4
    assert client_for(responder).get("/api/actions/").json()["count"] == 4
    assert client_for(responder).get("/api/actions/", {"incident": responded.pk}).json()["count"] == 1
    assert client_for(outsider).get("/api/actions/").json()["count"] == 1
    client.force_login(responder)
    assert client.get("/actions/").context["page"].paginator.count == 4
