from django.apps import AppConfig
from django.db.backends.signals import connection_created


class ReviewsConfig(AppConfig):
    name = "reviews"

    def ready(self) -> None:
        import reviews.caches  # noqa: F401 — creates the pages' versioned caches in every process
        from ybiyri.versioned_cache import watch_connection

        # Cached pages and figures go stale the moment a table they read is written (ybiyri.versioned_cache).
        connection_created.connect(watch_connection, dispatch_uid="versioned-cache-watch-writes")
