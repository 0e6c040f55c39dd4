from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, help_text="When a retry is due.", null=True),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(fields=["state", "next_attempt_at"], name="notification_due"),
        ),
    ]
