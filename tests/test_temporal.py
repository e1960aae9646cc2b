"""Temporal behaviour: smoothing, hysteresis, label runs, and the segments output of `streamcls run`."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli import run_cli
from videos import decode_all

from streamcls.config import HysteresisConfig, PostprocessConfig, load_config
from streamcls.errors import ConfigError, SinkError
from streamcls.frames import Classified, Frame, Prediction
from streamcls.outputs.segments import SegmentsSink
from streamcls.postprocess import Postprocessor
from streamcls.postprocess.segments import SegmentTracker
from streamcls.postprocess.temporal import EmaSmoother, Hysteresis, WindowSmoother

REPOSITORY = Path(__file__).resolve().parents[1]
CLASSES = ("a", "b", "c")


def classified(index: int, vector, source: str = "s", position_ms: float | None = None, captured_at=None):
    frame = Frame(np.zeros((2, 2, 3), np.uint8), source, index,
                  time.monotonic() if captured_at is None else captured_at, position_ms)
    return Classified(frame, np.asarray(vector, np.float32), 0, 0, 0, 1)


def prediction(index: int, label: str, score: float = 0.9, source: str = "s", position_ms=None, captured_at=0.0):
    return Prediction(source, index, position_ms, ((label, score),), label, score, None, None, 1.0,
                      captured_at=captured_at)


def test_window_is_a_moving_average():
    smoother = WindowSmoother(3)
    outputs = [smoother.update(np.array(v)) for v in ([1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0])]
    assert [round(float(out[1]), 4) for out in outputs] == [0.0, 0.5, 0.6667, 1.0]


def test_ema_weights_the_newest_frame_by_alpha_and_starts_from_the_first():
    smoother = EmaSmoother(0.25)
    outputs = [smoother.update(np.array(v)) for v in ([1.0, 0.0], [0.0, 1.0], [0.0, 1.0])]
    assert outputs[0].tolist() == [1.0, 0.0]
    assert outputs[1].tolist() == pytest.approx([0.75, 0.25])
    assert outputs[2].tolist() == pytest.approx([0.5625, 0.4375])
    assert float(outputs[2].sum()) == pytest.approx(1.0)  # still a probability vector


def test_hysteresis_switches_only_after_a_steady_lead_by_the_margin():
    hysteresis = Hysteresis(HysteresisConfig(margin=0.2, frames=3))
    a, b, close_b = [0.9, 0.1, 0.0], [0.1, 0.9, 0.0], [0.45, 0.55, 0.0]
    sequence = [a, b, b, a, b, b, close_b, close_b, close_b, close_b, b, b, b, b]
    shown = [hysteresis.update(np.array(vector)) for vector in sequence]
    # two frames of b, interrupted: no switch; a lead of 0.1 < margin never counts; the third
    # frame of a clear lead switches.
    assert shown == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]


def test_hysteresis_switches_to_whichever_class_leads_once_the_shown_one_is_beaten():
    hysteresis = Hysteresis(HysteresisConfig(margin=0.1, frames=3))
    a, b, c = [0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]
    # a boundary from a to b with a stray c frame: a is beaten three frames running -> b
    shown = [hysteresis.update(np.array(v)) for v in (a, c, b, b, b)]
    assert shown == [0, 0, 0, 1, 1]


def test_hysteresis_treats_the_threshold_as_a_lead_for_unknown():
    hysteresis = Hysteresis(HysteresisConfig(margin=0.1, frames=2), threshold=0.6)
    weak, strong = [0.5, 0.3, 0.2], [0.9, 0.05, 0.05]
    shown = [hysteresis.update(np.array(v)) for v in (strong, weak, weak, weak, strong, strong)]
    assert shown == [0, 0, None, None, None, 0]


def test_postprocessor_reports_the_shown_label_and_its_smoothed_score():
    config = PostprocessConfig(smoothing="ema", ema_alpha=0.5, hysteresis=HysteresisConfig(margin=0.0, frames=2))
    postprocessor = Postprocessor(CLASSES, config)
    outputs = [postprocessor.predict(classified(i, v)) for i, v in
               enumerate(([1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 1, 0]))]
    assert [p.label for p in outputs] == ["a", "b", "b", "b"]
    # smoothed b: 0.5 (tied with a: no lead yet), 0.75 (first lead), 0.875 (second: switch)
    assert [p.smoothed_label for p in outputs] == ["a", "a", "a", "b"]
    assert [round(p.smoothed_score, 4) for p in outputs] == [1.0, 0.5, 0.25, 0.875]
    off = Postprocessor(CLASSES, PostprocessConfig()).predict(classified(0, [0, 1, 0]))
    assert off.smoothed_label is None and off.shown_label == "b"


def noisy_probabilities(truth: list[int], flicker_every: int, seed: int) -> np.ndarray:
    """Noisy but right most of the time, with a confident wrong frame every few frames."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 0.6, (len(truth), len(CLASSES)))
    logits[np.arange(len(truth)), truth] += 2.0
    for index in range(3, len(truth), flicker_every):
        logits[index] = 0
        logits[index, (truth[index] + 1 + index % 2) % len(CLASSES)] = 4.0  # one confident wrong frame
    exponentials = np.exp(logits)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def runs_of(labels: list[str]) -> list[tuple[str, int, int]]:
    runs: list[tuple[str, int, int]] = []
    for index, label in enumerate(labels):
        if runs and runs[-1][0] == label:
            runs[-1] = (label, runs[-1][1], index + 1)
        else:
            runs.append((label, index, index + 1))
    return runs


# The lag a boundary may have: half the averaging span, the margin, then 3 frames of hysteresis.
@pytest.mark.parametrize("smoothing, most_frames_late", [("window", 7), ("ema", 5)])
def test_flickers_are_suppressed_and_boundaries_stay_close(smoothing, most_frames_late):
    boundaries = [(0, 37, 0), (37, 90, 1), (90, 121, 2), (121, 180, 0), (180, 230, 2)]
    truth = [label for start, end, label in boundaries for _ in range(start, end)]
    probabilities = noisy_probabilities(truth, flicker_every=7, seed=1)
    config = PostprocessConfig(smoothing=smoothing, window=5, ema_alpha=0.5,
                               hysteresis=HysteresisConfig(margin=0.1, frames=3))
    postprocessor = Postprocessor(CLASSES, config)
    predictions = [postprocessor.predict(classified(i, p, position_ms=i * 40.0)) for i, p in enumerate(probabilities)]
    raw_runs = runs_of([p.label for p in predictions])
    shown_runs = runs_of([p.smoothed_label for p in predictions])
    # The raw labels do flicker (the test would catch a smoother that did nothing) ...
    assert sum(1 for _, start, end in raw_runs if end - start == 1) >= 20
    # ... the shown ones have exactly the true runs, each boundary a few frames late at most.
    assert [label for label, _, _ in shown_runs] == [CLASSES[label] for _, _, label in boundaries]
    for (_, start, _), (true_start, _, _) in zip(shown_runs, boundaries):
        assert 0 <= start - true_start <= most_frames_late, (shown_runs, boundaries)
    assert min(end - start for _, start, end in shown_runs) >= 3


def test_run_tracker_gives_half_open_runs_with_mean_scores():
    tracker = SegmentTracker()
    labels = ["a", "a", "b", "b", "b", "a"]
    closed = []
    for index, label in enumerate(labels):
        closed += tracker.add(prediction(index, label, score=0.5 + index / 10, position_ms=index * 40.0))
    closed += tracker.finish()
    records = [run.as_record() for run in closed]
    assert [(r["label"], r["start_frame"], r["end_frame"], r["frames"]) for r in records] == \
        [("a", 0, 2, 2), ("b", 2, 5, 3), ("a", 5, 6, 1)]
    assert [(r["start_s"], r["end_s"]) for r in records] == [(0.0, 0.08), (0.08, 0.2), (0.2, 0.24)]
    assert records[1]["mean_score"] == pytest.approx((0.7 + 0.8 + 0.9) / 3)


def test_run_tracker_splits_a_live_gap_and_keeps_sources_apart():
    tracker = SegmentTracker(max_gap_s=1.0)
    closed = []
    # source x: 10 fps, then a 5 s reconnect gap, same label; source y interleaved, steady.
    times = [0.0, 0.1, 0.2, 5.2, 5.3]
    for index, moment in zip([0, 1, 2, 3, 4], times):
        closed += tracker.add(prediction(index, "a", source="x", captured_at=100 + moment))
        closed += tracker.add(prediction(index, "b", source="y", captured_at=200 + index * 0.1))
    closed += tracker.finish()
    by_source = {}
    for run in closed:
        by_source.setdefault(run.source_id, []).append((run.label, run.start_frame, run.end_frame,
                                                         round(run.start_s, 3), round(run.end_s, 3)))
    assert by_source["x"] == [("a", 0, 3, 0.0, 0.3), ("a", 3, 5, 5.2, 5.4)]
    assert by_source["y"] == [("b", 0, 5, 0.0, 0.5)]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_segments_sink_writes_each_format_and_is_readable_mid_run(tmp_path, suffix):
    path = tmp_path / f"segments{suffix}"
    sink = SegmentsSink(path)
    sink.REWRITE_INTERVAL_S = 0.0  # rewrite the .json document at every closed run
    for index, label in enumerate(["a"] * 3 + ["b"] * 2):
        sink.write(None, prediction(index, label, position_ms=index * 40.0))
    middle = read_segments_file(path)  # the file is complete before the end: "a" has closed
    assert [(r["label"], int(r["start_frame"]), int(r["end_frame"])) for r in middle] == [("a", 0, 3)]
    sink.close()
    sink.close()  # idempotent
    final = read_segments_file(path)
    assert [(r["label"], int(r["start_frame"]), int(r["end_frame"])) for r in final] == [("a", 0, 3), ("b", 3, 5)]
    assert {key for key in final[0]} == set(SegmentsSink.FIELDS)
    assert not list(tmp_path.glob(".*partial"))


def read_segments_file(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    if path.suffix == ".json":
        return json.loads(path.read_text())["segments"]
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_segments_sink_refuses_a_bad_suffix_and_a_missing_folder(tmp_path):
    with pytest.raises(SinkError, match=r"received suffix '.txt'; expected .csv, .json or .jsonl"):
        SegmentsSink(tmp_path / "segments.txt")
    with pytest.raises(SinkError, match="does not exist"):
        SegmentsSink(tmp_path / "missing" / "segments.csv")


@pytest.mark.parametrize("key, value, message", [
    ("postprocess.smoothing", "median", "expected one of none, window, ema"),
    ("postprocess.ema_alpha", 0, r"ema_alpha: received 0.0; expected a weight in \(0, 1\]"),
    ("postprocess.window", 0, "postprocess.window: received 0"),
    ("postprocess.hysteresis.frames", 0, "postprocess.hysteresis.frames: received 0"),
    ("postprocess.hysteresis.margin", 1.5, "postprocess.hysteresis.margin: received 1.5"),
    ("postprocess.smoothing_window", 5, "postprocess.smoothing_window: unknown key"),
])
def test_temporal_config_is_checked(key, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, {key: value})


def clip_with_flickers(tmp_path: Path, flicker_at: dict[int, int]) -> Path:
    """The demo clip with single frames replaced by frames of another segment (one-frame flickers)."""
    frames = decode_all(REPOSITORY / "samples" / "demo-clip.mp4")
    height, width = frames[0].shape[:2]
    path = tmp_path / "flickers.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (width, height))
    for index, image in enumerate(frames):
        writer.write(frames[flicker_at.get(index, index)])
    writer.release()
    return path


def test_run_writes_steady_segments_on_a_clip_with_known_segments(tmp_path):
    """One-frame flickers spliced into the demo clip show in the raw labels and never in the shown ones;
    the segments output matches the clip's labelled segments within a few frames."""
    truth = [(int(row["start_frame"]), int(row["end_frame"]), row["label"])
             for row in csv.DictReader((REPOSITORY / "samples" / "demo-clip.csv").open())]
    # mid-segment frames replaced by a frame of the next segment (another class each time)
    flicker_at = {start + 20: (end + 20) % 240 for start, end, _ in truth}
    clip = clip_with_flickers(tmp_path, flicker_at)
    config = tmp_path / "steady.yaml"
    config.write_text("postprocess:\n  smoothing: ema\n  ema_alpha: 0.5\n  hysteresis:\n    margin: 0.2\n"
                      "    frames: 3\n")
    result = run_cli("run", "--model", str(REPOSITORY / "samples" / "demo-bundle"), "--source", str(clip),
                     "--config", str(config), "--no-display", "--predictions", str(tmp_path / "p.jsonl"),
                     "--segments", str(tmp_path / "segments.json"))
    assert result.returncode == 0, result.stderr
    assert "segments    6 runs of one label" in result.stdout
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(rows) == 240
    label_of = {index: label for start, end, label in truth for index in range(start, end)}
    flickered = [index for index in flicker_at if rows[index]["label"] != label_of[index]]
    assert len(flickered) >= 5, "the spliced frames should flicker in the raw labels"
    assert min(end - start for _, start, end in runs_of([row["smoothed_label"] for row in rows])) >= 3
    segments = json.loads((tmp_path / "segments.json").read_text())["segments"]
    assert [segment["label"] for segment in segments] == [label for _, _, label in truth]
    for segment, (start, end, _) in zip(segments, truth):
        assert 0 <= segment["start_frame"] - start <= 4
        assert segment["start_s"] == pytest.approx(segment["start_frame"] / 25.0)
    assert segments[-1]["end_frame"] == 240 and segments[-1]["end_s"] == pytest.approx(9.6)
    assert all(a["end_frame"] == b["start_frame"] for a, b in zip(segments, segments[1:]))
