from django.db import migrations
from django.db.models import F
from django.db.models.functions import Coalesce


def mark_possibly_attempted_pushes(apps, schema_editor) -> None:
    """A push whose `claimed_at` is NULL skips the tracker's label lookup (no worker ever claimed
    it). Rows from before claims were stamped may have been pushed all the same: every action that
    ever had a push requested counts as claimed before, so its next push looks the label up."""
    action_model = apps.get_model("reviews", "ImprovementAction")
    action_model.objects.filter(claimed_at__isnull=True).exclude(tracker="").update(
        claimed_at=Coalesce(F("sync_requested_at"), F("raised_at"))
    )


class Migration(migrations.Migration):
    dependencies = [("reviews", "0011_action_effort_from_tracker")]

    operations = [migrations.RunPython(mark_possibly_attempted_pushes, migrations.RunPython.noop)]
