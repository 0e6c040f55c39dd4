"""Concurrent load with wrk (Debian's package): median, p95 and requests per second of one URL."""

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# wrk reports through a Lua hook; the percentiles come from its own latency histogram (microseconds).
REPORT_SCRIPT = """
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "bad_status": %d, "socket_errors": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), errors.status,
    errors.connect + errors.read + errors.write + errors.timeout))
end
"""


@dataclass(frozen=True)
class Load:
    median_ms: float
    p95_ms: float
    per_second: float
    requests: int
    failures: int


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(
            "The page benchmark drives its load with wrk, which is not installed: "
            "apt-get install wrk (Debian/Ubuntu), brew install wrk (macOS)."
        )
    return path


def drive(url: str, *, headers: dict[str, str], connections: int, seconds: int, threads: int = 2) -> Load:
    """wrk against ``url`` for ``seconds`` with ``connections`` open at once; failures are responses
    with a status of 400 or more and socket errors (timeouts included)."""
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "report.lua"
        script.write_text(REPORT_SCRIPT)
        command = [wrk_path(), f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s"]
        command += ["--timeout", "10s", "-s", str(script)]
        for name, value in headers.items():
            command += ["-H", f"{name}: {value}"]
        output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout  # noqa: S603
    report = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    return Load(
        median_ms=report["p50_us"] / 1000,
        p95_ms=report["p95_us"] / 1000,
        per_second=report["requests"] / (report["duration_us"] / 1_000_000),
        requests=report["requests"],
        failures=report["bad_status"] + report["socket_errors"],
    )
