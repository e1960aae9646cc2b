"""A service's pipeline: sources added and removed while it runs, the others undisturbed."""

from __future__ import annotations

import threading
import time

import pytest
from fakes import FakeClassifier
from videos import write_video

from streamcls.config import Config, InferenceConfig, SourceConfig
from streamcls.errors import ConfigError
from streamcls.pipeline import Pipeline


def _consume(pipeline: Pipeline, seen: list, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        for prediction in pipeline:
            seen.append((time.monotonic(), prediction.source_id, prediction.frame_index))
            if stop.is_set():
                break

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _rate(seen: list, source_id: str, start: float, end: float) -> float:
    return sum(1 for at, source, _ in seen if source == source_id and start <= at < end) / (end - start)


def test_a_source_added_and_removed_while_the_others_keep_their_rate(tmp_path):
    clip = write_video(tmp_path / "clip.avi", 400, (64, 48), fps=20, codec="MJPG")
    config = Config(sources=(SourceConfig(uri=str(clip), id="steady", realtime=True),),
                    inference=InferenceConfig(batch_size=4))
    seen: list = []
    stop = threading.Event()
    with Pipeline(config, classifier=FakeClassifier(batch_size=4), serve=True) as pipeline:
        consumer = _consume(pipeline, seen, stop)
        time.sleep(3)
        added = pipeline.add_source(SourceConfig(uri=str(clip), id="visitor", realtime=True))
        assert added == "visitor"
        assert sorted(pipeline.source_ids()) == ["steady", "visitor"]
        with pytest.raises(ConfigError, match="taken already"):
            pipeline.add_source(SourceConfig(uri=str(clip), id="visitor"))
        time.sleep(3)
        summary = pipeline.remove_source("visitor")
        removed_at = time.monotonic()
        time.sleep(3)
        assert pipeline.source_ids() == ["steady"]
        steady_now = pipeline.source_summary("steady")
        stop.set()
        pipeline.stop()
        consumer.join(10)
    assert summary.source_id == "visitor" and summary.frames_processed >= 30
    visitor_frames = [index for at, source, index in seen if source == "visitor"]
    assert visitor_frames == sorted(visitor_frames) and len(visitor_frames) == summary.frames_processed
    assert not [at for at, source, _ in seen if source == "visitor" and at > removed_at]
    first = seen[0][0]
    before = _rate(seen, "steady", first + 0.5, first + 3)
    during = _rate(seen, "steady", first + 3.5, first + 6)
    after = _rate(seen, "steady", removed_at + 0.5, removed_at + 3)
    assert before == pytest.approx(20, rel=0.15)
    assert during == pytest.approx(before, rel=0.10) and after == pytest.approx(before, rel=0.10)
    assert steady_now.state == "running" and steady_now.current_fps == pytest.approx(20, rel=0.25)


def test_a_service_starts_with_no_source_and_waits(tmp_path):
    clip = write_video(tmp_path / "clip.avi", 30, (64, 48), codec="MJPG")
    seen: list = []
    stop = threading.Event()
    with Pipeline(Config(), classifier=FakeClassifier(), serve=True) as pipeline:
        consumer = _consume(pipeline, seen, stop)
        assert pipeline.source_ids() == []
        time.sleep(0.5)
        assert consumer.is_alive()  # no source is no end
        pipeline.add_source(SourceConfig(uri=str(clip), id="late"))
        deadline = time.monotonic() + 20
        while len(seen) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.source_summary("late").state == "ended"
        assert consumer.is_alive()  # every source ended: still serving
        stop.set()
        pipeline.stop()
        consumer.join(10)
    assert [index for _, _, index in seen] == list(range(30))
