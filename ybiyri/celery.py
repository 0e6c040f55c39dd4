"""The Celery application: Redis broker from REDIS_URL, eager in-process when it is unset."""

import logging
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")

logger = logging.getLogger(__name__)

app = Celery("ybiyri")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def enqueue_on_commit(task, *args) -> None:
    """Enqueue `task` with `args` once the current transaction commits.

    The outbox row that records the intent is already committed by then, so a broker outage only
    delays the side effect: the error is logged and the beat reconciler enqueues the row later.
    """
    from django.db import transaction

    def enqueue() -> None:
        try:
            task.delay(*args)
        except Exception:
            logger.exception("Could not enqueue %s%r; the reconciler will pick it up", task.name, args)

    transaction.on_commit(enqueue)


def vet_database_connection(task) -> None:
    """In a worker, replace a database connection the server dropped, as Django does between requests.

    Workers reuse their connection across tasks (CELERY_DB_REUSE_MAX). An eager task runs inside
    the caller's transaction and must not touch its connection.
    """
    if not task.request.is_eager:
        from django.db import close_old_connections

        close_old_connections()
