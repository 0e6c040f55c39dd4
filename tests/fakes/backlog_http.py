"""Plumbing shared by the Jira and Trello emulators: a threaded HTTP/1.1 server on 127.0.0.1 with
request recording and fault injection.

Faults are queued and consumed one per matching request, so a test says exactly what goes wrong:
"the next 2 requests get a 503", "the next issue creation gets a 429 with Retry-After: 7", "the next
create succeeds but the connection drops before the answer" (a crash between create and save).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Fault:
    """One injected failure. `status` 0 with `drop_after` means: process, then drop the connection."""

    status: int = 503
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None
    path: str | None = None  # a regular expression searched in the request path
    drop_after: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method != method:
            return False
        return not (self.path and not re.search(self.path, path))


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]
    status: int = 0
    # The client's (host, port): which connection the request came over.
    peer: tuple[str, int] | None = None


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class DropConnection(Exception):
    """Raised by a handler to close the socket without answering."""


class Emulator:
    """Base class: subclasses implement `handle(method, path, query, body, headers) -> Reply`."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.faults: deque[Fault] = deque()
        self.record_requests = True
        # Called as on_request(method, path) before each request is served: lets a test act while
        # a worker waits on the tracker (say, someone edits the action mid-push).
        self.on_request: Callable[[str, str], None] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> Emulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real trackers and the clients use
            # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                emulator._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- fault injection ----------------------------------------------------------------------

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int = 503,
        body: Any = None,
        headers: dict[str, str] | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """The next `times` requests matching method/path get this answer instead of being served."""
        with self.lock:
            for _ in range(times):
                self.faults.append(
                    Fault(status=status, body=body, headers=dict(headers or {}), method=method, path=path)
                )

    def drop_after_next(self, *, method: str, path: str) -> None:
        """Serve the next matching request, then close the connection without answering."""
        with self.lock:
            self.faults.append(Fault(status=0, method=method, path=path, drop_after=True))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    self.faults.remove(fault)
                    return fault
        return None

    def requests_to(self, method: str, path_pattern: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.search(path_pattern, r.path)]

    # --- dispatch -----------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        method, path = handler.command, parts.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        query = parse_qs(parts.query, keep_blank_values=True)
        recorded = Recorded(
            method, path, query, body, dict(handler.headers.items()), peer=handler.client_address
        )
        if self.record_requests:
            with self.lock:
                self.requests.append(recorded)
        if self.on_request is not None:
            self.on_request(method, path)
        fault = self._take_fault(method, path)
        if fault is not None and not fault.drop_after:
            reply = Reply(fault.status, fault.body, fault.headers)
        else:
            try:
                reply = self.handle(method, path, query, body, recorded.headers)
            except DropConnection:
                reply = None
            except Exception as error:  # an emulator bug must show up as a 500, not a hang
                reply = Reply(500, {"errorMessages": [f"emulator error: {error!r}"]})
            if fault is not None:
                reply = None
        if reply is None:
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(2)
            return
        recorded.status = reply.status
        self._write(handler, reply)

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.body is None:
            payload = b""
        elif isinstance(reply.body, bytes):
            payload = reply.body
        elif isinstance(reply.body, str):
            payload = reply.body.encode()
        else:
            payload = json.dumps(reply.body).encode()
        handler.send_response(reply.status)
        headers = {"Content-Type": "application/json;charset=UTF-8", **reply.headers}
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command != "HEAD" and payload:
            handler.wfile.write(payload)

    def handle(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes, headers: dict[str, str]
    ) -> Reply:
        raise NotImplementedError


def first(query: dict[str, list[str]], name: str, default: str = "") -> str:
    values = query.get(name)
    return values[0] if values else default
