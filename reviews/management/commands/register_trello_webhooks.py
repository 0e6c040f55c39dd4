"""Register the Trello webhook of every team that keeps its backlog in Trello."""

from typing import Any

from django.core.management.base import BaseCommand

from incidents.models import Team
from reviews.backlog.errors import PermanentTrackerError, TransientTrackerError
from reviews.backlog.trello import trello_register_webhook
from reviews.backlog.views import trello_callback_url


class Command(BaseCommand):
    help = "Ask Trello to send card changes on each Trello team's board to this site (SITE_URL)."

    def handle(self, *args: Any, **options: Any) -> None:
        callback_url = trello_callback_url()
        failures = 0
        for team in Team.objects.filter(tracker=Team.Tracker.TRELLO).order_by("name"):
            try:
                hook = trello_register_webhook(team=team, callback_url=callback_url)
            except (PermanentTrackerError, TransientTrackerError) as error:
                failures += 1
                self.stderr.write(f"{team.name}: {error}")
            else:
                self.stdout.write(
                    f"{team.name}: webhook {hook['id']} on board {hook['idModel']} → {callback_url}"
                )
        if failures:
            raise SystemExit(1)
