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
