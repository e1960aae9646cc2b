"""The service: one pipeline for every camera, the thread that consumes it, and the web server.

Threads: the pipeline's own (a capture and a preprocessing thread per source,
the inference threads); one that consumes the pipeline (postprocess, events,
every sink, the board); the web server's event loop with its worker threads.
HTTP handlers only read the board and the pipeline's counters, and encode
pictures in their own threads, so no number of viewers slows the model.

Example::

    with Service(config) as service:       # the model loaded, every source started
        service.serve()                    # until SIGTERM/SIGINT (or service.stop())
    # outputs closed whole, the outbox kept
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from streamcls.config import Config
from streamcls.errors import ConfigError, StreamclsError
from streamcls.frames import StreamState
from streamcls.redact import mask_uri
from streamcls.service.admit import Refused, admit_source
from streamcls.service.auth import Tokens
from streamcls.service.board import Board
from streamcls.sources import describe_source

logger = logging.getLogger(__name__)

CHANGE_LOCK_WAIT_S = 30.0


class Service:
    """``streamcls serve``. ``classifier``: an already built one (tests); by default the config's model."""

    def __init__(
        self,
        config: Config,
        tokens: Tokens | None = None,
        classifier: Any = None,
        host: str | None = None,
        port: int | None = None,
    ):
        self.config = config
        self.rules = config.service
        self.tokens = tokens or Tokens()
        self.host = host or config.service.host
        self.port = config.service.port if port is None else port
        self.board = Board(config.service.history)
        self._classifier = classifier
        self._pipeline: Any = None
        self._consumer: threading.Thread | None = None
        self._server: Any = None
        self._server_thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._changes = threading.Lock()  # one add or remove at a time
        self.stopping = threading.Event()
        self.viewers = 0  # live views being sent now (counted in the web server's event loop)
        # Live views encode here (once per picture, shared by every viewer of it): a bounded set of threads.
        self.encoders = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="service-jpeg")
        self.failure: BaseException | None = None
        self.started_at = time.time()

    # -- lifetime -----------------------------------------------------------------------
    def __enter__(self) -> Service:
        from streamcls.pipeline import Pipeline
        from streamcls.service.metrics import ServiceMetrics

        self._socket = bind(self.host, self.port)  # a taken port fails before the model loads
        self._pipeline = Pipeline(self.config, classifier=self._classifier, sinks=[self.board], serve=True)
        # Observers first: the inference threads start with the pipeline, and every batch counts.
        self.metrics = ServiceMetrics(self._pipeline)
        self.board.observers.append(self.metrics.observe_prediction)
        self._pipeline.observe_batches(self.metrics.observe_batch)
        try:
            self._pipeline.__enter__()
            self._consumer = threading.Thread(target=self._consume, name="service-consumer", daemon=True)
            self._consumer.start()
            self._server = self._make_server()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def pipeline(self) -> Any:
        return self._pipeline

    def _consume(self) -> None:
        try:
            for _prediction in self._pipeline:
                pass
        except BaseException as error:  # noqa: BLE001 - a dead consumer is a dead service: say why, stop
            if not self.stopping.is_set():
                logger.error("the service stops: %s", error)
                self.failure = error
                self.stop()

    def _make_server(self) -> Any:
        import uvicorn

        from streamcls.service.app import build_app

        settings = uvicorn.Config(
            build_app(self),
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
            lifespan="off",
        )
        return _quiet_server(uvicorn.Server)(settings)

    def serve(self) -> str | None:
        """Answer HTTP until SIGTERM/SIGINT or :meth:`stop` (in the calling thread; signals in the main one).

        Returns:
            The name of the signal that stopped it (``SIGTERM``), or None.
        """
        self._server.run(sockets=[self._socket])
        return self._server.stopped_by

    def start(self, timeout_s: float = 20.0) -> Service:
        """Answer HTTP from a thread of its own (tests, embedding); returns once it listens."""
        self._server_thread = threading.Thread(target=self.serve, name="service-http", daemon=True)
        self._server_thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started and time.monotonic() < deadline and self._server_thread.is_alive():
            time.sleep(0.02)
        if not self._server.started:
            raise StreamclsError(f"the service could not listen on {self.host}:{self.port} within {timeout_s:.0f} s")
        return self

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the port chosen when ``port`` was 0)."""
        assert self._socket is not None, "use the service inside 'with Service(config) as service:'"
        host, port = self._socket.getsockname()[:2]
        return host, port

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def stop(self) -> None:
        """Stop answering and stop the pipeline (``close`` then closes every output whole)."""
        self.stopping.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._pipeline is not None:
            self._pipeline.stop()

    def close(self) -> None:
        self.stop()
        if self._server_thread is not None:
            self._server_thread.join(10)
        if self._consumer is not None:
            self._consumer.join(10)
        if self._pipeline is not None:
            self._pipeline.__exit__(None, None, None)
        if self._socket is not None:
            self._socket.close()
        self.encoders.shutdown(wait=False, cancel_futures=True)

    # -- what the API does ------------------------------------------------------------------
    def ready(self) -> tuple[bool, str]:
        """The model is loaded and at least one source delivers frames."""
        if self.failure is not None:
            return False, f"the service failed: {self.failure}"
        states = [self._pipeline.source_summary(source_id).state for source_id in self._pipeline.source_ids()]
        if StreamState.RUNNING.value not in states:
            return False, f"model loaded; no source delivering frames ({len(states)} sources)"
        return True, f"model loaded; {states.count(StreamState.RUNNING.value)} of {len(states)} sources live"

    def source_ids(self) -> list[str]:
        return self._pipeline.source_ids()

    def source_record(self, source_id: str) -> dict[str, object]:
        """What ``GET /sources`` says of one source (KeyError when unknown)."""
        summary = self._pipeline.source_summary(source_id)
        source_config = self._pipeline.source_config(source_id)
        latest = self.board.latest(source_id)
        return {
            "id": summary.source_id,
            "uri": mask_uri(source_config.uri),
            "state": summary.state,
            "policy": summary.policy,
            "frames_read": summary.frames_read,
            "frames_processed": summary.frames_processed,
            "frames_dropped": summary.frames_dropped,
            "fps": round(summary.current_fps or 0.0, 2) if summary.state == StreamState.RUNNING.value else 0.0,
            "latency_p95_ms": None if summary.latency_p95_ms is None else round(summary.latency_p95_ms, 1),
            "frame_age_p95_ms": self.board.frame_age_p95_ms(source_id),
            "reconnects": summary.reconnects,
            "gaps": len(summary.gaps),
            "last_error": summary.last_error,
            "label": None if latest is None else latest["shown_label"],
            "score": None if latest is None else latest["shown_score"],
            "result_age_s": None if latest is None else latest["age_s"],
        }

    def add(self, body: object) -> dict[str, object]:
        """``POST /sources``: admit, start, wait for its first open (or failure); the new source's record.

        Raises:
            Refused: a bad or forbidden body (400/403), a taken id or too many sources (409),
                a source that cannot be opened (422; nothing stays of it).
        """
        source_config = admit_source(body, self.rules)
        with self._change():
            if len(self._pipeline.source_ids()) >= self.rules.max_sources:
                raise Refused(
                    f"the service runs {self.rules.max_sources} sources already (service.max_sources); "
                    f"remove one first or raise the limit",
                    409,
                )
            taken = describe_source(source_config.uri, source_config.id).source_id
            if taken in self._pipeline.source_ids():  # changes are one at a time: nobody takes it meanwhile
                raise Refused(
                    f"source id {taken!r} is taken already; give another id, or remove that source first", 409
                )
            try:
                source_id = self._pipeline.add_source(source_config)
            except StreamclsError as error:  # an output of it cannot be opened
                raise Refused(str(error), 422) from error
            failure = self._first_open(source_id, source_config.open_timeout_s + 1.0)
            if failure is not None:
                self._remove(source_id)
                raise Refused(f"source {source_id!r} cannot be opened: {failure}", 422)
        return self.source_record(source_id)

    def _first_open(self, source_id: str, timeout_s: float) -> str | None:
        """Wait until the source opens (None) or its first open fails (the reason)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self.stopping.is_set():
            summary = self._pipeline.source_summary(source_id)
            if summary.state == StreamState.FAILED.value or summary.last_error:
                return summary.last_error or summary.error or "failed"
            if summary.state != StreamState.OPENING.value:
                return None
            time.sleep(0.02)
        return None  # still opening: it stays, and says so in its state

    def remove(self, source_id: str) -> dict[str, object]:
        """``DELETE /sources/{id}``: stop it, close its outputs; its last record. KeyError when unknown."""
        with self._change():
            return self._remove(source_id)

    def _remove(self, source_id: str) -> dict[str, object]:
        record = self.source_record(source_id)
        summary = self._pipeline.remove_source(source_id)
        self.board.forget(source_id)
        self.metrics.forget(source_id)
        record.update(
            state="removed",
            frames_read=summary.frames_read,
            frames_processed=summary.frames_processed,
            frames_dropped=summary.frames_dropped,
        )
        return record

    @contextlib.contextmanager
    def _change(self) -> Iterator[None]:
        """Hold the lock of one change at a time; a caller waits at most 30 s for it (then 503)."""
        if not self._changes.acquire(timeout=CHANGE_LOCK_WAIT_S):
            raise Refused("another change of the sources is still going on; try again", 503)
        try:
            yield
        finally:
            self._changes.release()


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (0: any free port).

    Raises:
        ConfigError: the address is not this machine's, or the port is taken or not allowed.
    """
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as error:
        raise ConfigError(
            f"--host {host!r} cannot be resolved ({error.strerror}); give an address such as 127.0.0.1"
        ) from error
    listener = socket.socket(family, kind, protocol)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(128)
    except OSError as error:
        listener.close()
        raise ConfigError(
            f"--port {port} on {host} cannot be used ({error.strerror}); pick another with --port, "
            f"or stop what holds it"
        ) from error
    listener.setblocking(False)
    return listener


def _quiet_server(server_class: type) -> Any:
    """uvicorn's server, but a signal that stops it is not raised again afterwards: SIGTERM and
    Ctrl-C are how a service is meant to stop, so the outputs close and the summary prints as usual."""
    import contextlib
    import signal

    class QuietServer(server_class):
        stopped_by: str | None = None

        @contextlib.contextmanager
        def capture_signals(self) -> Any:
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            handled = (signal.SIGINT, signal.SIGTERM)
            original = {number: signal.signal(number, self._stop_on) for number in handled}
            try:
                yield
            finally:
                for number, handler in original.items():
                    signal.signal(number, handler)

        def _stop_on(self, number: int, frame: Any) -> None:
            self.stopped_by = signal.Signals(number).name
            self.handle_exit(number, frame)

    return QuietServer


def preflight(config: Config) -> list[str]:
    """What would stop ``streamcls serve`` with this config, each "what is wrong; the fix" (for doctor)."""
    from streamcls.service.auth import load_tokens

    problems = []
    service = config.service
    try:
        load_tokens(service.token_file, service.metrics_token_file, service.host, insecure_no_auth=False)
    except ConfigError as error:
        problems.append(str(error))
    try:
        bind(service.host, service.port).close()
    except ConfigError as error:
        problems.append(str(error))
    for module, package in (("fastapi", "fastapi"), ("uvicorn", "uvicorn"), ("prometheus_client", "prometheus-client")):
        try:
            __import__(module)
        except ImportError:
            problems.append(f"{module} does not import; pip install {package} (streamcls's own dependencies)")
    return problems
