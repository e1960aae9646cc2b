"""The request body limit, before any route reads a byte: ``Content-Length`` checked, a chunked body counted."""

from __future__ import annotations

import json
from typing import Any


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes gets 413 and never reaches a route."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(send, declared.decode("latin-1")[:20])
            return
        received = 0
        refused = False

        async def counted() -> dict[str, Any]:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    refused = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            if refused:
                await self._refuse(send, f"more than {received}")

    async def _refuse(self, send: Any, size: str) -> None:
        body = json.dumps(
            {"error": f"the body has {size} bytes; at most {self.limit} are accepted (service.max_body_bytes)"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
