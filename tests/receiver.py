"""A webhook receiver for tests: a real HTTP server on 127.0.0.1, a free port, in a thread.

    with Receiver() as receiver:          # listening; receiver.url is http://127.0.0.1:PORT/hook
        receiver.mode = "accept"          # 200 | "error" 500 | "throttle" 429 + Retry-After | "reject" 400 | "stall"
        receiver.script = [500, 200]      # answers for the next requests, before the mode applies again
        receiver.stop()                   # refuse: nothing listens on the port any more
        receiver.start()                  # listen again, on the same port
        receiver.wait_for(6, timeout=10)  # until 6 distinct event ids were accepted (bounded)

Every request is recorded (``requests``: headers, body, monotonic time, the status
answered); ``accepted()`` gives the accepted ones de-duplicated by event id, in the
order each id was first accepted. Every wait here is bounded in time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    wall: float  # time.time()
    status: int

    @property
    def event_id(self) -> str:
        return self.headers.get("X-Streamcls-Event-Id", "")

    @property
    def record(self) -> dict:
        return json.loads(self.body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Receiver:
    def __init__(self, mode: str = "accept", stall_s: float = 3.0, retry_after: str = "1", start: bool = True):
        self.mode = mode
        self.stall_s = stall_s
        self.retry_after = retry_after
        self.script: list[int] = []
        self.requests: list[Request] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._released = threading.Event()  # set on stop: stalled handlers return at once
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    # -- control --------------------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            return
        self._released.clear()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status = receiver._answer()
                if status == "stall":
                    receiver._released.wait(receiver.stall_s)
                    status = 200
                headers = {name: value for name, value in self.headers.items()}
                with receiver._changed:
                    receiver.requests.append(Request(self.path, headers, body, time.monotonic(), time.time(), status))
                    receiver._changed.notify_all()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", receiver.retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *arguments):
                pass

        deadline = time.monotonic() + 5
        while True:  # the port may linger for a moment after stop()
            try:
                self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        self._released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _answer(self):
        with self._lock:
            if self.script:
                return self.script.pop(0)
        return {"accept": 200, "error": 500, "throttle": 429, "reject": 400, "stall": "stall"}[self.mode]

    # -- what was received ----------------------------------------------------------------------

    def accepted(self) -> list[Request]:
        """Accepted requests, one per event id (the first), in the order they arrived."""
        seen: set[str] = set()
        unique = []
        with self._lock:
            for request in self.requests:
                if 200 <= request.status < 300 and request.event_id not in seen:
                    seen.add(request.event_id)
                    unique.append(request)
        return unique

    def wait_for(self, count: int, timeout: float) -> list[Request]:
        """Wait (at most ``timeout`` s) until ``count`` distinct events were accepted; return them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                seen = {r.event_id for r in self.requests if 200 <= r.status < 300}
                left = deadline - time.monotonic()
                if len(seen) >= count or left <= 0:
                    break
                self._changed.wait(min(left, 0.2))
        return self.accepted()

    def wait_requests(self, count: int, timeout: float) -> list[Request]:
        """Wait (at most ``timeout`` s) until ``count`` requests of any answer arrived."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count and time.monotonic() < deadline:
                self._changed.wait(min(max(deadline - time.monotonic(), 0.01), 0.2))
            return list(self.requests)

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
