from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0003_review_facilitation_live"),
    ]

    operations = [
        migrations.AddField(
            model_name="improvementaction",
            name="claimed_at",
            field=models.DateTimeField(blank=True, help_text="When a worker claimed the push.", null=True),
        ),
        migrations.AddField(
            model_name="improvementaction",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, help_text="When a retry is due.", null=True),
        ),
    ]
