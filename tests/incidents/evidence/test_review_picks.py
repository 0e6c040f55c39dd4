"""The review's merged timeline shows, per piece of evidence, how many analysts picked it and under
which marker — where perspectives agree and differ — and never the picks of an analysis that is not
submitted to anyone but its analyst."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.evidence.models import Evidence
from incidents.evidence.selectors import evidence_picks
from incidents.models import AnalysisSession
from tests.factories import (
    AnalysisSessionFactory,
    KeyEventFactory,
    ResponderFactory,
    ReviewFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def analysis_of(incident, user, *, submitted: bool) -> AnalysisSession:
    return AnalysisSessionFactory(
        responder=ResponderFactory(incident=incident, user=user),
        status=AnalysisSession.Status.SUBMITTED if submitted else AnalysisSession.Status.IN_PROGRESS,
        submitted_at=timezone.now() if submitted else None,
        report="Report",
    )


def message(incident, index: int, text: str) -> Evidence:
    return Evidence.objects.create(
        incident=incident,
        source="slack",
        external_id=f"C0INC:{index}",
        kind="message",
        occurred_at=incident.started_at + timedelta(minutes=index),
        text=text,
        author_name="Rui",
    )


def pick(analysis, evidence, marker: str) -> None:
    KeyEventFactory(analysis=analysis, occurred_at=evidence.occurred_at, evidence=evidence, marker=marker)


@pytest.fixture
def picked(incident, pm, responder, teammate):
    """Three analysts: two agree the alert was the detection, they differ on the rollback; the
    third, still writing, picked a message nobody else did."""
    review = ReviewFactory(incident=incident, facilitator=pm)
    review.attendees.add(responder, teammate)
    first = analysis_of(incident, UserFactory(first_name="Ana"), submitted=True)
    second = analysis_of(incident, UserFactory(first_name="Ben"), submitted=True)
    drafting = analysis_of(incident, teammate, submitted=False)
    alert = message(incident, 1, "checkout 5xx alert fired")
    rollback = message(incident, 2, "rolling back deploy 4711")
    hunch = message(incident, 3, "might be the cache TTL")
    message(incident, 4, "nobody picked this one")
    pick(first, alert, "detection")
    pick(second, alert, "detection")
    pick(first, rollback, "repair")
    pick(second, rollback, "diagnosis")
    pick(drafting, hunch, "key_moment")
    return {"review": review, "alert": alert, "rollback": rollback, "hunch": hunch}


def test_the_review_page_shows_how_many_analysts_picked_each_piece_and_where_they_differ(client, pm, picked):
    client.force_login(pm)

    body = client.get(picked["review"].get_absolute_url()).content.decode()

    section = body[body.index('id="review-picks"') :]
    alert = section[section.index(f'id="pick-{picked["alert"].pk}"') :].split("</tr>")[0]
    rollback = section[section.index(f'id="pick-{picked["rollback"].pk}"') :].split("</tr>")[0]
    assert "checkout 5xx alert fired" in alert and "2 analysts" in alert
    assert "Detection × 2" in alert and "Agree" in alert
    assert "rolling back deploy 4711" in rollback and "2 analysts" in rollback
    assert "Diagnosis × 1" in rollback and "Repair × 1" in rollback and "Differ" in rollback
    assert section.index("checkout 5xx") < section.index("rolling back")
    assert "nobody picked this one" not in section


def test_picks_of_an_analysis_being_written_show_to_its_analyst_only(client, pm, teammate, picked):
    client.force_login(pm)
    facilitator_sees = client.get(picked["review"].get_absolute_url()).content.decode()
    api_answer = client.get(f"/api/incidents/{picked['review'].incident_id}/evidence/picks/").json()
    client.force_login(teammate)
    analyst_sees = client.get(picked["review"].get_absolute_url()).content.decode()

    assert "might be the cache TTL" not in facilitator_sees
    assert picked["hunch"].pk not in [item["evidence"]["id"] for item in api_answer]
    assert f'id="pick-{picked["hunch"].pk}"' in analyst_sees
    assert "Key moment × 1" in analyst_sees


def test_the_selector_counts_an_analyst_once_per_marker_and_once_per_piece(incident, pm, picked):
    analyst = AnalysisSession.objects.filter(status=AnalysisSession.Status.SUBMITTED).first()
    pick(analyst, picked["alert"], "detection")
    pick(analyst, picked["alert"], "key_moment")

    picks = {item.evidence.pk: item for item in evidence_picks(incident=incident, viewer=pm)}

    alert = picks[picked["alert"].pk]
    assert alert.analysts == 2
    assert alert.markers == {"detection": 2, "key_moment": 1}
    assert alert.marker_counts == [("Detection", 2), ("Key moment", 1)]
    assert alert.differed and not alert.agreed


def test_a_review_without_picks_says_so(client, incident, pm):
    review = ReviewFactory(incident=incident, facilitator=pm)
    message(incident, 1, "an unpicked message")
    client.force_login(pm)

    body = client.get(review.get_absolute_url()).content.decode()

    assert "No analyst has promoted a message or pager event to a key event yet." in body


def test_someone_outside_the_incident_sees_neither_the_review_nor_its_picks(
    client, other_team_member, picked
):
    client.force_login(other_team_member)

    assert client.get(picked["review"].get_absolute_url()).status_code == 404
    assert client.get(f"/api/incidents/{picked['review'].incident_id}/evidence/picks/").status_code == 404


def test_the_picks_cost_the_same_queries_however_many_analysts_picked(
    client, pm, incident, picked, django_assert_num_queries
):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(pm)
    url = picked["review"].get_absolute_url()
    client.get(url)
    cache.clear()  # the page computed each time, not served again from its cache
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for index in range(5):
        analysis = analysis_of(incident, UserFactory(), submitted=True)
        extra = message(incident, 10 + index, f"more {index}")
        pick(analysis, extra, "diagnosis")
        pick(analysis, picked["alert"], "repair")
    cache.clear()
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).content.decode()

    assert "more 4" in body
    assert len(few) == len(many)
