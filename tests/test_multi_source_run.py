"""Several real sources in one ``streamcls run``: files and loopback RTSP servers, killed and interrupted."""

from __future__ import annotations

import csv
import json
import signal
import statistics
import time

import pytest
from fakes import FakeClassifier
from faults import TINY_MODEL, Run, line_count, whole_records
from rtsp import RtspServer, free_port, needs_server
from videos import decode_all, write_video

from streamcls.config import Config, InferenceConfig, OutputConfig, ReconnectConfig, SourceConfig
from streamcls.errors import SourceError
from streamcls.outputs.open import file_safe
from streamcls.pipeline import Pipeline


@pytest.fixture
def clips(tmp_path):
    return [write_video(tmp_path / "a.avi", 61, (96, 64), codec="MJPG"),
            write_video(tmp_path / "b.mp4", 37, (128, 72))]


@needs_server
def test_files_and_a_stream_in_one_run_each_to_its_own_outputs(tmp_path, clips):
    server = RtspServer(free_port())
    out = tmp_path / "out"
    out.mkdir()
    try:
        run = Run("run", "--source", str(clips[0]), "--source", str(clips[1]), "--source", server.url, *TINY_MODEL,
                  "--max-frames", "80", "--predictions", str(out / "{source}.jsonl"),
                  "--segments", str(out / "segments.csv"), "--output-video", str(out / "grid.mp4"))
        status = run.finish(120)
    finally:
        server.stop()
    assert status == 0, run.stderr
    for clip, count in zip(clips, (61, 37)):
        records = whole_records(out / f"{file_safe(str(clip))}.jsonl")
        assert [r["frame_index"] for r in records] == list(range(count))  # every frame, in order, once
        assert {r["source"] for r in records} == {str(clip)}  # and nothing of another source
    stream = whole_records(out / f"{file_safe(server.url)}.jsonl")
    indices = [r["frame_index"] for r in stream]
    assert 40 <= len(stream) <= 80 and indices == sorted(set(indices))
    assert {r["source"] for r in stream} == {server.url}
    with (out / "segments.csv").open() as handle:
        sources_in_segments = {row["source"] for row in csv.DictReader(handle)}
    assert sources_in_segments == {str(clips[0]), str(clips[1]), server.url}
    grid = decode_all(out / "grid.mp4")
    assert grid and grid[0].shape == (720, 1280, 3)  # 3 sources: a 2 x 2 grid of 640 x 360 cells
    for clip in clips:
        assert f"  {clip}: ended, block policy" in run.stdout
    assert f"  {server.url}: ended, latest policy, 80 read" in run.stdout


@needs_server
def test_a_killed_stream_leaves_the_other_streams_rate_alone():
    """Two 25 fps streams; one server is killed mid-run. The other's rate stays within 10 %."""
    servers = [RtspServer(free_port()), RtspServer(free_port())]
    config = Config(
        inference=InferenceConfig(batch_size=4, max_batch_wait_ms=10),
        sources=tuple(SourceConfig(uri=server.url, id=name, read_timeout_s=1.0, open_timeout_s=2.0,
                                   reconnect=ReconnectConfig(attempts=4, initial_delay_s=0.5, max_delay_s=1.0))
                      for server, name in zip(servers, ("kept", "killed"))),
        output=OutputConfig(display=False, max_frames=200),
    )
    kept = []
    killed_at = None
    try:
        with Pipeline(config, classifier=FakeClassifier(batch_size=4)) as pipeline, \
                pytest.raises(SourceError, match="1 of 2 sources failed, the others ran to their end: stream killed"):
            deadline = time.monotonic() + 60
            for prediction in pipeline:
                if prediction.source_id == "kept":
                    kept.append(prediction.captured_at)
                    if len(kept) == 75 and killed_at is None:
                        servers[1].stop()
                        killed_at = time.monotonic()
                assert time.monotonic() < deadline
    finally:
        for server in servers:
            server.stop()
    summary = {s.source_id: s for s in pipeline.summary().sources}
    assert killed_at is not None and len(kept) == summary["kept"].frames_processed
    # Rates from the median time between frames: the burst a stream delivers on connecting
    # (what the server had buffered) does not count as its rate.
    before = 1 / statistics.median(b - a for a, b in zip(kept, kept[1:]) if b < killed_at)
    after = 1 / statistics.median(b - a for a, b in zip(kept, kept[1:]) if a >= killed_at)
    assert after == pytest.approx(before, rel=0.1), (before, after)
    assert summary["kept"].frames_dropped + summary["kept"].frames_processed == 200
    assert summary["killed"].state == "failed"


@needs_server
def test_sigint_stops_every_source_cleanly(tmp_path, clips):
    server = RtspServer(free_port())
    out = tmp_path / "out"
    out.mkdir()
    long_clip = write_video(tmp_path / "long.avi", 2000, (96, 64), codec="MJPG")
    run = Run("run", "--source", str(long_clip), "--source", server.url, "--source", str(clips[0]), *TINY_MODEL,
              "--realtime", "--predictions", str(out / "{source}.jsonl"), "--output-video", str(out / "{source}.mp4"))
    try:
        stream_records = out / f"{file_safe(server.url)}.jsonl"
        run.wait_for(lambda: line_count(stream_records) >= 20, 60, "20 stream records")
        sent = run.signal(signal.SIGINT)
        status = run.finish(10)
    finally:
        run.process.kill()
        server.stop()
    assert time.monotonic() - sent < 10
    assert status == 130, run.stderr
    for source in (long_clip, server.url, clips[0]):
        records = whole_records(out / f"{file_safe(str(source))}.jsonl")
        assert len(decode_all(out / f"{file_safe(str(source))}.mp4")) == len(records)
    assert "interrupted" in run.stdout


def test_sources_from_a_config_with_their_own_outputs(tmp_path, clips):
    config = tmp_path / "sites.yaml"
    config.write_text(
        "source:\n  policy: block\n"  # defaults for every entry
        "sources:\n"
        f"  - {{uri: '{clips[0]}', id: door, output: {{predictions: '{tmp_path / 'door.csv'}'}}}}\n"
        f"  - {{uri: '{clips[1]}', id: lobby, output: {{video: '{tmp_path / 'lobby.avi'}'}}}}\n"
        f"output:\n  predictions: '{tmp_path / 'all.jsonl'}'\n")
    result = Run("run", "--config", str(config), *TINY_MODEL)
    assert result.finish(120) == 0, result.stderr
    with (tmp_path / "door.csv").open() as handle:
        door = list(csv.DictReader(handle))
    assert [int(row["frame_index"]) for row in door] == list(range(61)) and {r["source"] for r in door} == {"door"}
    assert len(decode_all(tmp_path / "lobby.avi")) == 37
    shared = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert sorted(r["source"] for r in shared) == ["door"] * 61 + ["lobby"] * 37
    for name in ("door", "lobby"):
        mine = [r["frame_index"] for r in shared if r["source"] == name]
        assert mine == sorted(mine)  # each source's records in its own order, interleaved with the other's
