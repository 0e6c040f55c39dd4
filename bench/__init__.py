"""Benchmarks: run with `.venv/bin/python -m bench.<name>`."""

import os

# Benchmarks measure with DEBUG off, where the settings require a SECRET_KEY: a throwaway one
# (marked insecure, like Django's development keys) serves unless the environment gives one.
os.environ.setdefault("SECRET_KEY", "django-insecure-ybiyri-benchmark-key")
