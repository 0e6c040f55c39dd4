# ybiyri: `make run` serves the demo locally, `make test` runs every check.

VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# A Python 3.12+ interpreter: $(PYTHON) if given, else the first suitable one on PATH or in pyenv.
PYTHON ?= $(shell for p in python3.13 python3.12 python3 \
	$$HOME/.pyenv/versions/3.13*/bin/python3 $$HOME/.pyenv/versions/3.12*/bin/python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then \
	    command -v $$p; break; fi; done)

.PHONY: run test test-browser venv requirements lint format typecheck migrate seed worker beat bench clean

# The virtualenv gets the development set (runtime + tests, lint, type checking), every package
# pinned with its hashes; it is brought up to date whenever either requirements file changes.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@if [ -z "$(PYTHON)" ]; then echo "ybiyri needs Python 3.12 or newer: install it (or pass PYTHON=/path/to/python3.12)." >&2; exit 1; fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements-dev.txt
	@touch $@

venv: $(VENV)/.installed

# Rewrites both requirements files from pyproject.toml ([project] dependencies and the "dev" extra),
# keeping every pin that still fits; `make requirements UPGRADE="--upgrade-package Django"` moves one.
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links $(UPGRADE)
requirements: venv
	$(PIP_COMPILE) --output-file=requirements.txt pyproject.toml
	$(PIP_COMPILE) --extra=dev --constraint=requirements.txt --output-file=requirements-dev.txt pyproject.toml

# Local commands run in development mode (DEBUG on, and with it Django's insecure development
# SECRET_KEY) unless the environment sets DEBUG; with DEBUG=0 the app needs a SECRET_KEY of its own.
DEV_ENV := DEBUG=$${DEBUG:-1}

migrate: venv
	$(DEV_ENV) $(PY) manage.py migrate --noinput

seed: migrate
	$(DEV_ENV) $(PY) manage.py seed_demo

run: seed
	DEBUG=1 $(PY) manage.py runserver $(HOST):$(PORT)

# One worker for every queue; in production each queue may get workers of its own (docker-compose.yml).
worker: venv
	$(DEV_ENV) $(VENV)/bin/celery -A ybiyri worker --loglevel=INFO --queues=celery,notifications,backlog,broadcast,evidence

beat: venv
	$(DEV_ENV) $(VENV)/bin/celery -A ybiyri beat --loglevel=INFO

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# PostgreSQL and Redis are used when they answer on 127.0.0.1 and DATABASE_URL/REDIS_URL are not
# set (tests/services_env.py); SQLite and eager tasks otherwise.
# mypy with the Django and DRF plugins, at the strictness that pyproject.toml's [tool.mypy] states.
typecheck: venv
	$(DEV_ENV) $(VENV)/bin/mypy

test: lint
	$(VENV)/bin/lint-imports
	$(DEV_ENV) $(VENV)/bin/mypy
	$(DEV_ENV) $(PY) manage.py makemigrations --check --dry-run
	eval "$$($(PY) -m tests.services_env)" && echo "Database: $${DATABASE_URL:-SQLite}; broker: $${REDIS_URL:-none, tasks run eagerly}" \
	  && $(PY) -m pytest $(PYTEST_ARGS)

# The browser tests alone (Chromium at /usr/bin/chromium; axe-core from tests/browser/install.sh).
test-browser: venv
	$(PY) -m pytest -m browser tests/browser $(PYTEST_ARGS)

# Benchmarks print their figures with a baseline measured in the same run. They need PostgreSQL
# (the page benchmark fills the database it is given, emptying it first): BENCH_DATABASE_URL names
# it; BENCH_REDIS_URL, if set, gives the cache and the workers' broker. They run as in production
# (DEBUG off) with a key of their own; the page benchmark drives its load with wrk.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ybiyri_bench
bench: export REDIS_URL = $(BENCH_REDIS_URL)
bench: export DEBUG = 0
bench: export SECRET_KEY = bench-only-key-not-for-production-0123456789abcdefghij
bench: venv
	@command -v wrk >/dev/null || { echo "make bench needs wrk, the HTTP load tool: apt-get install wrk (Debian/Ubuntu) or brew install wrk (macOS)." >&2; exit 1; }
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) manage.py migrate --noinput -v0
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.pages
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.jira_push
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.broadcast_email
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.slack_import
	$(PY) -m bench.markdown

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
