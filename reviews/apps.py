from django.apps import AppConfig
from django.core.signals import request_finished, request_started
from django.db.backends.signals import connection_created


class ReviewsConfig(AppConfig):
    name = "reviews"

    def ready(self) -> None:
        import reviews.caches  # noqa: F401 — creates the pages' versioned caches in every process
        from ybiyri import versioned_cache

        # Cached pages and figures go stale the moment a table they read is written, and a request
        # reads each cache's version once (ybiyri.versioned_cache).
        connection_created.connect(
            versioned_cache.watch_connection, dispatch_uid="versioned-cache-watch-writes"
        )
        request_started.connect(
            versioned_cache.request_started, dispatch_uid="versioned-cache-request-started"
        )
        request_finished.connect(
            versioned_cache.request_finished, dispatch_uid="versioned-cache-request-finished"
        )
