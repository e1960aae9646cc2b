"""The service's routes: the page, the JSON API (described at ``/openapi.json``), the live views, ``/metrics``.

Every route but the page, ``/health`` and ``/openapi.json`` (none holds data)
needs the token when one is set (see ``auth.py``). Refusals are JSON
``{"error": "<one line>"}`` with a 4xx status; nothing changes on a refusal.
"""

# No 'from __future__ import annotations': FastAPI reads the routes' annotations at run time.
import asyncio
import json
import time
from importlib import resources
from typing import TYPE_CHECKING, Any, Protocol

from streamcls.service.admit import Refused
from streamcls.service.auth import COOKIE
from streamcls.service.limits import BodyLimit
from streamcls.service.paths import OneSegmentIds, source_id_of

if TYPE_CHECKING:
    import concurrent.futures
    import threading

    from fastapi import FastAPI, Request

    from streamcls.config import ServiceConfig
    from streamcls.service.auth import Tokens
    from streamcls.service.board import Board
    from streamcls.service.metrics import ServiceMetrics


class Service(Protocol):
    """What the routes need of the service (``run.Service``): they never reach the pipeline itself."""

    rules: "ServiceConfig"
    tokens: "Tokens"
    board: "Board"
    metrics: "ServiceMetrics"
    stopping: "threading.Event"
    viewers: int

    @property
    def encoders(self) -> "concurrent.futures.Executor": ...

    def ready(self) -> tuple[bool, str]: ...
    def source_ids(self) -> list[str]: ...
    def source_record(self, source_id: str) -> dict[str, object]: ...
    def add(self, body: object) -> dict[str, object]: ...
    def remove(self, source_id: str) -> dict[str, object]: ...


BOUNDARY = "streamcls-frame"


def build_app(service: "Service") -> "FastAPI":
    from fastapi import Depends, FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
    from starlette.concurrency import run_in_threadpool
    from starlette.exceptions import HTTPException

    from streamcls.version import __version__

    app = FastAPI(
        title="streamcls",
        version=__version__,
        description="Live video classification: every camera's label, events and metrics.",
        docs_url=None,  # the interactive pages fetch scripts from a CDN: the service works offline
        redoc_url=None,
    )
    app.add_middleware(BodyLimit, limit=service.rules.max_body_bytes)
    app.add_middleware(OneSegmentIds)

    def refuse(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.exception_handler(Refused)
    async def refused(_request: Request, error: Refused) -> JSONResponse:
        return refuse(error.status, str(error))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, status_code=error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(part) for part in first.get("loc", ()))
        return refuse(422, f"{where}: {first.get('msg', 'invalid request')}")

    def token(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            return header[7:].strip()
        if request.method == "GET":  # an <img> cannot send a header; changes always need it
            return request.cookies.get(COOKIE)
        return None

    def require_token(request: Request) -> None:
        if not service.tokens.allows(token(request)):
            raise HTTPException(
                401, "a valid token is needed: send 'Authorization: Bearer <token>'", {"WWW-Authenticate": "Bearer"}
            )

    def require_metrics_token(request: Request) -> None:
        if not service.tokens.allows(token(request), metrics=True):
            raise HTTPException(401, "a valid token is needed for /metrics", {"WWW-Authenticate": "Bearer"})

    guarded = [Depends(require_token)]

    def known(segment: str) -> str:
        """The source an URL names (its id one percent-encoded segment: ``paths.py``), or 404."""
        source_id = source_id_of(segment)
        if source_id not in service.source_ids():
            raise HTTPException(404, f"no source {source_id[:80]!r}; GET /sources lists them")
        return source_id

    # -- open to all: nothing in them is data ---------------------------------------------
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        html = resources.files("streamcls.service").joinpath("dashboard.html").read_text(encoding="utf-8")
        return HTMLResponse(html, headers={"Content-Security-Policy": CONTENT_POLICY, "X-Frame-Options": "DENY"})

    @app.get("/dashboard.js", include_in_schema=False)
    def script() -> Response:
        code = resources.files("streamcls.service").joinpath("dashboard.js").read_text(encoding="utf-8")
        return Response(code, media_type="text/javascript", headers={"Cache-Control": "no-cache"})

    @app.get("/health", summary="The process is up")
    def health() -> dict[str, str]:
        return {"status": "up"}

    # -- the API ------------------------------------------------------------------------
    @app.get("/ready", dependencies=guarded, summary="Model loaded and at least one source live")
    def ready() -> JSONResponse:
        is_ready, reason = service.ready()
        return JSONResponse({"ready": is_ready, "reason": reason}, status_code=200 if is_ready else 503)

    @app.get("/sources", dependencies=guarded, summary="Every source: state, counters, rate, latency, last error")
    def sources() -> list[dict[str, Any]]:
        records = []
        for source_id in service.source_ids():
            try:
                records.append(service.source_record(source_id))
            except KeyError:  # removed meanwhile
                continue
        return records

    @app.post(
        "/sources",
        dependencies=guarded,
        status_code=201,
        summary="Add a source while the others run",
        openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": SOURCE_SCHEMA}}}},
    )
    async def add_source(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise Refused(f'the body is not JSON ({error}); send one source entry, e.g. {{"uri": ...}}') from error
        return await run_in_threadpool(service.add, body)

    @app.get("/events", dependencies=guarded, summary="The latest events of every source, newest last")
    def events(limit: int = 50) -> list[dict[str, Any]]:
        return service.board.events(limit=max(1, min(limit, service.rules.history)))

    @app.get("/sources/{source_id}/latest", dependencies=guarded, summary="A source's latest prediction")
    def latest(source_id: str) -> dict[str, Any]:
        source_id = known(source_id)
        record = service.board.latest(source_id)
        if record is None:
            raise HTTPException(404, f"source {source_id[:80]!r} has no prediction yet")
        return record

    @app.get("/sources/{source_id}/segments", dependencies=guarded, summary="A source's recent label runs")
    def segments(source_id: str, limit: int = 50) -> list[dict[str, Any]]:
        return service.board.runs(known(source_id), limit=max(1, min(limit, service.rules.history)))

    @app.get("/sources/{source_id}/events", dependencies=guarded, summary="A source's recent events")
    def source_events(source_id: str, limit: int = 50) -> list[dict[str, Any]]:
        return service.board.events(known(source_id), limit=max(1, min(limit, service.rules.history)))

    @app.get("/sources/{source_id}/snapshot.jpg", dependencies=guarded, summary="The latest annotated picture")
    def snapshot(source_id: str) -> Response:
        source_id = known(source_id)
        _version, jpeg = service.board.jpeg(source_id, service.rules.stream_width)
        if jpeg is None:
            raise HTTPException(404, f"source {source_id[:80]!r} has no picture yet; try again in a moment")
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/sources/{source_id}/stream.mjpg", dependencies=guarded, summary="The live annotated view (MJPEG)")
    async def stream(source_id: str, request: Request) -> StreamingResponse:
        source_id = known(source_id)
        return StreamingResponse(
            _frames(service, source_id, request),
            media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
            headers={"Cache-Control": "no-store"},
        )

    @app.get("/sources/{source_id}", dependencies=guarded, summary="One source")
    def one_source(source_id: str) -> dict[str, Any]:
        source_id = known(source_id)
        try:
            return service.source_record(source_id)
        except KeyError as error:
            raise HTTPException(404, f"no source {source_id[:80]!r}") from error

    @app.delete("/sources/{source_id}", dependencies=guarded, summary="Stop a source; the others go on")
    async def remove_source(source_id: str) -> dict[str, Any]:
        source_id = known(source_id)
        try:
            return await run_in_threadpool(service.remove, source_id)
        except KeyError as error:
            raise HTTPException(404, f"no source {source_id[:80]!r}") from error

    @app.get("/metrics", dependencies=[Depends(require_metrics_token)], summary="Prometheus metrics")
    def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(service.metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _frames(service: "Service", source_id: str, request: "Request") -> Any:
    """One viewer's MJPEG: a new picture at most ``stream_fps`` times a second, until it leaves."""
    interval = 1.0 / service.rules.stream_fps
    sent_version = -1
    due = time.monotonic()
    service.viewers += 1
    try:
        while not service.stopping.is_set() and source_id in service.source_ids():
            if await request.is_disconnected():
                return
            # The service's few encoder threads: however many viewers, the threads stay as many.
            version, jpeg = await asyncio.get_running_loop().run_in_executor(
                service.encoders, service.board.jpeg, source_id, service.rules.stream_width
            )
            if jpeg is not None and version != sent_version:
                sent_version = version
                yield (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
            # On a fixed schedule, so encoding time does not lower the rate; a late viewer skips, never bursts.
            due = max(due + interval, time.monotonic())
            await asyncio.sleep(due - time.monotonic())
    finally:
        service.viewers -= 1


# Scripts only from the service itself (dashboard.js), never inline; the styles are inline.
CONTENT_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

SOURCE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "One entry of 'sources:' in the config (output is refused: the service's outputs apply).",
    "required": ["uri"],
    "additionalProperties": False,
    "properties": {
        "uri": {"type": "string", "description": "rtsp://..., http(s)://..., a file or folder (allowed_folders)"},
        "id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
        "policy": {"type": "string", "enum": ["auto", "latest", "block"]},
        "realtime": {"type": "boolean"},
        "open_timeout_s": {"type": "number"},
        "read_timeout_s": {"type": "number"},
        "reconnect": {"type": "object"},
        "events": {"type": "object", "description": "this source's own event rules (see 'events:')"},
    },
}
