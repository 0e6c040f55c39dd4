"""Pages and the API answer the same question the same way: an action's status goes through one
service."""

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import AuditEntry
from reviews.models import ImprovementAction
from tests.api.conftest import client_for
from tests.factories import ImprovementActionFactory


@pytest.fixture
def action(incident, pm):
    return ImprovementActionFactory(incident=incident, raised_by=pm, owner=pm)


def status_entries() -> list[tuple[str, dict]]:
    return list(
        AuditEntry.objects.filter(target_type="reviews.improvementaction").values_list("verb", "changes")
    )


def test_marking_an_action_done_on_the_page_and_through_the_api_records_the_same(client, pm, action):
    client.force_login(pm)
    client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "done"})
    through_page = status_entries()
    action.refresh_from_db()
    assert action.status == ImprovementAction.Status.DONE
    assert action.done_at is not None
    AuditEntry.objects.all().delete()
    ImprovementAction.objects.filter(pk=action.pk).update(status=ImprovementAction.Status.OPEN, done_at=None)

    response = client_for(pm).patch(f"/api/actions/{action.pk}/", {"status": "done"}, format="json")

    assert response.status_code == 200, response.data
    assert status_entries() == through_page == [("action.updated", {"status": ["open", "done"]})]


def test_reopening_on_the_page_records_the_change_as_the_api_does(client, pm, action):
    ImprovementAction.objects.filter(pk=action.pk).update(
        status=ImprovementAction.Status.DONE, done_at=timezone.now()
    )
    client.force_login(pm)
    client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "open"})
    action.refresh_from_db()
    assert action.done_at is None
    assert status_entries() == [("action.updated", {"status": ["done", "open"]})]


def test_an_outsider_cannot_set_an_actions_status_on_either_path(client, outsider, action):
    client.force_login(outsider)
    assert (
        client.post(reverse("reviews:action_status", args=[action.pk]), {"status": "done"}).status_code == 404
    )
    api = client_for(outsider).patch(f"/api/actions/{action.pk}/", {"status": "done"}, format="json")
    assert api.status_code == 404
    action.refresh_from_db()
    assert action.status == ImprovementAction.Status.OPEN
    assert status_entries() == []
