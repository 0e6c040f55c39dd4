"""The Celery application: Redis broker from REDIS_URL, eager in-process when it is unset."""

import os
from typing import Any

import celery
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")


class Task(celery.Task):
    """Every task of the app: vets the database connection before it runs, as Django does per request.

    Workers reuse their connection across tasks (CELERY_DB_REUSE_MAX), so one the server dropped
    (restart, idle timeout) must be replaced first, with CONN_MAX_AGE and CONN_HEALTH_CHECKS applied.
    An eager task, or one called directly as a function, runs inside the caller's transaction and
    must not touch its connection.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not (self.request.is_eager or self.request.called_directly):
            close_old_connections()
        return super().__call__(*args, **kwargs)


app = celery.Celery("ybiyri", task_cls=Task)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
