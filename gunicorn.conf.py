"""Gunicorn settings of the container image; the page benchmark serves the app with them too."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Sync workers: a page is a few short queries and a template, so one process per core plus one
# keeps both cores busy while a worker waits on the database. WEB_CONCURRENCY overrides it.
workers = int(os.environ.get("WEB_CONCURRENCY", str((os.cpu_count() or 1) + 1)))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
forwarded_allow_ips = "*"
