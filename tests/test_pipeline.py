"""The pipeline with fake sources and a fake classifier: policies, order, batching, shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from fakes import FakeClassifier, FakeSource

from streamcls.config import Config, InferenceConfig, OutputConfig, PostprocessConfig, ReconnectConfig, SourceConfig
from streamcls.errors import StreamLost
from streamcls.pipeline import Pipeline


def config(policy="auto", max_wait_ms=20.0, batch_size=4, attempts=3, max_frames=None, **post):
    return Config(
        inference=InferenceConfig(batch_size=batch_size, max_batch_wait_ms=max_wait_ms),
        source=SourceConfig(uri="fake", policy=policy,
                            reconnect=ReconnectConfig(attempts=attempts, initial_delay_s=0.01, max_delay_s=0.02)),
        output=OutputConfig(display=False, max_frames=max_frames),
        postprocess=PostprocessConfig(**post),
    )


def run(cfg, source, classifier):
    with Pipeline(cfg, classifier=classifier, source=source) as pipeline:
        predictions = list(pipeline)
    return predictions, pipeline.summary()


def test_offline_every_frame_in_order_exactly_once():
    classifier = FakeClassifier(batch_size=4)
    predictions, summary = run(config(), FakeSource(103), classifier)
    assert [p.frame_index for p in predictions] == list(range(103))
    # Each record's label is the one its own frame encodes: nothing shuffled between frames.
    assert [p.label for p in predictions] == [f"c{i % 256}" for i in range(103)]
    assert [p.position_ms for p in predictions[:3]] == [0.0, 40.0, 80.0]
    assert summary.policy == "block"
    assert (summary.frames_read, summary.frames_processed, summary.frames_dropped) == (103, 103, 0)
    assert sum(classifier.batch_sizes) == 103 and max(classifier.batch_sizes) <= 4
    assert summary.batches == len(classifier.batch_sizes)


def test_offline_never_drops_even_with_a_slow_model():
    classifier = FakeClassifier(batch_size=2, delay_s=0.01)
    predictions, summary = run(config(), FakeSource(40), classifier)
    assert [p.frame_index for p in predictions] == list(range(40))
    assert summary.frames_dropped == 0


def test_live_keeps_only_the_newest_frame_and_counts_drops():
    classifier = FakeClassifier(batch_size=1, delay_s=0.03)  # ~33 fps model, 200 fps camera
    predictions, summary = run(config(max_wait_ms=0), FakeSource(300, live=True, fps=200), classifier)
    indices = [p.frame_index for p in predictions]
    assert summary.policy == "latest"
    assert indices == sorted(set(indices))  # increasing, never repeated
    assert summary.frames_dropped > 100
    assert summary.frames_read == 300
    assert summary.frames_processed + summary.frames_dropped == 300
    assert [p.label for p in predictions] == [f"c{i % 256}" for i in indices]
    # Latency stays bounded by a few model calls; it does not grow with the run.
    late = [p.latency_ms for p in predictions[len(predictions) // 2:]]
    assert max(late) < 500


def test_policy_override_makes_a_live_source_lossless():
    classifier = FakeClassifier(batch_size=2, delay_s=0.005)
    predictions, summary = run(config(policy="block"), FakeSource(60, live=True, fps=500), classifier)
    assert [p.frame_index for p in predictions] == list(range(60))
    assert summary.frames_dropped == 0


def test_batches_fill_up_or_leave_after_the_wait():
    fast = FakeClassifier(batch_size=8)
    run(config(batch_size=8, max_wait_ms=200), FakeSource(64), fast)
    assert fast.batch_sizes.count(8) >= 6  # a fast source fills batches
    slow_source = FakeClassifier(batch_size=8)
    run(config(batch_size=8, max_wait_ms=5), FakeSource(10, live=True, fps=20), slow_source)
    # A 20 fps source and a 5 ms wait: batches leave with the frames they have.
    assert max(slow_source.batch_sizes) <= 2
    assert sum(slow_source.batch_sizes) <= 10


def test_max_frames():
    predictions, summary = run(config(max_frames=7), FakeSource(50), FakeClassifier())
    assert [p.frame_index for p in predictions] == list(range(7))
    assert summary.frames_read == 7


def test_stream_reconnects_and_keeps_counting():
    source = FakeSource(30, live=True, lose_at={10, 20}, reopen_failures=1)
    predictions, summary = run(config(policy="block"), source, FakeClassifier())
    assert [p.frame_index for p in predictions] == list(range(30))  # no invented or repeated frame
    assert summary.reconnects == 2
    assert [gap.last_index_before for gap in summary.gaps] == [9, 19]
    assert all(gap.ended_at is not None for gap in summary.gaps)


def test_stream_that_never_comes_back_ends_cleanly_with_what_it_had():
    source = FakeSource(30, live=True, lose_at={12}, reopen_failures=99)
    collected = []
    with Pipeline(config(policy="block", attempts=2), classifier=FakeClassifier(), source=source) as pipeline:
        with pytest.raises(StreamLost, match="did not come back after 2 reconnect attempts"):
            for prediction in pipeline:
                collected.append(prediction.frame_index)
    assert collected == list(range(12))
    summary = pipeline.summary()
    assert summary.gaps[-1].ended_at is None and "did not come back" in summary.error
    assert source.closed


def test_stopping_mid_run_joins_every_thread_quickly():
    classifier = FakeClassifier(batch_size=2, delay_s=0.01)
    source = FakeSource(10_000, live=True, fps=1000)
    before = threading.active_count()
    start = time.monotonic()
    with Pipeline(config(), classifier=classifier, source=source) as pipeline:
        for number, _ in enumerate(pipeline):
            if number == 5:
                break
    assert time.monotonic() - start < 10
    assert threading.active_count() == before
    assert source.closed


def test_callback_sees_every_prediction_and_its_errors_propagate():
    seen = []
    with Pipeline(config(), classifier=FakeClassifier(), source=FakeSource(20)) as pipeline:
        summary = pipeline.run(lambda prediction: seen.append(prediction.frame_index))
    assert seen == list(range(20)) and summary.frames_processed == 20

    def failing(prediction):
        if prediction.frame_index == 3:
            raise ValueError("user code failed")

    with pytest.raises(ValueError, match="user code failed"):
        with Pipeline(config(), classifier=FakeClassifier(), source=FakeSource(20)) as pipeline:
            pipeline.run(failing)


def test_threshold_marks_unknown_and_top_k_is_ordered():
    predictions, _ = run(config(threshold=0.95, top_k=3), FakeSource(5), FakeClassifier())
    assert {p.label for p in predictions} == {"unknown"}
    first = predictions[0]
    assert len(first.top_k) == 3 and first.top_k[0] == ("c0", pytest.approx(0.9))
    assert first.top_k[1][1] >= first.top_k[2][1]


def test_smoothing_is_a_moving_average():
    from streamcls.frames import Classified, Frame
    from streamcls.postprocess import Postprocessor

    postprocessor = Postprocessor(("a", "b"), PostprocessConfig(smoothing="window", window=3))
    vectors = [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    scores = []
    for index, vector in enumerate(vectors):
        frame = Frame(np.zeros((2, 2, 3), np.uint8), "s", index, time.monotonic())
        prediction = postprocessor.predict(Classified(frame, np.array(vector, np.float32), 0, 0, 0, 1))
        scores.append((prediction.smoothed_label, round(prediction.smoothed_score, 4)))
    assert scores == [("a", 1.0), ("a", 0.5), ("b", 0.6667), ("b", 1.0)]


def test_a_slow_consumer_still_gets_the_last_frames():
    """End of stream with full queues: the sentinel waits, no result is discarded."""
    with Pipeline(config(batch_size=2), classifier=FakeClassifier(batch_size=2), source=FakeSource(12)) as pipeline:
        indices = []
        for prediction in pipeline:
            time.sleep(0.05)  # let every queue fill up behind us
            indices.append(prediction.frame_index)
    assert indices == list(range(12))
