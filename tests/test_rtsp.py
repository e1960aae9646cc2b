"""A real RTSP server on 127.0.0.1 (GStreamer gst-rtsp-server): connect, live policy, reconnect."""

from __future__ import annotations

import threading
import time

import pytest
from fakes import FakeClassifier
from rtsp import RtspServer, free_port, needs_server

from streamcls.config import Config, InferenceConfig, OutputConfig, ReconnectConfig, SourceConfig
from streamcls.errors import SourceOpenError
from streamcls.pipeline import Pipeline

pytestmark = needs_server


@pytest.fixture
def server():
    running = RtspServer(free_port())
    yield running
    running.stop()


def live_config(url, max_frames, attempts=3):
    return Config(
        inference=InferenceConfig(batch_size=2, max_batch_wait_ms=5),
        source=SourceConfig(uri=url, open_timeout_s=5, read_timeout_s=1.5,
                            reconnect=ReconnectConfig(attempts=attempts, initial_delay_s=0.5, max_delay_s=1.0)),
        output=OutputConfig(display=False, max_frames=max_frames),
    )


def test_reads_a_live_stream_under_the_latest_policy(server):
    classifier = FakeClassifier(batch_size=2, delay_s=0.12)  # slower than the 25 fps stream
    with Pipeline(live_config(server.url, max_frames=60), classifier=classifier) as pipeline:
        predictions = list(pipeline)
    summary = pipeline.summary()
    indices = [p.frame_index for p in predictions]
    assert summary.policy == "latest"
    assert summary.frames_read == 60
    assert indices == sorted(set(indices)) and indices[-1] <= 59
    assert summary.frames_dropped > 0
    assert summary.frames_processed + summary.frames_dropped == 60
    assert all(p.position_ms is None and p.source_id == server.url for p in predictions)
    # Stale frames are dropped, so the age of what is shown stays near one model call.
    assert sorted(p.latency_ms for p in predictions)[len(predictions) // 2] < 1000


def test_reconnects_after_the_server_restarts(server):
    classifier = FakeClassifier(batch_size=2)
    seen: list[int] = []
    with Pipeline(live_config(server.url, max_frames=120, attempts=10), classifier=classifier) as pipeline:
        restarted: list[RtspServer] = []

        def restart():
            server.stop()
            time.sleep(2.0)
            restarted.append(RtspServer(server.port))

        restart_thread = None
        deadline = time.monotonic() + 90
        for prediction in pipeline:
            seen.append(prediction.frame_index)
            if len(seen) == 30 and restart_thread is None:
                restart_thread = threading.Thread(target=restart)
                restart_thread.start()
            if time.monotonic() > deadline:
                break
    restart_thread.join(30)
    for running in restarted:
        running.stop()
    summary = pipeline.summary()
    assert summary.reconnects >= 1
    assert summary.gaps[0].ended_at is not None
    assert seen == sorted(set(seen))  # no duplicated frame across the gap
    assert max(seen) > summary.gaps[0].last_index_before  # frames came after the gap


def test_unreachable_stream_fails_within_the_timeout():
    url = f"rtsp://127.0.0.1:{free_port()}/nothing"
    start = time.monotonic()
    with pytest.raises(SourceOpenError, match="cannot be opened within 2 s"):
        Pipeline(Config(source=SourceConfig(uri=url, open_timeout_s=2), output=OutputConfig(display=False)),
                 classifier=FakeClassifier()).__enter__()
    assert time.monotonic() - start < 15
