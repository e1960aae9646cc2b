"""Helpers for the tests of ``streamcls serve``: a service in this process, a client, and readers
of what it answers (Prometheus text, MJPEG parts, a source's classification rate).

    runs_video(path, count, run_length, fps)  a clip whose pixel (0, 0) changes every
        ``run_length`` frames (FakeClassifier's label follows it: runs of one label), while a
        corner changes every frame (every picture differs)
    serving(config, tokens=None) -> (service, client)  a Service with FakeClassifier on a
        free 127.0.0.1 port, answering from its own thread; an httpx client on its URL
    wait_for(check, timeout, what)      poll ``check`` until it returns something true (bounded)
    samples(text)                       Prometheus text as {(name, ((label, value), ...)): value}
    mjpeg_parts(client, path, seconds)  the JPEG parts of a live view and when each arrived
    rate(client, source_id, seconds)    frames classified per second over a window, from the API
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
from fakes import FakeClassifier

from streamcls.config import Config
from streamcls.service.auth import Tokens
from streamcls.service.run import Service

CLASSES = {f"c{index}" for index in range(256)}  # FakeClassifier's classes
RUN_STEP = 37  # blue of run k is 37 * k % 256: neighbouring runs far apart, even after JPEG


def runs_video(path: Path, count: int, run_length: int = 10, fps: float = 20.0,
               size: tuple[int, int] = (64, 48)) -> Path:
    """``count`` frames (MJPG); frame i is uniform blue ``37 * (i // run_length) % 256`` but for
    its bottom-right 16x16 corner, whose grey is ``7 * i % 256`` (every frame a distinct picture)."""
    width, height = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (width, height))
    assert writer.isOpened(), f"OpenCV cannot write MJPG to {path}"
    for index in range(count):
        image = np.zeros((height, width, 3), np.uint8)
        image[:, :, 0] = RUN_STEP * (index // run_length) % 256
        image[-16:, -16:, :] = 7 * index % 256
        writer.write(image)
    writer.release()
    return path


@contextlib.contextmanager
def serving(config: Config, tokens: Tokens | None = None, **client: Any) -> Iterator[tuple[Service, httpx.Client]]:
    """The service in this process (FakeClassifier, batch 4), listening; a client on its URL."""
    with Service(config, tokens=tokens, classifier=FakeClassifier(batch_size=4)) as service:
        service.start()
        host, _port = service.address
        assert host == "127.0.0.1", host
        with httpx.Client(base_url=service.url, timeout=15, **client) as http:
            yield service, http


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.05) -> Any:
    """The first true value ``check()`` returns within ``timeout`` seconds; fails with ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what} (last: {value!r})")
        time.sleep(interval)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition: {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def mjpeg_parts(client: httpx.Client, path: str, seconds: float) -> list[tuple[float, bytes]]:
    """(arrival time from the request, JPEG bytes) of each part a live view sends within ``seconds``."""
    boundary = b"--streamcls-frame\r\n"
    parts: list[tuple[float, bytes]] = []
    buffer = b""
    start = time.monotonic()
    with client.stream("GET", path) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "multipart/x-mixed-replace; boundary=streamcls-frame"
        for chunk in response.iter_bytes():
            buffer += chunk
            while True:
                head_end = buffer.find(b"\r\n\r\n")
                if not buffer.startswith(boundary) or head_end < 0:
                    break
                headers = dict(line.split(": ", 1) for line in buffer[len(boundary):head_end].decode().split("\r\n"))
                length = int(headers["Content-Length"])
                if len(buffer) < head_end + 4 + length + 2:
                    break
                assert headers["Content-Type"] == "image/jpeg", headers
                parts.append((time.monotonic() - start, buffer[head_end + 4:head_end + 4 + length]))
                assert buffer[head_end + 4 + length:head_end + 4 + length + 2] == b"\r\n"
                buffer = buffer[head_end + 4 + length + 2:]
            if time.monotonic() - start > seconds:
                break
    return parts


def processed(client: httpx.Client, source_id: str, headers: dict[str, str] | None = None) -> int:
    response = client.get(f"/sources/{source_id}", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["frames_processed"])


def rate(client: httpx.Client, source_id: str, seconds: float) -> float:
    """Frames of ``source_id`` classified per second over the next ``seconds``, from its counters."""
    first, start = processed(client, source_id), time.monotonic()
    time.sleep(seconds)
    last, end = processed(client, source_id), time.monotonic()
    return (last - first) / (end - start)


def decode_jpeg(data: bytes) -> np.ndarray:
    """The picture in ``data`` (it must be a JPEG OpenCV decodes)."""
    assert data[:3] == b"\xff\xd8\xff" and data[-2:] == b"\xff\xd9", data[:8]
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None, "not a decodable JPEG"
    return image
