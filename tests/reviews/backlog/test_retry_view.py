"""The "retry" button and the sync-state partial."""

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from reviews.models import ImprovementAction
from tests.factories import ResponderFactory

SyncState = ImprovementAction.SyncState


@pytest.fixture
def failed(fake_jira_cloud, jira_team, raise_action):
    jira_team.jira_priority_map = {"high": "Urgent"}
    jira_team.save()
    action = raise_action(priority="high")
    assert action.sync_state == SyncState.FAILED
    jira_team.jira_priority_map = {}  # the configuration is fixed
    jira_team.save()
    return action


def retry_url(action):
    return f"/integrations/actions/{action.pk}/retry/"


def test_retry_pushes_again_and_returns_to_the_incident(
    transactional_db, client, pm, failed, fake_jira_cloud
):
    # Real commits: without a broker the push runs as the retry's transaction commits.
    client.force_login(pm)
    response = client.post(retry_url(failed))
    assert response.status_code == 302
    assert response.url == f"/incidents/{failed.incident_id}/"
    failed.refresh_from_db()
    assert failed.sync_state == SyncState.SYNCED
    assert len(fake_jira_cloud.issues) == 1


def test_retry_goes_back_to_a_safe_next_only(client, pm, failed):
    client.force_login(pm)
    inside = client.post(retry_url(failed), {"next": "/narratives/?q=x"})
    assert inside.url == "/narratives/?q=x"
    outside = client.post(retry_url(failed), {"next": "https://evil.example.com/"})
    assert outside.url == f"/incidents/{failed.incident_id}/"


def test_retry_with_htmx_renders_the_partial(transactional_db, client, pm, failed, fake_jira_cloud):
    client.force_login(pm)
    response = client.post(retry_url(failed), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="action-sync-{failed.pk}"' in html
    assert "badge-synced" in html
    assert "PAY-1" in html


def test_people_outside_the_incidents_team_cannot_retry(client, other_team_member, outsider, failed):
    helper = other_team_member
    ResponderFactory(incident=failed.incident, user=helper)  # sees the incident, is not of its team
    client.force_login(helper)
    assert client.post(retry_url(failed)).status_code == 403
    client.force_login(outsider)
    assert client.post(retry_url(failed)).status_code == 404
    failed.refresh_from_db()
    assert failed.sync_state == SyncState.FAILED


def test_retry_needs_a_post_and_a_signed_in_person(client, pm, failed):
    assert client.post(retry_url(failed)).status_code == 302  # to the login page
    client.force_login(pm)
    assert client.get(retry_url(failed)).status_code == 405


def render_partial(action, user):
    request = RequestFactory().get(f"/incidents/{action.incident_id}/")
    request.user = user
    return render_to_string("reviews/_action_sync.html", {"action": action}, request=request)


def test_the_partial_shows_the_trackers_message_and_a_retry_form_on_failure(failed, pm):
    html = render_partial(failed, pm)
    assert "badge-failed" in html
    assert "Priority name &#x27;Urgent&#x27; is not valid" in html
    assert f'action="/integrations/actions/{failed.pk}/retry/"' in html
    assert "csrfmiddlewaretoken" in html


def test_the_partial_links_the_issue_once_synced(fake_jira_cloud, jira_team, raise_action, pm):
    action = raise_action()
    html = render_partial(action, pm)
    assert f'href="{fake_jira_cloud.url}/browse/PAY-1"' in html
    assert "Retry" not in html
