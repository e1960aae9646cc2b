"""One POST of one outbox message, signed, and what to do after it (delivered, retry when, drop)."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import http.client
import logging
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from streamcls.outputs.outbox import Message
from streamcls.outputs.webhook_options import WebhookOptions
from streamcls.redact import redact
from streamcls.version import __version__

logger = logging.getLogger(__name__)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``: the ``X-Streamcls-Signature`` value."""
    return "sha256=" + hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def backoff_delay(
    attempt: int, initial_s: float, max_s: float, uniform: Callable[[float, float], float] = random.uniform
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = the first retry): full jitter,
    a random time between 0 and ``min(max_s, initial_s * 2 ** (attempt - 1))``."""
    ceiling = min(max_s, initial_s * 2.0 ** min(max(attempt - 1, 0), 60))
    return uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """A ``Retry-After`` header as seconds from ``now`` (wall clock): ``"120"`` or an HTTP date;
    ``None`` when missing or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True)
class Outcome:
    """What one POST came to. ``retry``: try again later; ``status``: the HTTP status, or None
    for no answer; ``retry_after``: the receiver's ``Retry-After`` in seconds."""

    delivered: bool
    retry: bool
    reason: str
    status: int | None = None
    retry_after: float | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *arguments: Any, **keywords: Any) -> None:
        return None  # the 3xx becomes an HTTPError: a redirected POST would lose its body


class Poster:
    """POSTs one message to one URL (credentials of the URL sent as Basic authorization)."""

    def __init__(self, options: WebhookOptions):
        self.options = options
        parts = urllib.parse.urlsplit(options.url)
        self.headers = {"Content-Type": "application/json", "User-Agent": f"streamcls/{__version__}"}
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
            netloc = parts.hostname or ""
            netloc = f"[{netloc}]" if ":" in netloc else netloc
            if parts.port is not None:
                netloc += f":{parts.port}"
            parts = parts._replace(netloc=netloc)
        self.url = urllib.parse.urlunsplit(parts)
        self.headers.update(options.headers)
        self._opener = urllib.request.build_opener(_NoRedirects())

    def post(self, message: Message, timeout_s: float, now: Callable[[], float] = time.time) -> Outcome:
        timestamp = int(now())
        headers = dict(self.headers)
        headers["X-Streamcls-Event-Id"] = message.event_id
        headers["X-Streamcls-Timestamp"] = str(timestamp)
        if self.options.secret is not None:
            headers["X-Streamcls-Signature"] = sign(self.options.secret, timestamp, message.body)
        request = urllib.request.Request(self.url, data=message.body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=timeout_s) as response:
                response.read(65536)
                return Outcome(True, False, f"HTTP {response.status}", response.status)
        except urllib.error.HTTPError as error:
            status = error.code
            retry_after = parse_retry_after(error.headers.get("Retry-After"), now()) if error.headers else None
            error.close()
            retry = status == 429 or status >= 500 or status == 408
            return Outcome(False, retry, f"HTTP {status} {error.reason}".strip(), status, retry_after)
        except urllib.error.URLError as error:
            return Outcome(False, True, reason(error.reason))
        except (OSError, http.client.HTTPException) as error:  # timeouts, resets, a bad status line
            return Outcome(False, True, reason(error))


def reason(error: object) -> str:
    """A short cause, no URL with its password: "connection refused", "timed out"."""
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, OSError) and error.strerror:
        return redact(error.strerror.lower())
    return redact(str(error) or type(error).__name__)


# -- the sink -----------------------------------------------------------------------------------
