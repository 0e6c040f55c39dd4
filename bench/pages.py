"""Pages and API lists under concurrent load against a generated organisation.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ybiyri_bench BENCH_SCALE=0.1 .venv/bin/python -m bench.pages

Generates the organisation of bench/organisation.py (BENCH_SCALE=1: 10,000 users, 100,000 incidents,
~1,000,000 key events, 20,000 narratives) when the database does not hold it at this scale yet or
BENCH_REGENERATE=1 (the database is then emptied: never point it at data you want to keep), serves
the app with gunicorn and the container image's settings (gunicorn.conf.py; WEB_CONCURRENCY
workers), signs in as an ordinary team member and drives each page with wrk, BENCH_CONNECTIONS
connections for BENCH_SECONDS seconds. Prints one table: median, p95, requests per second, SQL
queries per request (counted in-process for the same reader) and each median against the floor's,
a minimal signed-in page (`/settings/`) measured again just before each page; then the full-text search query
alone, straight against the database, for a common and a rare term.

Under load the pages are served from their versioned caches (reviews.caches) as long as nothing is
written, as after a broadcast; what computing a page costs, its first view after a change, is in
the last two columns: its SQL queries and its median time in-process (one request at a time, every
cache emptied before each), beside the floor's.
"""

import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ybiyri.settings")
# Served as in production: DEBUG off, with a key of the benchmark's own.
os.environ["DEBUG"] = "0"
os.environ.setdefault("SECRET_KEY", "bench-only-key-" + "b3nch" * 10)
os.environ["ALLOWED_HOSTS"] = "127.0.0.1,testserver"

import django

django.setup()

import requests  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.load import Load, drive, wrk_path  # noqa: E402
from bench.organisation import (  # noqa: E402
    EVENTS_INCIDENT_ID,
    NARRATIVE_ID,
    PASSWORD,
    RARE_TERM,
    READER,
    REVIEW_INCIDENT_ID,
    WORDS,
    Organisation,
)
from incidents.models import Incident, KeyEvent, User  # noqa: E402
from reviews.models import Narrative, Review  # noqa: E402
from reviews.selectors import narrative_library  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SCALE = float(os.environ.get("BENCH_SCALE", "0.1"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
FLOOR_SECONDS = max(2, SECONDS // 2)
COMPUTED_SAMPLES = 7
TARGET_RATIO = 2.0
COMMON_TERM = "database"


@dataclass(frozen=True)
class Row:
    name: str
    load: Load
    queries: int
    computed_queries: int
    computed_ms: float
    # The floor measured just before this row: on a machine shared with other work the load
    # changes from minute to minute, and a ratio to a floor measured minutes earlier means little.
    floor: Load


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PORT = int(os.environ.get("BENCH_PORT") or free_port())


def pages() -> dict[str, tuple[str, dict[str, str]]]:
    """What the table measures: name → (path, extra request headers)."""
    review = Review.objects.get(incident_id=REVIEW_INCIDENT_ID)
    return {
        "floor /settings/": ("/settings/", {}),
        "My work": ("/", {}),
        "narrative library": ("/narratives/", {}),
        f"library search, common ({COMMON_TERM})": (f"/narratives/?q={COMMON_TERM}", {}),
        f"library search, rare ({RARE_TERM})": (f"/narratives/?q={RARE_TERM}", {}),
        "incident list": ("/incidents/", {}),
        "incident page, 1,000 key events": (f"/incidents/{EVENTS_INCIDENT_ID}/", {}),
        "review page, 8 analyses, 400 events": (f"/reviews/{review.pk}/", {}),
        "published narrative": (f"/narratives/{NARRATIVE_ID}/", {}),
        "Atom feed": ("/narratives/feed/", {}),
        "insights": ("/insights/", {}),
        "API /api/incidents/": ("/api/incidents/", {}),
        "API /api/narratives/": ("/api/narratives/", {}),
        "API /api/actions/": ("/api/actions/", {}),
        "API /api/key-events/": ("/api/key-events/", {}),
    }


def conditional_headers(response: requests.Response) -> dict[str, str]:
    """What a polling reader sends back: the validators of the response it holds."""
    headers = {}
    if "ETag" in response.headers:
        headers["If-None-Match"] = response.headers["ETag"]
    if "Last-Modified" in response.headers:
        headers["If-Modified-Since"] = response.headers["Last-Modified"]
    return headers


@dataclass(frozen=True)
class InProcess:
    status: int
    queries: int
    computed_queries: int
    computed_ms: float


def in_process(client: Client, path: str, headers: dict[str, str]) -> InProcess:
    """The reader's request served in-process: its SQL queries when served again after a warm-up
    request, then computed (every cache emptied first): its queries and median time."""
    extra = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
    client.get(path, **extra)
    # A context's queries are read at once: the next request empties the connection's log.
    with CaptureQueriesContext(connection) as captured:
        status = client.get(path, **extra).status_code
    served = len(captured)
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        client.get(path, **extra)
    computed = len(captured)
    timings = []
    for _ in range(COMPUTED_SAMPLES):
        cache.clear()
        started = time.perf_counter()
        client.get(path, **extra)
        timings.append((time.perf_counter() - started) * 1000)
    return InProcess(status, served, computed, statistics.median(timings))


def serve() -> subprocess.Popen:
    env = {**os.environ, "GUNICORN_BIND": f"127.0.0.1:{PORT}"}
    return subprocess.Popen(  # noqa: S603 — fixed arguments, local server
        [
            sys.executable,
            "-m",
            "gunicorn",
            "ybiyri.wsgi:application",
            "--config",
            str(ROOT / "gunicorn.conf.py"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def signed_in_session() -> requests.Session:
    session = requests.Session()
    for _ in range(150):
        try:
            login = session.get(f"http://127.0.0.1:{PORT}/accounts/login/", timeout=60)
            break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        raise SystemExit(f"gunicorn did not answer on 127.0.0.1:{PORT}")
    response = session.post(
        f"http://127.0.0.1:{PORT}/accounts/login/",
        data={"username": READER, "password": PASSWORD, "csrfmiddlewaretoken": login.cookies["csrftoken"]},
        headers={"Referer": f"http://127.0.0.1:{PORT}/accounts/login/"},
        timeout=60,
    )
    if response.status_code != 200 or "sessionid" not in session.cookies:
        raise SystemExit(f"sign-in as {READER} failed ({response.status_code})")
    return session


def measure_pages() -> list[Row]:
    client = Client()
    client.force_login(User.objects.get(username=READER))
    server = serve()
    rows = []
    try:
        session = signed_in_session()
        cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
        floor_url = f"http://127.0.0.1:{PORT}/settings/"
        for name, (path, headers) in pages().items():
            url = f"http://127.0.0.1:{PORT}{path}"
            response = session.get(url, timeout=30)
            if response.status_code != 200:
                raise SystemExit(f"{name}: {path} answered {response.status_code}")
            variants = [(name, headers, 200)]
            validators = conditional_headers(response)
            if path == "/narratives/feed/" or (path.startswith("/narratives/") and validators):
                variants.append((f"{name}, conditional GET", validators, 304))
            for label, sent, expected in variants:
                served = in_process(client, path, sent)
                status = served.status
                if status != expected and expected == 200:
                    raise SystemExit(f"{label}: {path} answered {status} in-process")
                if status != expected:
                    label = f"{label} → {status}, not {expected}"
                floor = drive(
                    floor_url, headers={"Cookie": cookie}, connections=CONNECTIONS, seconds=FLOOR_SECONDS
                )
                load = drive(
                    url, headers={"Cookie": cookie, **sent}, connections=CONNECTIONS, seconds=SECONDS
                )
                rows.append(
                    Row(label, load, served.queries, served.computed_queries, served.computed_ms, floor)
                )
    finally:
        server.terminate()
        server.wait(timeout=20)
    return rows


def search_timings(term_of: callable, reader: User) -> list[float]:
    timings = []
    for attempt in range(100):
        started = time.perf_counter()
        list(narrative_library(viewer=reader, query=term_of(attempt))[:20])
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def print_table(rows: list[Row]) -> None:
    print(
        f"\n{'page':44s} {'median':>9s} {'p95':>9s} {'req/s':>8s} {'queries':>7s} {'floor then':>10s} {'× floor':>8s}"
        f"  │ computed: {'queries':>7s} {'median':>9s} {'× floor':>8s}"
    )
    floor_computed = rows[0].computed_ms
    for row in rows:
        load = row.load
        ratio = load.median_ms / row.floor.median_ms
        verdict = "" if row is rows[0] else ("  ok" if ratio <= TARGET_RATIO else "  MISSES 2×")
        if not load.requests:
            verdict = f"  NO ANSWER within {SECONDS}s"
        failures = f"  ({load.failures} failed)" if load.failures else ""
        print(
            f"{row.name:44s} {load.median_ms:7.1f}ms {load.p95_ms:7.1f}ms {load.per_second:8.1f} "
            f"{row.queries:7d} {row.floor.median_ms:8.1f}ms {ratio:7.2f}×{verdict:12s}"
            f"│           {row.computed_queries:7d} {row.computed_ms:7.1f}ms {row.computed_ms / floor_computed:7.2f}×"
            f"{failures}"
        )


def main() -> None:
    if connection.vendor != "postgresql":
        raise SystemExit(
            "The page benchmark needs PostgreSQL: set DATABASE_URL (make bench: BENCH_DATABASE_URL)."
        )
    wrk_path()
    organisation = Organisation(SCALE)
    if os.environ.get("BENCH_REGENERATE") == "1" or not organisation.is_generated():
        started = time.perf_counter()
        organisation.generate()
        print(f"generated at scale {SCALE} in {time.perf_counter() - started:.0f}s", end=": ")
    else:
        print(f"reusing the organisation at scale {SCALE} (BENCH_REGENERATE=1 generates it anew)", end=": ")
    print(
        f"{User.objects.count()} users, {Incident.objects.count()} incidents, {KeyEvent.objects.count()} key events, "
        f"{Narrative.objects.count()} narratives"
    )
    workers = os.environ.get("WEB_CONCURRENCY", f"{(os.cpu_count() or 1) + 1} (default)")
    print(
        f"gunicorn (gunicorn.conf.py), {workers} workers; wrk, {CONNECTIONS} connections, {SECONDS}s per page, "
        f"signed in as {READER}, an ordinary team member; {os.cpu_count()} cores"
    )
    print_table(measure_pages())
    reader = User.objects.get(username=READER)
    rng = random.Random(7)
    for label, term_of, target in (
        (f"common terms ({COMMON_TERM} and others)", lambda n: rng.choice(WORDS), 100),
        (f"a rare term ({RARE_TERM})", lambda n: RARE_TERM, 50),
    ):
        timings = search_timings(term_of, reader)
        p95 = percentile(timings, 0.95)
        print(
            f"full-text search, {label}, first page: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms "
            f"(target under {target} ms: {'ok' if p95 < target else 'MISSES it'})"
        )


if __name__ == "__main__":
    main()
