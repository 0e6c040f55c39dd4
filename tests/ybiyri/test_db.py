"""A list's optional filters: one left empty narrows nothing."""

from incidents.models import Incident
from tests.factories import IncidentFactory
from ybiyri.db import narrowed


def test_only_the_filters_given_a_value_narrow_the_rows(team, service):
    loud = IncidentFactory(team=team, service=service, severity="sev1", title="Checkout down")
    IncidentFactory(team=team, service=service, severity="sev3", title="Slow search")
    everything = Incident.objects.order_by("pk")
    assert list(narrowed(everything, severity="", team_id=None)) == list(everything)
    assert list(narrowed(everything, severity="sev1", team_id=None)) == [loud]
    assert list(narrowed(everything, team_id=team.pk, title__icontains="checkout")) == [loud]
    assert list(narrowed(everything, severity="sev2")) == []
