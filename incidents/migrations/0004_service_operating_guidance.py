from decimal import Decimal

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


def keep_declared_operating_model(apps, schema_editor) -> None:
    """Existing incidents keep the model their service has now: the best record there is."""
    Incident = apps.get_model("incidents", "Incident")
    Service = apps.get_model("incidents", "Service")
    for model in ("ybiyri", "ops"):
        Incident.objects.filter(service__in=Service.objects.filter(operating_model=model)).update(
            operating_model=model
        )


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0006_evidence"),
    ]

    operations = [
        migrations.AddField(
            model_name="service",
            name="cost_of_delay_per_day",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="What a day without an improvement costs, in the organisation's currency.",
                max_digits=12,
                null=True,
                validators=[django.core.validators.MinValueValidator(Decimal("0"))],
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="demand",
            field=models.CharField(
                choices=[("high", "High"), ("medium", "Medium"), ("low", "Low")],
                default="medium",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="on_call_team",
            field=models.ForeignKey(
                blank=True,
                help_text=(
                    "Who is paged; empty means the owning team, or the central operations team under ops run it."
                ),
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="on_call_services",
                to="incidents.team",
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="sourcing",
            field=models.CharField(
                choices=[("custom", "Custom"), ("off_the_shelf", "Off the shelf")],
                default="custom",
                max_length=15,
            ),
        ),
        migrations.AddField(
            model_name="incident",
            name="operating_model",
            field=models.CharField(
                choices=[("ybiyri", "You build it, you run it"), ("ops", "Ops run it")],
                default="ybiyri",
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(keep_declared_operating_model, migrations.RunPython.noop),
    ]
