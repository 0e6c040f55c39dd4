"""Page latency and search benchmark against a generated organisation.

Generates (at BENCH_SCALE=1) 10,000 users, 100,000 incidents, 1,000,000 key events and 20,000
published narratives in the database named by DATABASE_URL (PostgreSQL expected), serves the app
with gunicorn on 127.0.0.1, and measures over HTTP:

- the baseline: a minimal signed-in page (`/settings/`), the framework's floor on this server;
- the narrative library, a library search, and an incident page with 1,000 key events;
- the full-text search query itself (p95, straight against the database).

Usage:  DATABASE_URL=postgres://postgres@127.0.0.1:5432/ybiyri_bench BENCH_SCALE=0.1 \\
        .venv/bin/python -m bench.pages
The database is emptied and filled anew; never point it at data you want to keep.
"""

import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")
django.setup()

import requests  # noqa: E402
from django.contrib.auth.hashers import make_password  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from incidents.models import AnalysisSession, Incident, KeyEvent, Responder, Service, Team, User  # noqa: E402
from reviews.models import Narrative  # noqa: E402
from reviews.selectors import narrative_library  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCALE = float(os.environ.get("BENCH_SCALE", "0.1"))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "60"))
WORDS = [
    "database",
    "timeout",
    "retry",
    "queue",
    "cache",
    "deploy",
    "rollback",
    "certificate",
    "latency",
    "outage",
    "alert",
    "pager",
    "dns",
    "kafka",
    "consumer",
    "lag",
    "memory",
    "leak",
    "disk",
    "full",
    "index",
    "rebuild",
    "failover",
    "replica",
    "lock",
    "contention",
    "payment",
    "provider",
    "checkout",
    "login",
    "session",
    "token",
    "quota",
    "throttle",
    "config",
    "flag",
    "migration",
    "schema",
    "capacity",
]
BATCH = 5000


def scaled(count: int) -> int:
    return max(1, int(count * SCALE))


SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "gu", "ze", "bo", "fi", "ha", "ju"]
# Prose is mostly ordinary words (a vocabulary of thousands) with the domain's words among them,
# so that a search matches some narratives, as it would in a real library, rather than all of them.
VOCABULARY = sorted({"".join(random.Random(n).choices(SYLLABLES, k=3)) for n in range(8000)})


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) if rng.random() < 0.1 else rng.choice(VOCABULARY) for _ in range(words))


def generate() -> tuple[User, Incident]:
    rng = random.Random(42)
    call_command("flush", "--noinput", verbosity=0)
    now = timezone.now()
    password = make_password("bench-password")
    users = User.objects.bulk_create(
        (
            User(username=f"user{i}", email=f"user{i}@example.org", password=password)
            for i in range(scaled(10_000))
        ),
        batch_size=BATCH,
    )
    teams = Team.objects.bulk_create(Team(name=f"Team {i}", slug=f"team-{i}") for i in range(50))
    # The reader is an ordinary member of one team: the library's visibility rules apply in full.
    viewer = users[0]
    teams[0].members.add(viewer)
    services = Service.objects.bulk_create(
        Service(team=teams[i % 50], name=f"service-{i}", operating_model=rng.choice(["ybiyri", "ops"]))
        for i in range(200)
    )
    incident_count = scaled(100_000)
    incidents = Incident.objects.bulk_create(
        (
            Incident(
                title=f"{sentence(rng, 3)} incident {i}".capitalize(),
                summary=sentence(rng, 25),
                severity=rng.choice(["sev1", "sev2", "sev3", "sev4"]),
                team=services[i % 200].team,
                service=services[i % 200],
                started_at=now - timedelta(minutes=i * 7),
                resolved_at=now - timedelta(minutes=i * 7 - 90),
                declared_by=viewer,
                status="closed",
                confidential=i % 50 == 7,
            )
            for i in range(incident_count)
        ),
        batch_size=BATCH,
    )
    # The incident page under test: one incident whose analyses established 1,000 key events.
    target = incidents[0]
    analysed = incidents[: max(2, scaled(20_000))]
    responders = Responder.objects.bulk_create(
        (Responder(incident=incident, user=users[i % len(users)]) for i, incident in enumerate(analysed)),
        batch_size=BATCH,
    )
    analyses = AnalysisSession.objects.bulk_create(
        (
            AnalysisSession(
                responder=responder,
                incident=responder.incident,
                analyst=responder.user,
                scheduled_by=viewer,
                allocated_minutes=240,
                due_at=now,
                status="submitted",
                report=sentence(rng, 80),
            )
            for responder in responders
        ),
        batch_size=BATCH,
    )
    events_wanted = scaled(1_000_000)
    events = []
    for index in range(1000):
        events.append(
            KeyEvent(
                analysis=analyses[0],
                incident=target,
                occurred_at=target.started_at + timedelta(seconds=index),
                description=sentence(rng, 8),
            )
        )
    per_analysis = max(1, (events_wanted - 1000) // max(1, len(analyses) - 1))
    for analysis in analyses[1:]:
        for index in range(per_analysis):
            events.append(
                KeyEvent(
                    analysis=analysis,
                    incident_id=analysis.incident_id,
                    occurred_at=now - timedelta(seconds=index),
                    description=sentence(rng, 8),
                )
            )
        if len(events) >= 50_000:
            KeyEvent.objects.bulk_create(events, batch_size=BATCH)
            events = []
    KeyEvent.objects.bulk_create(events, batch_size=BATCH)
    Narrative.objects.bulk_create(
        (
            Narrative(
                incident=incident,
                title=incident.title,
                body=sentence(rng, 300),
                status="published",
                published_at=incident.started_at + timedelta(days=3),
                created_by=viewer,
            )
            for incident in incidents[: scaled(20_000)]
        ),
        batch_size=BATCH,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE reviews_narrative SET search_vector = setweight(to_tsvector('english', title), 'A') "
                "|| setweight(to_tsvector('english', body), 'B')"
            )
            # The steady state of a database that autovacuum looks after (visibility map, statistics).
            cursor.execute("VACUUM ANALYZE")
    return viewer, target


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def measure(session: requests.Session, path: str) -> list[float]:
    url = f"http://127.0.0.1:{PORT}{path}"
    for _ in range(5):
        assert session.get(url, timeout=30).status_code == 200, path
    samples = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = session.get(url, timeout=30)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, path
    return samples


def main() -> None:
    started = time.perf_counter()
    viewer, target = generate()
    print(f"generated in {time.perf_counter() - started:.0f}s at scale {SCALE}: {User.objects.count()} users, "
          f"{Incident.objects.count()} incidents, {KeyEvent.objects.count()} key events, "
          f"{Narrative.objects.count()} narratives ({connection.vendor})")  # fmt: skip
    env = {**os.environ, "DEBUG": "0", "ALLOWED_HOSTS": "127.0.0.1"}
    server = subprocess.Popen(  # noqa: S603 — fixed arguments, local server
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ybiyri.wsgi:application",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        session = requests.Session()
        for _ in range(100):
            try:
                login = session.get(f"http://127.0.0.1:{PORT}/accounts/login/", timeout=5)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        response = session.post(
            f"http://127.0.0.1:{PORT}/accounts/login/",
            data={
                "username": viewer.username,
                "password": "bench-password",
                "csrfmiddlewaretoken": login.cookies["csrftoken"],
            },
            headers={"Referer": f"http://127.0.0.1:{PORT}/accounts/login/"},
            timeout=10,
        )
        assert response.status_code == 200 and "sessionid" in session.cookies, "sign-in failed"
        pages = {
            "baseline /settings/": "/settings/",
            "narrative library": "/narratives/",
            "library search": "/narratives/?q=kafka+consumer+lag",
            "incident page (1,000 key events)": f"/incidents/{target.pk}/",
        }
        results = {name: statistics.median(measure(session, path)) for name, path in pages.items()}
    finally:
        server.terminate()
        server.wait(timeout=10)
    baseline = results["baseline /settings/"]
    for name, median in results.items():
        print(f"{name:36s} median {median:7.1f} ms   {median / baseline:4.2f}× baseline")
    rng = random.Random(7)
    timings = []
    for _ in range(100):
        query = " ".join(rng.sample(WORDS, 2))
        started = time.perf_counter()
        list(narrative_library(viewer=viewer, query=query)[:20])
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"full-text search (first page of results): p50 {statistics.median(timings):.1f} ms, p95 {percentile(timings, 0.95):.1f} ms"
    )


if __name__ == "__main__":
    main()
