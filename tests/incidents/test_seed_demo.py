import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from incidents.models import AnalysisSession, Incident, User
from reviews.models import Narrative, Review


@pytest.mark.django_db
def test_the_demo_shows_every_stage_and_seeding_twice_changes_nothing(capsys):
    if connection.vendor != "sqlite":
        with pytest.raises(CommandError, match="local SQLite"):
            call_command("seed_demo")
        call_command("seed_demo", "--force")
    else:
        call_command("seed_demo")
    assert "Demo data created." in capsys.readouterr().out
    assert User.objects.get(username="pm").check_password("demo")
    assert User.objects.get(username="responder").check_password("demo")
    assert set(Incident.objects.values_list("status", flat=True)) == {
        "declared",
        "analysing",
        "reviewing",
        "closed",
    }
    assert Incident.objects.filter(confidential=True).exists()
    assert AnalysisSession.objects.filter(analyst__username="responder", status="in_progress").exists()
    assert (
        Review.objects.filter(status="held").exists() and Review.objects.filter(status="scheduled").exists()
    )
    assert Narrative.objects.get().is_published

    counts = (User.objects.count(), Incident.objects.count())
    call_command("seed_demo", "--force")
    assert "already present" in capsys.readouterr().out
    assert (User.objects.count(), Incident.objects.count()) == counts
