from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ReviewsConfig(AppConfig):
    name = "reviews"

    def ready(self) -> None:
        from reviews.insights.cache import watch_connection

        # Cached insights go stale the moment a table they read is written (reviews.insights.cache).
        connection_created.connect(watch_connection, dispatch_uid="insights-watch-writes")
