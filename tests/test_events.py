"""Events: the rules on hand-made sequences, then the real pipeline on the demo clip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli import run_cli
from fakes import FakeClassifier, FakeSource

import streamcls
from streamcls.config import EventsConfig, LabelRuleConfig, load_config
from streamcls.errors import ConfigError
from streamcls.frames import Prediction
from streamcls.pipeline import Pipeline
from streamcls.postprocess.events import EventProducer

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
DEMO = {"model.bundle": str(SAMPLES / "demo-bundle"), "source.uri": str(SAMPLES / "demo-clip.mp4"),
        "postprocess.smoothing": "ema", "postprocess.ema_alpha": 0.5,
        "postprocess.hysteresis": {"margin": 0.2, "frames": 3}, "events.min_duration_s": 0.4,
        "output.display": False, "output.progress": False}
# What the demo clip's six 40-frame segments give under these settings: each boundary 3 frames late.
DEMO_EVENTS = [("triangle", 0, None), ("circle", 43, "triangle"), ("square", 83, "circle"),
               ("circle", 123, "square"), ("triangle", 163, "circle"), ("square", 203, "triangle")]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _predictions(labels: str, source: str = "cam", fps: float = 10.0, scores: list[float] | None = None,
                 live: bool = False) -> list[Prediction]:
    """One prediction per letter (a, b, c... are labels), ``fps`` apart, files by position."""
    predictions = []
    for index, letter in enumerate(labels):
        score = scores[index] if scores else 0.9
        seconds = index / fps
        predictions.append(Prediction(
            source_id=source, frame_index=index, position_ms=None if live else seconds * 1000,
            top_k=((letter, score),), label=letter, score=score, smoothed_label=None, smoothed_score=None,
            latency_ms=0.0, captured_at=1000.0 + seconds if live else None))
    return predictions


def _events(rules: EventsConfig, labels: str, **options) -> list[tuple[str, int, str | None]]:
    producer = EventProducer(rules, clock=options.pop("clock", Clock()))
    found = []
    for prediction in _predictions(labels, **options):
        found += [(event.label, event.start_frame, event.previous_label) for event in producer.update(prediction)]
    return found


def test_a_blip_shorter_than_the_minimum_duration_fires_nothing():
    rules = EventsConfig(min_duration_s=0.3)  # still shown 0.3 s (3 frames at 10 fps) after it started
    assert _events(rules, "aaaaabbaaaaacccccaaaa") == [("a", 0, None), ("c", 12, "a"), ("a", 17, "c")]
    assert _events(rules, "aaaaabbbaaaa") == [("a", 0, None)]  # 3 frames of b: gone before 0.3 s had passed


def test_an_event_is_emitted_once_the_new_label_has_lasted_long_enough():
    producer = EventProducer(EventsConfig(min_duration_s=0.3), clock=Clock())
    emitted_at = {}
    for prediction in _predictions("aaaaabbbbbb"):
        for event in producer.update(prediction):
            emitted_at[event.label] = prediction.frame_index
    assert emitted_at == {"a": 3, "b": 8}  # the frame at which 0.3 s of the new label had passed


def test_rules_allow_deny_score_and_per_label():
    assert _events(EventsConfig(min_duration_s=0, labels=("b",)), "aabbccbb") == [("b", 2, "a"), ("b", 6, "c")]
    assert _events(EventsConfig(min_duration_s=0, ignore=("c",)), "aabbccbb") == \
        [("a", 0, None), ("b", 2, "a"), ("b", 6, "c")]  # c is confirmed but silent: b's previous label is c
    low = [0.9, 0.9, 0.4, 0.4, 0.9, 0.9, 0.4, 0.9, 0.9, 0.9]
    producer = EventProducer(EventsConfig(min_duration_s=0.1, min_score=0.5), clock=Clock())
    found = [(e.label, e.start_frame) for p in _predictions("aabbaacccc", scores=low) for e in producer.update(p)]
    # b never reaches 0.5 and a carries on unbroken; c's mean passes 0.5 at its third frame.
    assert found == [("a", 0), ("c", 6)]
    assert producer.counts.as_record() == {"emitted": 2, "suppressed": {"min_score": 1}}
    per_label = EventsConfig(min_duration_s=0, per_label=(LabelRuleConfig("b", min_duration_s=0.35),))
    assert _events(per_label, "aabbbaabbbbbcc") == [("a", 0, None), ("b", 7, "a"), ("c", 12, "b")]
    assert _events(EventsConfig(min_duration_s=0, first_label=False), "aabb") == [("b", 2, "a")]


def test_cooldown_per_source_and_label():
    rules = EventsConfig(min_duration_s=0, cooldown_s=1.0)
    # b at 0.2 s, back to a, b again at 0.6 s (inside b's cool-down), then at 1.4 s (outside).
    assert _events(rules, "aabbaabbaaaaaabb") == [("a", 0, None), ("b", 2, "a"), ("b", 14, "a")]


def test_global_rate_limit_counts_what_it_suppresses():
    clock = Clock()
    producer = EventProducer(EventsConfig(min_duration_s=0, max_per_minute=3), clock=clock)
    labels = []
    for prediction in _predictions("abababab"):
        labels += [event.label for event in producer.update(prediction)]
    assert labels == ["a", "b", "a"]
    assert producer.counts.as_record() == {"emitted": 3, "suppressed": {"rate_limit": 5}}
    clock.now += 61  # a minute later the window has room again
    assert [e.label for e in producer.update(_predictions("b" * 9 + "x")[9])] == ["x"]


def test_event_ids_are_stable_for_files_and_unique_for_live_sources():
    def ids(live: bool) -> list[str]:
        producer = EventProducer(EventsConfig(min_duration_s=0), live=frozenset({"cam"} if live else ()),
                                 clock=Clock())
        return [event.event_id for prediction in _predictions("aabb", live=live)
                for event in producer.update(prediction)]

    assert ids(False) == ids(False) and len(set(ids(False))) == 2
    live = ids(True)
    assert len(set(live)) == 2 and set(live).isdisjoint(ids(False))


def test_live_events_carry_wall_clock_time_and_the_previous_run():
    producer = EventProducer(EventsConfig(min_duration_s=0.2), live=frozenset({"cam"}), clock=Clock())
    events = [event for prediction in _predictions("aaaabbbbb", live=True, fps=10)
              for event in producer.update(prediction)]
    first, second = events
    assert first.start_time is not None and first.start_time.endswith("Z") and "T" in first.start_time
    assert (second.previous_label, second.previous_start_frame, second.previous_end_frame) == ("a", 0, 4)
    assert second.previous_duration_s == pytest.approx(0.4)
    assert second.start_s == pytest.approx(0.4)


def test_snapshot_is_a_small_jpeg_of_the_frame_that_started_the_label():
    import cv2

    producer = EventProducer(EventsConfig(min_duration_s=0, snapshot=True, snapshot_width=64), clock=Clock())
    image = np.zeros((240, 320, 3), np.uint8)
    image[:, 160:] = (0, 0, 255)  # right half red
    (event,) = producer.update(_predictions("a")[0], image)
    decoded = cv2.imdecode(np.frombuffer(event.snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape == (48, 64, 3)
    assert decoded[:, 40:, 2].mean() > 200 and decoded[:, :24, 2].mean() < 30
    assert "snapshot_jpeg" in event.as_record() and "snapshot_jpeg" not in event.as_record(snapshot=False)


def test_bad_rules_are_refused_with_the_key():
    with pytest.raises(ConfigError, match=r"events.ignore: a also listed in labels"):
        load_config(None, {"events.labels": ["a"], "events.ignore": ["a"]})
    with pytest.raises(ConfigError, match=r"events.per_label\[0\].min_score: received 2.0; expected 0.0 to 1.0"):
        load_config(None, {"events.per_label": [{"label": "a", "min_score": 2}]})
    with pytest.raises(ConfigError, match=r"sources\[0\].events.min_duration_s: received -1.0"):
        load_config(None, {"sources": [{"uri": "a.mp4", "events": {"min_duration_s": -1}}]})


# -- the real pipeline -------------------------------------------------------------------------

def test_the_demo_clip_gives_its_six_label_changes_as_events(tmp_path):
    seen = []
    config = load_config(None, {**DEMO, "output.sinks": [{"kind": "events", "path": str(tmp_path / "e.jsonl")}]})
    with Pipeline(config, on_event=seen.append) as pipeline:
        predictions = list(pipeline)
        summary = pipeline.summary()
    assert [(e.label, e.start_frame, e.previous_label) for e in seen] == DEMO_EVENTS
    records = [json.loads(line) for line in (tmp_path / "e.jsonl").read_text().splitlines()]
    assert [record["event_id"] for record in records] == [event.event_id for event in seen]
    assert len(set(record["event_id"] for record in records)) == 6
    assert records[1]["previous_start_frame"] == 0 and records[1]["previous_end_frame"] == 43
    assert records[1]["start_s"] == pytest.approx(43 / 25) and records[1]["start_time"] is None
    shown = [p.shown_label for p in predictions]
    for event in seen:  # each event starts where the shown label changed
        assert shown[event.start_frame] == event.label
        assert event.start_frame == 0 or shown[event.start_frame - 1] != event.label
    assert summary.events == {"emitted": 6, "suppressed": {}}


def test_events_per_source_with_their_own_rules():
    config = load_config(None, {"output.display": False, "output.progress": False, "events.min_duration_s": 0,
                                "sources": [{"uri": "a", "id": "a"},
                                            {"uri": "b", "id": "b", "events": {"labels": ["c3"], "min_duration_s": 0}}]})
    seen = []
    sources = [FakeSource(5, source_id="a"), FakeSource(5, source_id="b")]
    with Pipeline(config, classifier=FakeClassifier(), sources=sources, on_event=seen.append) as pipeline:
        list(pipeline)
    # FakeClassifier labels frame i of an untagged source c<i>: every frame is a new label.
    assert [(e.source_id, e.label) for e in seen if e.source_id == "a"] == [("a", f"c{i}") for i in range(5)]
    assert [(e.source_id, e.label) for e in seen if e.source_id == "b"] == [("b", "c3")]


def test_no_events_are_made_when_nobody_takes_them():
    config = load_config(None, {**DEMO, "output.max_frames": 20})
    with Pipeline(config) as pipeline:
        list(pipeline)
        assert pipeline.summary().events is None


def test_the_short_api_gives_events_beside_predictions(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("postprocess: {smoothing: ema, ema_alpha: 0.5, hysteresis: {margin: 0.2, frames: 3}}\n"
                      "events: {min_duration_s: 0.4}\n")
    seen, frames_at_event = [], []
    for prediction in streamcls.stream(str(SAMPLES / "demo-clip.mp4"), model=str(SAMPLES / "demo-bundle"),
                                       config=config, on_event=lambda event: seen.append(event)):
        if len(seen) > len(frames_at_event):
            frames_at_event.append(prediction.frame_index)
    assert [(e.label, e.start_frame, e.previous_label) for e in seen] == DEMO_EVENTS
    assert frames_at_event[1] == 43 + 10  # confirmed 0.4 s (10 frames) into the new label


def test_the_cli_writes_events_and_counts_them(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("postprocess: {smoothing: ema, ema_alpha: 0.5, hysteresis: {margin: 0.2, frames: 3}}\n"
                      "events: {min_duration_s: 0.4, ignore: [circle]}\n")
    events, summary = tmp_path / "events.jsonl", tmp_path / "summary.json"
    result = run_cli("run", "--source", SAMPLES / "demo-clip.mp4", "--model", SAMPLES / "demo-bundle", "--no-display",
                     "--config", config, "--events", events, "--json-summary", summary)
    assert result.returncode == 0, result.stderr
    labels = [json.loads(line)["label"] for line in events.read_text().splitlines()]
    assert labels == ["triangle", "square", "triangle", "square"]
    assert json.loads(summary.read_text())["events"] == {"emitted": 4, "suppressed": {"label": 2}}
    assert "events      4 emitted; suppressed: 2 by label" in result.stdout


class ProbeSink:
    """A sink of the user's whose module says, through ``preflight``, whether its receiver answers."""

    needs_image = False

    def __init__(self, settings):
        self.settings = settings

    def write(self, image, prediction):
        pass

    def write_event(self, event):
        pass

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def preflight(settings):
    """What doctor asks the module of a configured sink (here, this test module)."""
    if settings.options.get("fail"):
        return [f"receiver {settings.options['url']} does not answer (connection refused); start it"]
    return []


def test_doctor_asks_each_configured_output_whether_it_will_work():
    from streamcls.doctor import Status, collect

    config = load_config(None, {"output.display": False, "source.uri": str(SAMPLES / "demo-clip.mp4"),
                                "model.bundle": str(SAMPLES / "demo-bundle"), "output.sinks": [
                                    {"kind": "test_events:ProbeSink", "options": {"url": "http://good"}},
                                    {"kind": "test_events:ProbeSink",
                                     "options": {"url": "http://user:s3cr3t@bad", "fail": True}}]})
    report = collect(config, probe_timeout_s=0.5)
    outputs = [check for check in report.checks if check.name.startswith("output ")]
    assert [(check.status, check.value) for check in outputs] == [
        (Status.OK, "http://good answers"),
        (Status.PROBLEM, "receiver http://user:***@bad does not answer (connection refused)")]
    assert outputs[1].fix == "start it" and report.exit_code == 1
