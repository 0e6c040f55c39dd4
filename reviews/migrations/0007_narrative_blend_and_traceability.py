from html import unescape

from django.db import migrations, models

# What Django's autoescaping turned the characters of drafted narratives into.
ESCAPES = ("&#x27;", "&#39;", "&quot;", "&lt;", "&gt;", "&amp;")


def unescape_drafted_text(apps, schema_editor) -> None:
    """Drafts were rendered with HTML escaping: give narratives and their revisions back the text
    people meant (the Markdown renderer and sanitiser escape at display time)."""
    for model_name in ("Narrative", "NarrativeRevision"):
        model = apps.get_model("reviews", model_name)
        for row in model.objects.filter(
            models.Q(body__contains="&#x27;")
            | models.Q(body__contains="&#39;")
            | models.Q(body__contains="&quot;")
            | models.Q(body__contains="&lt;")
            | models.Q(body__contains="&gt;")
            | models.Q(body__contains="&amp;")
        ).iterator():
            body = row.body
            for escape in ESCAPES:
                body = body.replace(escape, unescape(escape))
            model.objects.filter(pk=row.pk).update(body=body)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0005_analysis_waive"),
        ("reviews", "0006_delivery_channel_confluence"),
    ]

    operations = [
        migrations.AddField(
            model_name="contributingfactor",
            name="key_events",
            field=models.ManyToManyField(
                blank=True,
                help_text="The key events it contributed to.",
                related_name="factors",
                to="incidents.keyevent",
            ),
        ),
        migrations.AddField(
            model_name="contributingfactor",
            name="themes",
            field=models.ManyToManyField(
                blank=True,
                help_text="The learning themes it shows.",
                related_name="factors",
                to="incidents.learningtheme",
            ),
        ),
        migrations.AddField(
            model_name="learning",
            name="factors",
            field=models.ManyToManyField(
                blank=True,
                help_text="The factors it was learned from.",
                related_name="learnings",
                to="reviews.contributingfactor",
            ),
        ),
        migrations.AddField(
            model_name="improvementaction",
            name="factors",
            field=models.ManyToManyField(
                blank=True,
                help_text="The factors it addresses.",
                related_name="actions",
                to="reviews.contributingfactor",
            ),
        ),
        migrations.AddField(
            model_name="improvementaction",
            name="learnings",
            field=models.ManyToManyField(
                blank=True,
                help_text="The learnings it puts into practice.",
                related_name="actions",
                to="reviews.learning",
            ),
        ),
        migrations.AddField(
            model_name="narrative",
            name="blend",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="Each section of the blend as last drafted from its sources, to tell what changed since.",
            ),
        ),
        migrations.AddField(
            model_name="narrative",
            name="override_reason",
            field=models.TextField(
                blank=True, help_text="Why it was published before the loop was closed.", max_length=2000
            ),
        ),
        migrations.RunPython(unescape_drafted_text, migrations.RunPython.noop),
    ]
