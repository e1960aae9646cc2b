"""The MQTT sink: each source's current label (retained), its events, and whether streamcls is up.

Topics, under the URL's prefix (``mqtt://broker/plant`` -> ``plant``); ``SOURCE``
is the source id made safe for a topic level (no ``/``, ``+``, ``#``, no credentials):

* ``PREFIX/SOURCE/state`` (retained, QoS from ``qos``): ``{"label", "score",
  "source", "frame_index", "time"}``, published when the source's shown label
  changes (and at its first prediction), so a subscriber that connects later
  gets the current label at once;
* ``PREFIX/SOURCE/events`` (not retained): ``Event.as_record()``, one per event;
* ``PREFIX/availability`` (retained): ``online`` at every connection,
  ``offline`` at close and, as the last will, when the process dies (one
  topic per client: give each streamcls process its own prefix);
* with ``discovery: true``, ``DISCOVERY_PREFIX/sensor/NODE/SOURCE/config``
  (retained): a Home Assistant sensor per source, ``NODE`` being the prefix
  made safe, so each source appears with no hand configuration.

The pipeline never waits for the network: ``write`` and ``write_event`` put the
message in memory and return. Events wait in a bounded queue (``queue_max``;
when it is full the oldest is dropped and counted); a state is the latest per
source, so states waiting for the broker replace each other and never
overflow. Paho's network thread connects, keeps alive and reconnects with
backoff; this module's publisher thread hands messages to it while connected,
keeping at most ``MAX_IN_FLIGHT`` unacknowledged. After a reconnection the
availability, the discovery configs and every source's state are sent again
(a restarted broker without persistence has lost its retained messages).

At open the first connection is made while the run waits (``connect_timeout_s``),
so a wrong password, an unreachable broker or a bad TLS file fail at once with
one line (``SinkError``, exit status 6); ``wait_for_broker: false`` connects in
the background instead, queueing meanwhile. At close the queue is flushed for at
most ``flush_timeout_s``, ``offline`` is published, and anything left unsent
is reported in a warning.

Example::

    with MqttSink(MqttOptions.parse({"url": "mqtt://127.0.0.1/plant"}), ("cam1",)) as sink:
        sink.write(None, prediction)
        sink.write_event(event)
    sink.counts  # {'published': 4, 'queued': 2, 'events_published': 1, 'dropped': 0, 'waiting': 0}
"""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from streamcls.errors import SinkError, StreamclsError
from streamcls.frames import Event, Prediction
from streamcls.outputs.mqtt_client import first_connection, make_client, refused, stop
from streamcls.outputs.mqtt_options import MqttOptions, topic_safe
from streamcls.outputs.sink import SinkSettings
from streamcls.version import __version__

logger = logging.getLogger(__name__)

MAX_IN_FLIGHT = 20  # handed to paho, not yet acknowledged (paho's own in-flight default)
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30  # paho doubles the delay after each failed attempt
PREFLIGHT_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class _Message:
    topic: str
    payload: bytes
    retain: bool
    kind: str  # "event", "state" or "status": what the counts call it


class MqttSink:
    """Publishes states, events and availability to an MQTT broker. See the module's docstring.

    Args:
        options: validated options (:meth:`MqttOptions.parse`); :meth:`from_settings` builds them from a config.
        source_ids: the sources served, for the discovery configs (others are added as they appear).
    """

    needs_image = False

    def __init__(self, options: MqttOptions, source_ids: tuple[str, ...] = ()):
        self.options = options
        self.availability_topic = f"{options.prefix}/availability"
        self._sources = list(dict.fromkeys(source_ids))
        self._condition = threading.Condition()
        self._urgent: collections.deque[_Message] = collections.deque()  # availability, discovery: first
        self._events: collections.deque[_Message] = collections.deque()
        self._states: dict[str, _Message] = {}  # the latest state per source
        self._unsent_states: dict[str, None] = {}  # ordered set of sources whose latest state is not sent
        self._labels: dict[str, str] = {}
        self._pending: dict[int, str] = {}  # paho message id -> kind, until the broker acknowledges it
        self._early: set[int] = set()  # acknowledged before publish() returned its id
        self._counts = {"published": 0, "queued": 0, "events_published": 0, "dropped": 0}
        self._connected = False
        self._stopping = False
        self._opened = False
        self._closed = False
        self._first_answer = threading.Event()
        self._first_reason: str | None = None
        self._publisher: threading.Thread | None = None
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: SinkSettings) -> MqttSink:
        """Raises: ConfigError, one line naming ``output.sinks[].options.KEY``."""
        return cls(MqttOptions.parse(settings.options), settings.source_ids)

    def __repr__(self) -> str:
        return f"MqttSink(url={self.options.url!r})"

    # -- the pipeline's side: never blocks -------------------------------
    def write(self, image: np.ndarray | None, prediction: Prediction) -> None:
        """Queue the source's state when its shown label changed (or at its first prediction).

        Not every frame: the state topic says what a source shows now; at 25 frames/s
        per source a message per frame would load the broker and every subscriber
        with repeats (per-frame records belong in the predictions file).
        """
        source, label = prediction.source_id, prediction.shown_label
        if self._labels.get(source) == label:
            return
        self._labels[source] = label
        safe = topic_safe(source)
        payload = {
            "label": label,
            "score": round(prediction.shown_score, 6),
            "source": source,
            "frame_index": prediction.frame_index,
            "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        }
        message = _Message(f"{self.options.prefix}/{safe}/state", _json(payload), True, "state")
        with self._condition:
            if source not in self._sources:
                self._sources.append(source)
                if self.options.discovery:
                    self._urgent.append(self._discovery(source))
            self._states[source] = message
            self._unsent_states[source] = None
            self._counts["queued"] += 1
            self._condition.notify_all()

    def write_event(self, event: Event) -> None:
        """Queue the event (``Event.as_record()``); when ``queue_max`` are waiting, drop the oldest."""
        topic = f"{self.options.prefix}/{topic_safe(event.source_id)}/events"
        message = _Message(topic, _json(event.as_record()), False, "event")
        with self._condition:
            if len(self._events) >= self.options.queue_max:
                self._events.popleft()
                self._counts["dropped"] += 1
            self._events.append(message)
            self._counts["queued"] += 1
            self._condition.notify_all()

    @property
    def counts(self) -> dict[str, int]:
        """``published`` (acknowledged by the broker, every topic), ``queued`` (states and events
        taken), ``events_published``, ``dropped`` (events, by the overflow), ``waiting`` (not yet
        acknowledged)."""
        with self._condition:
            return {**self._counts, "waiting": self._waiting()}

    def report(self) -> dict[str, object]:
        """What this sink did, for the run's summary (the URL masked)."""
        return {"destination": self.options.url, **self.counts}

    # -- open and close ---------------------------------------------------
    def open(self) -> None:
        """Connect (see the module's docstring) and start the publisher.

        Raises:
            SinkError: a TLS file is missing; with ``wait_for_broker``, the broker cannot be
                reached, refuses the credentials or fails the TLS handshake.
        """
        if self._opened:
            return
        options = self.options
        if options.tls is not None:
            options.tls.check_files()
        self._client = make_client(options, self.availability_topic)
        client = self._client
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        with self._condition:
            if options.discovery:
                self._urgent.extend(self._discovery(source) for source in self._sources)
        if options.wait_for_broker:
            problem = first_connection(client, options, options.connect_timeout_s, self._first_answer)
            if problem is None and self._first_reason is not None:
                problem = refused(options, self._first_reason)
            if problem is not None:
                stop(client)
                raise SinkError(problem)
        else:
            client.connect_async(options.host, options.port, options.keepalive_s)
            client.loop_start()
        self._opened = True
        self._publisher = threading.Thread(target=self._publish_loop, name="mqtt-publisher", daemon=True)
        self._publisher.start()

    def close(self) -> None:
        """Flush for at most ``flush_timeout_s``, publish ``offline``, disconnect, join the threads."""
        if self._closed or not self._opened:
            self._closed = True
            return
        self._closed = True
        deadline = time.monotonic() + self.options.flush_timeout_s
        with self._condition:
            while self._waiting() and time.monotonic() < deadline:
                self._condition.wait(min(0.2, max(0.0, deadline - time.monotonic())))
            self._stopping = True
            self._condition.notify_all()
        if self._publisher is not None:
            self._publisher.join(5.0)
        if self._connected:
            info = self._send(_Message(self.availability_topic, b"offline", True, "status"))
            try:
                info.wait_for_publish(max(1.0, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                pass  # the connection went: the broker publishes the will instead
        stop(self._client)
        counts = self.counts
        if counts["dropped"] or counts["waiting"]:
            logger.warning(
                "mqtt %s: %d events dropped while the broker was away (queue_max %d), %d messages unsent at close",
                self.options.url,
                counts["dropped"],
                self.options.queue_max,
                counts["waiting"],
            )

    def __enter__(self) -> MqttSink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the publisher thread and paho's callbacks -------------------------
    def _waiting(self) -> int:
        return len(self._urgent) + len(self._unsent_states) + len(self._events) + len(self._pending)

    def _next(self) -> _Message | None:
        """The next message to hand to paho (caller holds the lock): availability and discovery, states, events."""
        if self._urgent:
            return self._urgent.popleft()
        if self._unsent_states:
            source = next(iter(self._unsent_states))
            del self._unsent_states[source]
            return self._states[source]
        return self._events.popleft() if self._events else None

    def _publish_loop(self) -> None:
        while True:
            with self._condition:
                message = None
                while not self._stopping:
                    if self._connected and len(self._pending) < MAX_IN_FLIGHT:
                        message = self._next()
                        if message is not None:
                            break
                    self._condition.wait(0.5)
                if message is None:
                    return
            self._send(message)

    def _send(self, message: _Message) -> Any:
        """Hand ``message`` to paho, outside the lock: paho calls ``_on_publish`` holding its own."""
        info = self._client.publish(message.topic, message.payload, self.options.qos, message.retain)
        with self._condition:
            # Paho keeps what it took (also across a reconnection) until the broker acknowledges it.
            if info.mid in self._early:
                self._early.discard(info.mid)
                self._acknowledged(message.kind)
            else:
                self._pending[info.mid] = message.kind
        return info

    def _acknowledged(self, kind: str) -> None:
        self._counts["published"] += 1
        if kind == "event":
            self._counts["events_published"] += 1
        self._condition.notify_all()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason_code: Any, properties: Any) -> None:
        with self._condition:
            kind = self._pending.pop(mid, None)
            if kind is None:
                self._early.add(mid)
            else:
                self._acknowledged(kind)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self._first_reason = str(reason_code)
            if self._opened or not self.options.wait_for_broker:  # else open() raises it
                logger.warning("%s", refused(self.options, str(reason_code)))
            self._first_answer.set()
            return
        logger.info("mqtt %s: connected", self.options.url)
        with self._condition:
            self._connected = True
            online = _Message(self.availability_topic, b"online", True, "status")
            discovery = [self._discovery(source) for source in self._sources] if self.options.discovery else []
            # Again at every connection: a restarted broker may have lost its retained messages.
            self._urgent = collections.deque([online, *discovery])
            self._unsent_states = dict.fromkeys(self._states)
            self._condition.notify_all()
        self._first_reason = None
        self._first_answer.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        with self._condition:
            was_connected, self._connected = self._connected, False
        if was_connected and not self._stopping:
            logger.warning(
                "mqtt %s: connection lost (%s); reconnecting, keeping up to %d events meanwhile",
                self.options.url,
                reason_code,
                self.options.queue_max,
            )

    def _discovery(self, source: str) -> _Message:
        """Home Assistant's discovery config for ``source``: a sensor showing the label, the state as attributes."""
        node, safe = topic_safe(self.options.prefix), topic_safe(source)
        state = f"{self.options.prefix}/{safe}/state"
        config = {
            "name": f"{source} label",
            "unique_id": f"streamcls_{node}_{safe}",
            "state_topic": state,
            "value_template": "{{ value_json.label }}",
            "json_attributes_topic": state,
            "availability_topic": self.availability_topic,
            "payload_available": "online",
            "payload_not_available": "offline",
            "icon": "mdi:eye",
            "device": {
                "identifiers": [f"streamcls_{node}"],
                "name": f"streamcls {self.options.prefix}",
                "manufacturer": "streamcls",
                "model": "streamcls",
                "sw_version": __version__,
            },
        }
        topic = f"{self.options.discovery_prefix}/sensor/{node}/{safe}/config"
        return _Message(topic, _json(config), True, "status")


def preflight(settings: SinkSettings) -> list[str]:
    """For ``doctor``: can the broker be reached and does it take the credentials, within 2 s?

    Returns:
        One line per problem (empty: all is well); never raises for a problem it can describe.
    """
    try:
        options = MqttOptions.parse(settings.options)
        if options.tls is not None:
            options.tls.check_files()
    except StreamclsError as error:
        return [str(error)]
    client = make_client(options, f"{options.prefix}/availability", will=False)
    answer = threading.Event()
    reasons: list[str] = []

    def on_connect(client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            reasons.append(str(reason_code))
        answer.set()

    client.on_connect = on_connect
    try:
        problem = first_connection(client, options, PREFLIGHT_TIMEOUT_S, answer)
    finally:
        stop(client)
    if problem is None and reasons:
        problem = refused(options, reasons[0])
    return [] if problem is None else [problem]


def _json(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


__all__ = ["MqttOptions", "MqttSink", "preflight"]
