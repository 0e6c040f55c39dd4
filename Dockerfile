# ybiyri: one image for the web process, the Celery worker and Celery beat.
FROM python:3.12-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

RUN groupadd --system ybiyri && useradd --system --gid ybiyri --home /app ybiyri

COPY requirements.txt .
RUN pip install --require-hashes -r requirements.txt

COPY . .

# Static files are collected at build time and served by WhiteNoise with hashed names. With DEBUG=0
# the settings refuse to load without a SECRET_KEY: this step alone gets a throwaway one, and the
# image carries none (the container must be given its own at run time).
ENV STATIC_MANIFEST=1 \
    DEBUG=0
RUN SECRET_KEY=django-insecure-collectstatic-build-step-only python manage.py collectstatic --noinput

USER ybiyri
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"

# Workers, bind address and logs: gunicorn.conf.py (WEB_CONCURRENCY sets the number of workers).
CMD ["gunicorn", "ybiyri.wsgi:application"]
