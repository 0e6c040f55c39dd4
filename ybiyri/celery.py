"""The Celery application: Redis broker from REDIS_URL, eager in-process when it is unset."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")

app = Celery("ybiyri")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
