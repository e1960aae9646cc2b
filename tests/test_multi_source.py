"""Many sources, one model: completeness per source, routing, fairness, isolation, shutdown.

Fake sources paint their tag and each frame's index into the pixels and the
fake classifier reads both back, so every record can be checked against the
frame and the source it came from.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from fakes import FakeClassifier, FakeSource, expected_class
from videos import write_video

from streamcls.config import Config, InferenceConfig, OutputConfig, ReconnectConfig, SourceConfig
from streamcls.errors import SourceError
from streamcls.pipeline import Pipeline
from streamcls.pipeline.batching import FairInbox


def config(batch_size=4, max_wait_ms=20.0, fairness="round_robin", attempts=3, **output):
    return Config(
        inference=InferenceConfig(batch_size=batch_size, max_batch_wait_ms=max_wait_ms, fairness=fairness),
        source=SourceConfig(reconnect=ReconnectConfig(attempts=attempts, initial_delay_s=0.05, max_delay_s=0.1)),
        output=OutputConfig(display=False, **output),
    )


def by_source(predictions):
    grouped: dict[str, list] = {}
    for prediction in predictions:
        grouped.setdefault(prediction.source_id, []).append(prediction)
    return grouped


# -- the fair inbox on its own ------------------------------------------------------------


class Item:
    def __init__(self, name, ready_at):
        self.name, self.ready_at = name, ready_at


def test_round_robin_takes_one_from_each_lane_in_turn():
    stop = threading.Event()
    inbox = FairInbox(["a", "b", "c"], capacity=10)
    for number in range(6):
        inbox.put("a", Item(f"a{number}", number), stop)
    inbox.put("b", Item("b0", 0), stop)
    inbox.put("c", Item("c0", 0), stop)
    first = [item.name for item in inbox.take(4, 0.0, stop)]
    assert first == ["a0", "b0", "c0", "a1"]
    rest = [item.name for item in inbox.take(10, 0.0, stop)]
    assert rest == ["a2", "a3", "a4", "a5"]  # each lane keeps its order


def test_oldest_first_takes_the_longest_waiting_across_lanes():
    stop = threading.Event()
    inbox = FairInbox(["a", "b"], capacity=10, fairness="oldest_first")
    for name, ready in (("a0", 1.0), ("a1", 4.0), ("a2", 5.0)):
        inbox.put("a", Item(name, ready), stop)
    for name, ready in (("b0", 2.0), ("b1", 3.0)):
        inbox.put("b", Item(name, ready), stop)
    assert [item.name for item in inbox.take(4, 0.0, stop)] == ["a0", "b0", "b1", "a1"]


def test_a_full_lane_blocks_only_its_own_producer_and_finished_lanes_end_the_inbox():
    stop = threading.Event()
    inbox = FairInbox(["full", "free"], capacity=2)
    for number in range(2):
        assert inbox.put("full", Item(number, number), stop)
    blocked = threading.Thread(target=inbox.put, args=("full", Item(2, 2), stop), daemon=True)
    blocked.start()
    time.sleep(0.2)
    assert blocked.is_alive() and inbox.depth("full") == 2  # bounded: waits for room
    assert inbox.put("free", Item("x", 0), stop)  # the other lane is not held up
    assert len(inbox.take(10, 0.0, stop)) == 3
    blocked.join(2)
    assert not blocked.is_alive() and inbox.depth("full") == 1
    inbox.finish("full")
    inbox.finish("free")
    assert [item.name for item in inbox.take(10, 0.0, stop)] == [2]
    assert inbox.take(10, 0.0, stop) is None  # every source ended and every lane is empty


# -- the pipeline with several fake sources ------------------------------------------------


def test_each_file_source_gets_every_frame_in_order_exactly_once_and_only_its_own():
    sources = [FakeSource(count, source_id=f"file{tag}", tag=tag) for tag, count in enumerate((50, 83, 121))]
    classifier = FakeClassifier(batch_size=8)
    with Pipeline(config(batch_size=8), classifier=classifier, sources=sources) as pipeline:
        predictions = list(pipeline)
    grouped = by_source(predictions)
    for tag, source in enumerate(sources):
        mine = grouped[source.spec.source_id]
        assert [p.frame_index for p in mine] == list(range(source.count))
        # The label is decoded from the frame's own pixels: the tag proves it is this source's frame.
        assert [p.label for p in mine] == [expected_class(i, tag) for i in range(source.count)]
    summary = pipeline.summary()
    assert [s.frames_processed for s in summary.sources] == [50, 83, 121]
    assert summary.frames_processed == sum(classifier.batch_sizes) == 254
    # Batches mix sources: fewer calls than one source at a time could make.
    assert summary.batches <= 254 / 8 + 6 and summary.mean_batch_size > 7


def test_a_slow_source_is_not_starved_by_a_fast_one():
    """60 fps and 5 fps live sources against a model that cannot keep up with both."""
    fast = FakeSource(60 * 4, live=True, fps=60, source_id="fast", tag=1)
    slow = FakeSource(5 * 4, live=True, fps=5, source_id="slow", tag=2)
    classifier = FakeClassifier(batch_size=2, delay_s=0.05)  # 40 frames/s at most
    with Pipeline(config(batch_size=2, max_wait_ms=0), classifier=classifier, sources=[fast, slow]) as pipeline:
        predictions = list(pipeline)
    summary = {s.source_id: s for s in pipeline.summary().sources}
    assert summary["slow"].frames_read == 20 and summary["slow"].frames_processed == 20
    assert summary["slow"].frames_dropped == 0
    assert summary["fast"].frames_dropped > 0  # the fast one pays for the model's limit, the slow one does not
    grouped = by_source(predictions)
    assert [p.label for p in grouped["slow"]] == [expected_class(p.frame_index, 2) for p in grouped["slow"]]


@pytest.mark.parametrize("fairness", ["round_robin", "oldest_first"])
def test_offline_sources_of_uneven_length_all_finish_under_both_fairness_rules(fairness):
    sources = [FakeSource(30, source_id="short", tag=1), FakeSource(200, source_id="long", tag=2)]
    with Pipeline(config(fairness=fairness), classifier=FakeClassifier(), sources=sources) as pipeline:
        grouped = by_source(list(pipeline))
    assert [p.frame_index for p in grouped["short"]] == list(range(30))
    assert [p.frame_index for p in grouped["long"]] == list(range(200))


def rate_between(predictions, start, end):
    times = [p.captured_at for p in predictions if start <= p.captured_at < end]
    return len(times) / (end - start)


def test_a_source_that_dies_does_not_slow_the_others():
    """Three 25 fps cameras; one drops after 1 s and never comes back. The others keep their rate."""
    healthy = [FakeSource(25 * 4, live=True, fps=25, source_id=f"cam{tag}", tag=tag) for tag in (1, 2)]
    dying = FakeSource(25 * 4, live=True, fps=25, source_id="dying", tag=3, lose_at={25}, reopen_failures=10**6)
    cfg = config(batch_size=4, attempts=20)  # it keeps trying to reconnect for ~2 s, then gives up
    predictions = []
    with Pipeline(cfg, classifier=FakeClassifier(batch_size=4), sources=[*healthy, dying]) as pipeline, \
            pytest.raises(SourceError, match="1 of 3 sources failed, the others ran to their end: stream dying "
                                             "dropped and did not come back after 20 reconnect attempts"):
        started = time.monotonic()
        for prediction in pipeline:
            predictions.append(prediction)
    grouped = by_source(predictions)
    summary = {s.source_id: s for s in pipeline.summary().sources}
    assert summary["dying"].frames_processed == 25 and summary["dying"].state == "failed"
    died_at = grouped["dying"][-1].captured_at
    for camera in healthy:
        mine = grouped[camera.spec.source_id]
        assert [p.frame_index for p in mine] == list(range(100))  # not one frame lost
        before = rate_between(mine, started, died_at)
        after = rate_between(mine, died_at, mine[-1].captured_at)
        assert after == pytest.approx(before, rel=0.1), (before, after)


def test_a_source_that_fails_to_open_affects_only_itself(tmp_path):
    video = write_video(tmp_path / "good.avi", 40, codec="MJPG")
    cfg = replace(config(), sources=(SourceConfig(uri=str(tmp_path / "missing.mp4"), id="bad"),
                                     SourceConfig(uri=str(video), id="good")))
    predictions = []
    with Pipeline(cfg, classifier=FakeClassifier()) as pipeline, \
            pytest.raises(SourceError, match="1 of 2 sources failed, the others ran to their end: video file "
                                             ".*missing.mp4' does not exist"):
        for prediction in pipeline:
            predictions.append(prediction)
    assert [p.frame_index for p in predictions] == list(range(40))
    assert {p.source_id for p in predictions} == {"good"}
    summary = {s.source_id: s for s in pipeline.summary().sources}
    assert summary["bad"].state == "failed" and summary["good"].state == "ended"
    assert summary["good"].frames_processed == 40


def test_when_no_source_opens_the_run_fails_before_the_model_loads(tmp_path):
    cfg = replace(config(), sources=(SourceConfig(uri=str(tmp_path / "a.mp4")),
                                     SourceConfig(uri=str(tmp_path / "b.mp4"))))
    with pytest.raises(SourceError, match="no source could be opened"):
        Pipeline(cfg).__enter__()  # no classifier given: reaching the model load would fail differently


def test_stop_ends_every_source_promptly():
    sources = [FakeSource(10**6, live=True, fps=30, source_id=f"cam{tag}", tag=tag) for tag in range(3)]
    started = time.monotonic()
    with Pipeline(config(), classifier=FakeClassifier(), sources=sources) as pipeline:
        for count, _ in enumerate(pipeline):
            if count == 30:
                pipeline.stop()
    assert time.monotonic() - started < 10
    assert not any(thread.is_alive() for thread in pipeline._threads)
    assert all(source.closed for source in sources)
    assert all(source.frames_processed > 0 for source in pipeline.summary().sources)


class JitteryClassifier(FakeClassifier):
    """Each call takes a random 0-20 ms, so two workers finish their batches out of order."""

    def __init__(self, batch_size):
        super().__init__(batch_size)
        self.random = np.random.default_rng(7)
        self.concurrent = 0
        self.most_concurrent = 0

    def classify(self, images):
        with self._lock:
            self.concurrent += 1
            self.most_concurrent = max(self.most_concurrent, self.concurrent)
            delay = float(self.random.uniform(0, 0.02))
        time.sleep(delay)
        try:
            return super().classify(images)
        finally:
            with self._lock:
                self.concurrent -= 1


def test_two_inference_workers_overlap_batches_and_keep_every_source_in_order():
    sources = [FakeSource(count, source_id=f"file{tag}", tag=tag) for tag, count in enumerate((90, 150))]
    classifier = JitteryClassifier(batch_size=4)
    cfg = replace(config(batch_size=4), inference=InferenceConfig(batch_size=4, workers=2))
    with Pipeline(cfg, classifier=classifier, sources=sources) as pipeline:
        grouped = by_source(list(pipeline))
    assert classifier.most_concurrent == 2  # the two workers did run batches at the same time
    for tag, source in enumerate(sources):
        mine = grouped[source.spec.source_id]
        assert [p.frame_index for p in mine] == list(range(source.count))
        assert [p.label for p in mine] == [expected_class(i, tag) for i in range(source.count)]
    assert pipeline.summary().batches == len(classifier.batch_sizes)
