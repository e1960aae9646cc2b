"""Webhooks: each event POSTed as signed JSON to a URL, through a durable outbox (``--webhook URL``).

``write_event`` only stores the event in the outbox (``outputs/outbox.py``, SQLite,
committed before it returns) and wakes the sink's sender thread, which POSTs
what is due: a receiver that is slow, down or stalling costs the classification
nothing, and events survive a receiver that is down and a process that is
killed or restarted (the next run with the same outbox sends them first, in
order). Delivery is at least once, in order per source: receivers de-duplicate
by ``X-Streamcls-Event-Id``.

The request::

    POST <url>
    Content-Type: application/json
    User-Agent: streamcls/<version>
    X-Streamcls-Event-Id: <event id>
    X-Streamcls-Timestamp: <unix seconds when this attempt was sent>
    X-Streamcls-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>

    {"event_id": ..., "source": ..., "label": ..., ...}   (Event.as_record(), no snapshot unless asked for)

Verifying a request (the receiver's side; reject on ``False``)::

    import hashlib
    import hmac
    import time

    def verify(secret: bytes, headers, body: bytes, tolerance_s: float = 300) -> bool:
        timestamp = headers["X-Streamcls-Timestamp"]
        expected = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, headers["X-Streamcls-Signature"]):
            return False  # not signed with our secret, or the body or timestamp was changed
        return abs(time.time() - int(timestamp)) <= tolerance_s  # an old request replayed

Sign the raw body bytes as received, before parsing the JSON. Then skip an
``X-Streamcls-Event-Id`` already seen (a retry after a lost answer).

Answers: 2xx is delivered. Connection errors, timeouts, 5xx and 429 are
retried with exponential backoff and full jitter (``Retry-After``, in seconds
or as an HTTP date, is honoured); other 4xx and 3xx are refused for good: the
message is dropped, counted (``rejected``) and logged once. Redirects are not
followed (a redirected POST loses its body): give the final URL.

Options (``output.sinks: [{kind: webhook, options: {...}}]``; ``--webhook URL`` gives ``url``):
``url`` (http:// or https://; a ``user:password@`` in it is sent as Basic
authorization), ``secret`` or ``secret_env`` (the name of the environment variable
holding it; without either, ``$STREAMCLS_WEBHOOK_SECRET`` when set, else requests
go unsigned, with a warning), ``outbox`` (default ``$STREAMCLS_CACHE/outbox.sqlite``
or ``~/.cache/streamcls/outbox.sqlite``; one file holds any number of URLs),
``timeout_s`` (5), ``max_attempts`` (none: until the age limit), ``backoff_initial_s``
(0.5), ``backoff_max_s`` (60), ``max_messages`` (100000), ``max_age_s`` (7 days),
``headers`` (extra headers; their values are never logged), ``snapshot`` (false),
``drain_s`` (3: how long ``close`` lets the sender finish). The secret, header
values and any credentials of the URL never appear in logs, errors or reports.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np

from streamcls.errors import ConfigError
from streamcls.frames import Event, Prediction
from streamcls.outputs.outbox import Message, Outbox
from streamcls.outputs.sink import SinkSettings
from streamcls.outputs.webhook_http import Poster, backoff_delay, parse_retry_after, reason, sign
from streamcls.outputs.webhook_options import SECRET_VARIABLE, WebhookOptions, check_url, default_outbox
from streamcls.redact import redact

logger = logging.getLogger(__name__)

# The helpers live beside this module; they are named here too, for the sink's users and tests.
__all__ = [
    "SECRET_VARIABLE",
    "WebhookOptions",
    "WebhookSink",
    "backoff_delay",
    "check_url",
    "default_outbox",
    "parse_retry_after",
    "preflight",
    "sign",
]


class WebhookSink:
    """Events to a URL through a durable outbox and a sender thread; see the module's docstring.

    Args:
        options: validated options (:meth:`WebhookOptions.parse`).
        outbox: an open outbox to use (tests, several sinks on one); default: the one
            ``options.outbox`` names, opened here and closed by :meth:`close`.

    Counts (for the run's report, :meth:`report`): ``sent``, ``rejected``,
    ``retries``, ``pending``; drops by reason in this run and in the file's lifetime.
    """

    needs_image = False

    def __init__(self, options: WebhookOptions, outbox: Outbox | None = None):
        self.options = options
        self.destination = options.destination
        self._owns_outbox = outbox is None
        self.outbox = outbox or Outbox(options.outbox, options.max_messages, options.max_age_s)
        self.outbox.max_messages, self.outbox.max_age_s = options.max_messages, options.max_age_s
        self.poster = Poster(options)
        self.accepted = 0
        self.sent = 0
        self.rejected = 0
        self.retries = 0
        self.exhausted = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_until: float | None = None
        self._failing_since: str | None = None
        self._closed = False
        self._kept = 0
        self._lifetime_drops: dict[str, int] = {}
        if options.secret is None:
            logger.warning(
                "webhook %s: no secret (options.secret or secret_env, or $%s); requests are not signed",
                self.destination,
                SECRET_VARIABLE,
            )
        left = self.outbox.pending(self.destination)
        if left:
            logger.info("webhook %s: %d event(s) left by an earlier run are sent first", self.destination, left)
            self.outbox.retry_now(self.destination)
        self._thread = threading.Thread(target=self._send_loop, name="webhook-sender", daemon=True)
        self._thread.start()

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> WebhookSink:
        return cls(WebhookOptions.parse(settings.options))

    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        """Predictions are not events: nothing to send."""

    def write_event(self, event: Event) -> None:
        """Store the event in the outbox (on disk when this returns) and wake the sender."""
        body = json.dumps(event.as_record(snapshot=self.options.snapshot), separators=(",", ":")).encode()
        self.outbox.add(self.destination, event.source_id, event.event_id, body)
        self.accepted += 1
        self._wake.set()

    def report(self) -> dict[str, object]:
        """What this sink did, for the run's summary; no secret, the URL masked."""
        if self.outbox.closed:  # after close: as it was then
            pending, lifetime = self._kept, self._lifetime_drops
        else:
            pending, lifetime = self.outbox.pending(self.destination), self.outbox.drops(self.destination)
        return {
            "destination": self.destination,
            "accepted": self.accepted,
            "sent": self.sent,
            "retries": self.retries,
            "rejected": self.rejected,
            "dropped": dict(sorted(self.outbox.dropped_now.items())),
            "dropped_in_outbox_lifetime": lifetime,
            "pending": pending,
        }

    def close(self) -> None:
        """Let the sender finish what is due for up to ``drain_s``, then stop; the rest stays in the outbox."""
        if self._closed:
            return
        self._closed = True
        self._drain_until = time.monotonic() + self.options.drain_s
        self._wake.set()
        self._thread.join(self.options.drain_s + 1.0)
        self._stop.set()
        self._wake.set()
        self._thread.join(1.0)
        if self._thread.is_alive():
            logger.warning("webhook %s: the sender did not stop in time; it is left behind", self.destination)
        try:
            pending = self._kept = self.outbox.pending(self.destination)
            self._lifetime_drops = self.outbox.drops(self.destination)
            if pending:
                logger.warning(
                    "webhook %s: %d event(s) kept in the outbox for the next run (%s)",
                    self.destination,
                    pending,
                    self.outbox.path,
                )
            dropped = sum(self.outbox.dropped_now.values())
            if dropped or self.rejected:
                logger.warning(
                    "webhook %s: %d sent, %d refused by the receiver, %d dropped by the outbox's bounds %s",
                    self.destination,
                    self.sent,
                    self.rejected,
                    dropped - self.rejected - self.exhausted,
                    dict(sorted(self.outbox.dropped_now.items())),
                )
        finally:
            if self._owns_outbox:
                self.outbox.close()

    def __enter__(self) -> WebhookSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the sender thread --------------------------------------------------------------------

    def _send_loop(self) -> None:
        try:
            while not self._stop.is_set():
                draining = self._drain_until is not None
                remaining = None if self._drain_until is None else self._drain_until - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return
                lease = self.options.timeout_s + 1.0
                due = self.outbox.claim_due(self.destination, lease)
                if due:
                    for index, message in enumerate(due):
                        if self._stop.is_set() or (draining and self._drain_until <= time.monotonic()):  # type: ignore[operator]
                            for unsent in due[index:]:
                                self.outbox.release(unsent.id)
                            return
                        self._send(message)
                    continue
                wait = self._wait_time()
                if draining and (wait is None or remaining is None or wait > remaining):
                    return  # nothing more can go before the deadline
                self._wake.wait(1.0 if wait is None else min(max(wait, 0.01), 1.0))
                self._wake.clear()
        except Exception as error:  # noqa: BLE001 - the outbox closed under us or failed: the events stay on disk
            if not self._stop.is_set():
                logger.warning("webhook %s: the sender stopped (%s)", self.destination, redact(str(error)))

    def _wait_time(self) -> float | None:
        when = self.outbox.next_retry_at(self.destination)
        return None if when is None else when - time.time()

    def _send(self, message: Message) -> None:
        timeout = self.options.timeout_s
        if self._drain_until is not None:
            timeout = max(0.1, min(timeout, self._drain_until - time.monotonic()))
        outcome = self.poster.post(message, timeout)
        if outcome.delivered:
            self.outbox.delivered(message.id)
            self.sent += 1
            if self._failing_since is not None:
                logger.info("webhook %s: delivering again (it had failed: %s)", self.destination, self._failing_since)
                self._failing_since = None
            return
        attempts = message.attempts + 1
        if not outcome.retry:
            self.outbox.drop(message.id, "rejected")
            self.rejected += 1
            logger.warning(
                "webhook %s: event %s refused by the receiver (%s); not retried, counted as failed",
                self.destination,
                message.event_id,
                outcome.reason,
            )
            return
        if self.options.max_attempts is not None and attempts >= self.options.max_attempts:
            self.outbox.drop(message.id, "attempts")
            self.exhausted += 1
            logger.warning(
                "webhook %s: event %s dropped after %d attempts (%s)",
                self.destination,
                message.event_id,
                attempts,
                outcome.reason,
            )
            return
        delay = outcome.retry_after
        if delay is None:
            delay = backoff_delay(attempts, self.options.backoff_initial_s, self.options.backoff_max_s)
        self.outbox.failed(message.id, time.time() + delay, outcome.reason)
        self.retries += 1
        if self._failing_since is None:
            self._failing_since = outcome.reason
            logger.warning(
                "webhook %s: %s; events are kept in the outbox and retried", self.destination, outcome.reason
            )


# -- doctor -------------------------------------------------------------------------------------


def preflight(settings: SinkSettings, timeout_s: float = 2.0) -> list[str]:
    """What stops this webhook from working, one line each (for ``doctor``): bad options, a
    receiver that does not answer a TCP connection within ``timeout_s``, an outbox that
    cannot be written. Empty when all is well."""
    try:
        options = WebhookOptions.parse(settings.options)
    except ConfigError as error:
        return [str(error)]
    problems = []
    parts = urllib.parse.urlsplit(options.url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            pass
    except OSError as error:
        problems.append(
            f"receiver {options.destination} does not answer ({reason(error)}); check the URL or start the receiver"
        )
    folder = options.outbox.parent
    existing = next((path for path in (folder, *folder.parents) if path.exists()), None)
    if existing is None or not os.access(existing, os.W_OK):
        problems.append(
            f"outbox {options.outbox} cannot be written (folder {existing or folder} is not writable); "
            f"give options.outbox a writable path"
        )
    return problems
