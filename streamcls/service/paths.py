"""Source ids in URLs: ``/sources/<id>/...`` where ``<id>`` is one percent-encoded path segment.

An id may hold slashes (a stream's URL is its default id), so the router must
not see them: this middleware reads the id from the raw path, where ``%2F``
is still encoded, and hands the routes a path in which the id is one segment
(encoded again; ``source_id_of`` decodes it). An id that ends like a route
(``http://cam/stream.mjpg``) is then never taken for that route.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote


class OneSegmentIds:
    """ASGI middleware: ``/sources/<encoded id>/rest`` routed with the id as one segment."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = scope.get("raw_path") if scope["type"] == "http" else None
        if raw:
            parts = raw.split(b"?", 1)[0].decode("latin-1").split("/")
            if len(parts) >= 3 and parts[1] == "sources" and parts[2]:
                segments = ["", "sources", quote(unquote(parts[2]), safe=""), *(unquote(part) for part in parts[3:])]
                scope = {**scope, "path": "/".join(segments)}
        await self.app(scope, receive, send)


def source_id_of(segment: str) -> str:
    """The id a route received as its one encoded segment."""
    return unquote(segment)
