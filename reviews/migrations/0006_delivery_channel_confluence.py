from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0005_action_effort_and_training"),
    ]

    operations = [
        migrations.AlterField(
            model_name="delivery",
            name="channel",
            field=models.CharField(
                choices=[
                    ("email", "Email"),
                    ("slack", "Slack"),
                    ("teams", "Microsoft Teams"),
                    ("webhook", "Webhook"),
                    ("confluence", "Confluence"),
                ],
                max_length=10,
            ),
        ),
    ]
