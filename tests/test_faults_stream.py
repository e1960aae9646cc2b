"""Stream faults, injected for real: a loopback RTSP server killed, never coming back, stalled, resized.

Each test runs the real ``streamcls run`` in a subprocess against GStreamer's
RTSP server on 127.0.0.1 and checks what the run logged and wrote: the gap
reported honestly (no duplicated or invented frames), outputs whole and valid.
"""

from __future__ import annotations

import re
import time

import pytest
from faults import TINY_MODEL, Run, line_count, whole_records
from rtsp import RtspServer, free_port, needs_server
from videos import decode_all

pytestmark = needs_server


def stream_config(tmp_path, attempts=10):
    path = tmp_path / "stream.yaml"
    path.write_text(
        "source:\n  open_timeout_s: 3\n  read_timeout_s: 1.5\n"
        f"  reconnect: {{attempts: {attempts}, initial_delay_s: 0.5, max_delay_s: 1.0}}\n"
        "inference: {batch_size: 2, max_batch_wait_ms: 5}\n")
    return path


def start_run(tmp_path, url, max_frames, attempts=10):
    return Run("run", "--source", url, *TINY_MODEL, "--config", str(stream_config(tmp_path, attempts)),
               "--max-frames", str(max_frames), "--predictions", str(tmp_path / "p.jsonl"),
               "--segments", str(tmp_path / "segments.csv"), "--output-video", str(tmp_path / "out.avi"))


def check_outputs(tmp_path) -> list[dict]:
    """Whole records, indices increasing and never repeated, and a video of exactly those frames."""
    records = whole_records(tmp_path / "p.jsonl")
    indices = [record["frame_index"] for record in records]
    assert indices == sorted(set(indices)), "a frame was duplicated or reordered"
    assert len(decode_all(tmp_path / "out.avi")) == len(records)
    segments = (tmp_path / "segments.csv").read_text().splitlines()
    assert segments[0].startswith("source,label,start_frame") and len(segments) >= 2
    return records


def test_server_killed_and_restarted_gives_one_honest_gap(tmp_path):
    server = RtspServer(free_port())
    run = start_run(tmp_path, server.url, max_frames=150)
    restarted = None
    try:
        run.wait_for(lambda: line_count(tmp_path / "p.jsonl") >= 30, 60, "30 records")
        server.stop()
        time.sleep(3.0)
        restarted = RtspServer(server.port)
        status = run.finish(90)
    finally:
        run.process.kill()
        (restarted or server).stop()
    assert status == 0, run.stderr
    records = check_outputs(tmp_path)
    after = [record for record in records if record["gap_before_ms"] is not None]
    assert len(after) == 1, "exactly one record follows the gap"
    gap_record = after[0]
    # The gap covers the 3 s the server was down, and no more than the wait to notice it and reconnect.
    assert 3000 <= gap_record["gap_before_ms"] <= 15000
    before = [record for record in records if record["frame_index"] < gap_record["frame_index"]]
    assert len(before) >= 30 and gap_record["frame_index"] == before[-1]["frame_index"] + 1
    match = re.search(r"frames again after a ([\d.]+) s gap \(last frame before it: (\d+); about (\d+) frames "
                      r"missed at 25 fps\)", run.stderr)
    assert match, run.stderr
    seconds, last_before, missed = float(match[1]), int(match[2]), int(match[3])
    assert last_before == before[-1]["frame_index"]
    assert missed == pytest.approx(seconds * 25, abs=2)  # as far as known: the stream's announced rate
    assert re.search(r"reconnects  \d+; gaps: after frame \d+: [\d.]+ s, about \d+ frames missed", run.stdout)


def test_server_that_never_comes_back_ends_cleanly_after_the_retries(tmp_path):
    server = RtspServer(free_port())
    run = start_run(tmp_path, server.url, max_frames=10_000, attempts=3)
    try:
        run.wait_for(lambda: line_count(tmp_path / "p.jsonl") >= 20, 60, "20 records")
        server.stop()
        status = run.finish(60)
    finally:
        run.process.kill()
        server.stop()
    assert status == 5, run.stderr
    errors = [line for line in run.stderr.splitlines() if line.startswith("streamcls: error:")]
    assert len(errors) == 1 and "did not come back after 3 reconnect attempts" in errors[0]
    assert "Traceback" not in run.stderr
    records = check_outputs(tmp_path)
    assert f"outputs hold everything up to frame {records[-1]['frame_index']} " in errors[0]
    assert "never came back" in run.stdout


def test_stalled_server_is_noticed_by_the_read_timeout_and_reconnected(tmp_path):
    """SIGSTOP: the server is alive, its sockets open, and it sends nothing."""
    server = RtspServer(free_port())
    run = start_run(tmp_path, server.url, max_frames=120)
    try:
        run.wait_for(lambda: line_count(tmp_path / "p.jsonl") >= 25, 60, "25 records")
        server.pause()
        run.wait_for(lambda: "stream lost after frame" in run.stderr, 20, "the stall to be noticed")
        time.sleep(2.0)
        server.resume()
        status = run.finish(90)
    finally:
        run.process.kill()
        server.resume()
        server.stop()
    assert status == 0, run.stderr
    records = check_outputs(tmp_path)
    gaps = [record["gap_before_ms"] for record in records if record["gap_before_ms"] is not None]
    assert len(gaps) == 1 and gaps[0] >= 1500  # at least the read timeout
    assert len(records) >= 60


def test_a_stream_that_comes_back_at_another_resolution(tmp_path):
    """The model input is resized anyway; the annotated video keeps its first size (later frames scaled)."""
    server = RtspServer(free_port(), size=(320, 240))
    run = start_run(tmp_path, server.url, max_frames=100)
    restarted = None
    try:
        run.wait_for(lambda: line_count(tmp_path / "p.jsonl") >= 30, 60, "30 records")
        server.stop()
        time.sleep(1.0)
        restarted = RtspServer(server.port, size=(640, 360))
        status = run.finish(90)
    finally:
        run.process.kill()
        (restarted or server).stop()
    assert status == 0, run.stderr
    records = check_outputs(tmp_path)
    assert len(records) >= 60 and sum(record["gap_before_ms"] is not None for record in records) == 1
    frames = decode_all(tmp_path / "out.avi")
    assert {frame.shape for frame in frames} == {(240, 320, 3)}
