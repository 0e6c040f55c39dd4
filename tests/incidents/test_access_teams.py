"""A person's teams, as the access rules read them: member and product manager alike, in one query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents.access import user_managed_team_ids, user_team_ids
from incidents.models import User
from tests.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_persons_teams_and_managed_teams_are_read_together_once_per_request():
    person = UserFactory()
    member_only, managed_only, both = TeamFactory(), TeamFactory(), TeamFactory()
    member_only.members.add(person)
    managed_only.product_managers.add(person)
    both.members.add(person)
    both.product_managers.add(person)
    TeamFactory().members.add(UserFactory())
    fresh = User.objects.get(pk=person.pk)
    with CaptureQueriesContext(connection) as queries:
        assert user_team_ids(fresh) == {member_only.pk, managed_only.pk, both.pk}
        assert user_managed_team_ids(fresh) == {managed_only.pk, both.pk}
        assert user_team_ids(fresh) == {member_only.pk, managed_only.pk, both.pk}
    assert len(queries) == 1


def test_someone_in_no_team_has_none_and_asks_once():
    fresh = User.objects.get(pk=UserFactory().pk)
    with CaptureQueriesContext(connection) as queries:
        assert user_managed_team_ids(fresh) == frozenset()
        assert user_team_ids(fresh) == frozenset()
    assert len(queries) == 1
