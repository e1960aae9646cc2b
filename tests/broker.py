"""A real Mosquitto broker on 127.0.0.1 for tests, and a subscriber that records what arrives.

    Broker(directory, users=None, persistent=False)
                                       a broker on a free loopback port; ``users``
                                       ({name: password}) makes a password file and
                                       turns anonymous clients away; ``persistent`` keeps
                                       sessions and retained messages across a restart
      .start() / .kill() / .stop()     start and wait until the port answers; SIGKILL
                                       (a crash); SIGTERM.
                                       start() again reuses the same port
      .url(prefix, user=, password=)   mqtt[s]://[user:password@]127.0.0.1:PORT/prefix
    self_signed(directory)             (certificate, key) for 127.0.0.1, its own CA: Broker(tls=...)
    Subscriber(port, topic="#")        a paho client collecting Received(topic, payload, retain)
      .wait_for(predicate, timeout)    until predicate(messages) holds; fails the test otherwise

Every wait is bounded. Mosquitto 2 refuses anonymous clients unless its config says
``allow_anonymous true``; ``listener PORT 127.0.0.1`` keeps it on loopback, and
``persistence false`` makes a restart lose its retained messages (as a broker
without a disk would).
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from needs import require


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def require_mosquitto() -> None:
    require(shutil.which("mosquitto") and shutil.which("mosquitto_passwd"),
            "mosquitto is not installed (apt-get install mosquitto)")


class Broker:
    def __init__(self, directory: Path, users: dict[str, str] | None = None, persistent: bool = False,
                 tls: tuple[Path, Path] | None = None):
        self.directory = Path(directory)
        self.tls = tls
        self.persistent = persistent
        self.port = free_port()
        self.users = users
        self.process: subprocess.Popen | None = None
        self.log = self.directory / "mosquitto.log"

    def _config(self) -> Path:
        # "user root": started as root, Mosquitto would switch to its own user, who cannot read tmp_path.
        lines = [f"listener {self.port} 127.0.0.1", "user root"]
        if self.persistent:  # saved every second, also what a SIGKILL interrupts
            lines += ["persistence true", f"persistence_location {self.directory}/", "autosave_interval 1"]
        else:
            lines.append("persistence false")
        if self.tls:
            certificate, key = self.tls
            lines += [f"cafile {certificate}", f"certfile {certificate}", f"keyfile {key}"]
        if self.users:
            password_file = self.directory / "passwords"
            password_file.touch()
            for name, password in self.users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(password_file), name, password],
                               check=True, capture_output=True, timeout=10)
            lines += ["allow_anonymous false", f"password_file {password_file}"]
        else:
            lines.append("allow_anonymous true")
        path = self.directory / "mosquitto.conf"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self, timeout: float = 10.0) -> Broker:
        config = self._config()
        self.process = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=self.log.open("ab"),
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"mosquitto did not listen on {self.port} within {timeout} s")

    def _end(self, signal_number: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal_number)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def kill(self) -> None:
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        self._end(signal.SIGTERM)

    def url(self, prefix: str = "streamcls", user: str | None = None, password: str | None = None) -> str:
        credentials = f"{user}:{password}@" if user else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{credentials}127.0.0.1:{self.port}/{prefix}"


def self_signed(directory: Path, name: str = "broker") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA, and its key (openssl)."""
    require(shutil.which("openssl"), "openssl is not installed")
    certificate, key = Path(directory) / f"{name}.pem", Path(directory) / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True, timeout=30)
    return certificate, key


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    retain: bool

    @property
    def text(self) -> str:
        return self.payload.decode()

    def json(self):
        return json.loads(self.payload)


class Subscriber:
    """Subscribes to ``topic`` on the broker at ``port`` (anonymous, or ``user``/``password``)."""

    def __init__(self, port: int, topic: str = "#", user: str | None = None, password: str | None = None,
                 timeout: float = 10.0, client_id: str = "", clean_session: bool = True, ca_file: Path | None = None):
        from paho.mqtt.client import CallbackAPIVersion, Client

        self.messages: list[Received] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
        self.client.reconnect_delay_set(0.1, 0.5)  # back soon after a broker restart
        if user:
            self.client.username_pw_set(user, password)
        if ca_file:
            self.client.tls_set(ca_certs=str(ca_file))
        self.client.on_message = self._on_message
        self.client.on_connect = lambda client, *_: client.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.connect("127.0.0.1", port, 30)
        self.client.loop_start()
        if not self._subscribed.wait(timeout):
            self.close()
            raise AssertionError(f"no subscription to {topic} on port {port} within {timeout} s")

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(Received(message.topic, bytes(message.payload), bool(message.retain)))

    def on(self, topic: str) -> list[Received]:
        with self._lock:
            return [message for message in self.messages if message.topic == topic]

    def wait_for(self, predicate, timeout: float = 10.0, what: str = "the expected messages") -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                messages = list(self.messages)
            if predicate(messages):
                return messages
            time.sleep(0.05)
        raise AssertionError(f"{what} did not arrive within {timeout} s; got {[(m.topic, m.payload[:80]) for m in messages]}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
