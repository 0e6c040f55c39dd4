"""A local HTTP sink on 127.0.0.1 that records every request and answers as programmed.

with HttpSink() as sink:
    sink.respond("/slack", (429, "rate_limited", {"Retry-After": "30"}), (200, "ok"))
    url = sink.url("/slack")
    sink.requests_to("/slack")  # [RecordedRequest(method, path, headers, body)], .json()
"""

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


class HttpSink:
    """Answers 200 "ok" unless responses were queued for the path with `respond`."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.queued: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # http.server hook
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with sink.lock:
                    sink.requests.append(RecordedRequest("POST", self.path, dict(self.headers.items()), body))
                    queue = sink.queued.get(self.path)
                    response = queue.popleft() if queue else (200, "ok")
                status, text, *extra = response
                payload = text.encode()
                self.send_response(status)
                for name, value in (extra[0] if extra else {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def respond(self, path: str, *responses: tuple) -> None:
        """Queue (status, body[, headers]) answers for `path`, used in order before the default 200."""
        with self.lock:
            self.queued[path].extend(responses)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        with self.lock:
            return [request for request in self.requests if request.path == path]

    def __enter__(self) -> "HttpSink":
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
