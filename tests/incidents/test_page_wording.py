"""What pages say to people: durations, plurals, time zones, the next step, what waits for review."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import AnalysisSession, Incident
from tests.factories import AnalysisSessionFactory, ResponderFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_incident_durations_read_as_hours_and_minutes(client, incident, pm):
    client.force_login(pm)
    response = client.get(incident.get_absolute_url())
    assert "(after 5 min)" in response.text
    assert "(after 2 h)" in response.text
    assert "0:05:00" not in response.text


def test_a_new_incidents_primary_button_is_allocating_analysis_time(client, incident, pm):
    client.force_login(pm)
    response = client.get(incident.get_absolute_url())
    assert (
        f'class="button primary" href="{reverse("incidents:allocate", args=[incident.pk])}"' in response.text
    )
    assert f'class="button" href="{reverse("reviews:schedule", args=[incident.pk])}"' in response.text


def test_once_analyses_are_allocated_the_primary_button_is_scheduling_the_review(client, incident, pm):
    AnalysisSessionFactory(responder=incident.responders.get(), scheduled_by=pm)
    client.force_login(pm)
    response = client.get(incident.get_absolute_url())
    assert f'class="button primary" href="{reverse("reviews:schedule", args=[incident.pk])}"' in response.text


def test_allocating_to_two_responders_says_sessions_in_the_plural(client, incident, pm, teammate):
    ResponderFactory(incident=incident, user=teammate)
    client.force_login(pm)
    due = (timezone.localtime() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    data = {}
    for responder in incident.responders.all():
        data |= {
            f"r{responder.pk}_include": "on",
            f"r{responder.pk}_minutes": 60,
            f"r{responder.pk}_due": due,
        }
    response = client.post(reverse("incidents:allocate", args=[incident.pk]), data, follow=True)
    assert "2 analysis sessions allocated" in response.text


def test_time_inputs_name_their_time_zone(client, pm):
    client.force_login(pm)
    response = client.get(reverse("incidents:declare"))
    assert 'id="id_started_at_helptext">In UTC time.</small>' in response.text


def test_an_incident_with_no_analysis_submitted_is_not_awaiting_review(client, incident, pm, teammate):
    ResponderFactory(incident=incident, user=teammate)
    for responder in incident.responders.all():
        AnalysisSessionFactory(responder=responder, scheduled_by=pm)
    Incident.objects.filter(pk=incident.pk).update(status=Incident.Status.ANALYSING)
    client.force_login(pm)
    assert "0 of 2 analyses submitted" not in client.get("/").text
    AnalysisSession.objects.update(status=AnalysisSession.Status.SUBMITTED)
    assert "2 of 2 analyses submitted" in client.get("/").text


def test_the_navigation_is_a_menu_that_works_without_javascript(client, pm):
    client.force_login(pm)
    response = client.get("/")
    assert '<details class="nav-menu">' in response.text
    assert "<summary>Menu</summary>" in response.text


def test_tables_label_each_cell_for_the_phone_layout(client, incident, pm):
    AnalysisSessionFactory(responder=ResponderFactory(incident=incident, user=UserFactory()), scheduled_by=pm)
    client.force_login(pm)
    response = client.get(reverse("incidents:list"))
    assert '<td data-label="Severity">' in response.text
