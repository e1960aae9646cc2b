"""Event clips: the demo clip through the real pipeline, overlapping events, the ring's bound, an interrupted
run, bad folders and options, and the CLI.

Frames written straight to the sink are painted with their index (grey level 5 * index), so a clip's
first and last frames say which moments it holds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli import run_cli
from fakes import NUM_CLASSES, FakeClassifier, FakeSource
from videos import decode_all

from streamcls.config import load_config
from streamcls.errors import ConfigError, SinkError
from streamcls.frames import Event, Prediction
from streamcls.outputs.clips import ClipsOptions, ClipsSink, clip_name
from streamcls.outputs.open import file_safe
from streamcls.outputs.sink import SinkSettings
from streamcls.pipeline import Pipeline

REPOSITORY = Path(__file__).resolve().parent.parent
DEMO_CLIP = REPOSITORY / "samples" / "demo-clip.mp4"
DEMO_BUNDLE = REPOSITORY / "samples" / "demo-bundle"
POSTPROCESS = {"smoothing": "ema", "ema_alpha": 0.5, "hysteresis": {"margin": 0.2, "frames": 3}}


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


# -- the demo clip through the real pipeline ----------------------------------------------


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """Six events of the demo clip (one per 40-frame segment), each with a 0.4 s + 0.8 s clip."""
    folder = tmp_path_factory.mktemp("clips")
    events_file = tmp_path_factory.mktemp("events") / "events.jsonl"
    config = load_config(None, {
        "model.bundle": str(DEMO_BUNDLE), "source.uri": str(DEMO_CLIP),
        "output.display": False, "output.progress": False,
        "postprocess": POSTPROCESS, "events": {"min_duration_s": 0.4},
        "output.sinks": [{"kind": "clips", "path": str(folder), "options": {"pre_s": 0.4, "post_s": 0.8}},
                         {"kind": "events", "path": str(events_file)}],
    })
    with Pipeline(config) as pipeline:
        for _ in pipeline:
            pass
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    return folder, events


def test_each_event_of_the_demo_clip_gets_its_named_clip(demo_run):
    folder, events = demo_run
    assert [event["label"] for event in events] == ["triangle", "circle", "square", "circle", "triangle", "square"]
    source = file_safe(str(DEMO_CLIP))
    expected = [f"{source}-t{event['start_s']:08.3f}-{event['label']}.mp4" for event in events]
    assert expected[1].endswith("-t0001.720-circle.mp4")
    assert files_in(folder) == sorted(expected)  # no .partial files, no codec check left over
    assert [Path(event["clip"]) for event in events] == [folder.resolve() / name for name in expected]


def test_each_demo_clip_holds_pre_s_before_its_event_to_post_s_after(demo_run):
    folder, events = demo_run
    source_frames = decode_all(DEMO_CLIP)
    for event in events:
        frames = decode_all(Path(event["clip"]))
        start = event["start_frame"]
        first = max(0, start - 10)  # 0.4 s at 25 fps before; the first event, at frame 0, has none
        assert len(frames) == start + 20 - first, event["clip"]  # up to 0.8 s after the event's first frame
        assert frames[0].shape == source_frames[0].shape  # 320 px wide: under the 640 px limit, kept as it is
        middle = len(frames) // 2
        # The bottom half (the overlay's panel is at the top) matches the source at the same moment, and
        # no source frame more than 2 frames away matches it better: a clip of the wrong moment fails.
        differences = [np.abs(frames[middle][120:].astype(int) - source[120:].astype(int)).mean()
                       for source in source_frames]
        assert differences[first + middle] < 6, (event["clip"], differences[first + middle])
        assert abs(int(np.argmin(differences)) - (first + middle)) <= 2, event["clip"]


# -- overlapping events on one source ------------------------------------------------------


class StepClassifier(FakeClassifier):
    """Class ``c{step(index)}`` for frame ``index``: labels that change when the test says."""

    def __init__(self, step):
        super().__init__()
        self.step = step

    def classify(self, images: np.ndarray) -> np.ndarray:
        indices = np.rint((images[:, 0, 0, 2] + 1) * 127.5).astype(int)  # FakeSource paints index % 256
        probabilities = np.full((len(images), NUM_CLASSES), 0.1 / (NUM_CLASSES - 1), np.float32)
        probabilities[np.arange(len(images)), [self.step(index) for index in indices]] = 0.9
        return probabilities


def test_an_event_while_a_clip_is_open_extends_it_and_a_later_one_starts_a_new_clip(tmp_path):
    # A new label every 10 frames (0.4 s) up to frame 59, then one more at frame 120: with 0.2 s before
    # and 0.8 s after, each of the first six events is confirmed (0.2 s after its start) while the clip
    # is still open, so one clip, extended; the seventh comes long after it closed.
    events_file = tmp_path / "events.jsonl"
    folder = tmp_path / "clips"
    folder.mkdir()
    config = load_config(None, {
        "output.display": False, "output.progress": False, "events": {"min_duration_s": 0.2},
        "output.sinks": [{"kind": "clips", "path": str(folder), "options": {"pre_s": 0.2, "post_s": 0.8}},
                         {"kind": "events", "path": str(events_file)}],
    })
    classifier = StepClassifier(lambda index: min(index // 10, 5) if index < 120 else 6)
    with Pipeline(config, classifier=classifier, source=FakeSource(150, source_id="yard")) as pipeline:
        for _ in pipeline:
            pass
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert [event["start_frame"] for event in events] == [0, 10, 20, 30, 40, 50, 120]
    first, second = "yard-t0000.000-c0.mp4", "yard-t0004.800-c6.mp4"
    assert [Path(event["clip"]).name for event in events] == [first] * 6 + [second]
    assert files_in(folder) == [first, second]
    assert len(decode_all(folder / first)) == 70  # frames 0 to 69: until 0.8 s after the event at frame 50
    assert len(decode_all(folder / second)) == 25  # frames 115 to 139


# -- the sink on its own: painted frames ---------------------------------------------------


def painted(index: int, width: int = 64, height: int = 48) -> np.ndarray:
    return np.full((height, width, 3), 5 * index, np.uint8)


def prediction(index: int, label: str, source: str = "cam") -> Prediction:
    return Prediction(source, index, index * 40.0, ((label, 0.9),), label, 0.9, None, None, 1.0)


def event(index: int, label: str, source: str = "cam", start_time: str | None = None) -> Event:
    return Event(f"e{index}", source, label, 0.9, index, index * 0.04, start_time, None, None, None, None,
                 "2026-12-01T00:00:00.000Z")


def grey(frame: np.ndarray) -> float:
    return float(frame.mean())


def run_until_interrupted(sink: ClipsSink) -> Event:
    """Label a on frames 0-19, b from frame 20; the event for b is confirmed at frame 30; stop at frame 39."""
    for index in range(30):
        sink.write(painted(index), prediction(index, "a" if index < 20 else "b"))
    completed = sink.prepare_event(event(20, "b"))
    sink.write_event(completed)
    for index in range(30, 40):
        sink.write(painted(index), prediction(index, "b"))
    sink.close()
    return completed


def test_closing_mid_clip_leaves_a_whole_file_with_the_frames_so_far(tmp_path):
    sink = ClipsSink(tmp_path, ClipsOptions(pre_s=0.2, post_s=5.0))
    completed = run_until_interrupted(sink)
    assert completed.clip == str(tmp_path.resolve() / "cam-t0000.800-b.mp4")
    assert files_in(tmp_path) == ["cam-t0000.800-b.mp4"]  # renamed into place; no .partial left
    frames = decode_all(Path(completed.clip))
    assert len(frames) == 25  # frames 15 (0.2 s before frame 20) to 39, where the run stopped
    assert grey(frames[0]) == pytest.approx(75, abs=3) and grey(frames[-1]) == pytest.approx(195, abs=3)
    assert (sink.clips, sink.frames_written, sink.frames_dropped) == (1, 25, 0)


def test_the_ring_holds_at_most_max_frames_in_memory_and_counts_what_a_clip_lacked(tmp_path, caplog):
    sink = ClipsSink(tmp_path, ClipsOptions(pre_s=0.2, post_s=5.0, max_frames_in_memory=4))
    completed = run_until_interrupted(sink)
    frames = decode_all(Path(completed.clip))
    assert len(frames) == 14  # frames 26-29 from the ring, then 30-39
    assert grey(frames[0]) == pytest.approx(130, abs=3)
    assert sink.frames_dropped == 11  # frames 15-25 were wanted but pushed out
    assert "lacks 11 frames before its event" in caplog.text


def test_the_clip_is_downscaled_to_width_with_even_sides(tmp_path):
    sink = ClipsSink(tmp_path, ClipsOptions(pre_s=0.0, post_s=0.2, width=40))
    for index in range(3):
        sink.write(painted(index, 101, 77), prediction(index, "a"))
    sink.write_event(sink.prepare_event(event(0, "a")))
    for index in range(3, 10):
        sink.write(painted(index, 101, 77), prediction(index, "a"))
    sink.close()
    frames = decode_all(tmp_path / "cam-t0000.000-a.mp4")
    assert len(frames) == 5 and frames[0].shape == (30, 40, 3)


def test_a_live_clip_is_named_by_its_wall_clock_start_and_a_file_clip_by_position():
    assert clip_name(event(0, "truck", "door", "2026-12-01T00:55:01.123Z")) == "door-20261201T005501.123Z-truck.mp4"
    assert clip_name(event(312, "circle", "clip.mp4")) == "clip.mp4-t0012.480-circle.mp4"
    assert clip_name(event(0, "a/b c", "rtsp://user:pw@cam/1")) == "rtsp_cam_1-t0000.000-a_b_c.mp4"


def test_closing_twice_and_closing_without_events_write_nothing(tmp_path):
    with ClipsSink(tmp_path) as sink:
        sink.write(painted(0), prediction(0, "a"))
    sink.close()
    assert files_in(tmp_path) == [] and sink.clips == 0


# -- refusals --------------------------------------------------------------------------------


def test_a_missing_folder_or_a_file_is_refused_in_one_line(tmp_path):
    with pytest.raises(SinkError) as missing:
        ClipsSink(tmp_path / "nope")
    assert str(missing.value) == (f"clips folder {str(tmp_path / 'nope')!r} does not exist; "
                                  f"create it or choose another folder")
    (tmp_path / "file").write_text("x")
    with pytest.raises(SinkError, match="is not a folder; create it or choose another folder"):
        ClipsSink(tmp_path / "file")


def test_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    import streamcls.outputs.clips as clips

    # chmod does not stop root, who runs CI here: ask os.access as the sink does, answering as for a user.
    monkeypatch.setattr(clips.os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(SinkError) as read_only:
        ClipsSink(tmp_path)
    assert str(read_only.value) == f"clips folder {str(tmp_path)!r} is not writable; choose another folder"


@pytest.mark.parametrize(("options", "message"), [
    ({"pre_s": -1}, "output.sinks[].options.pre_s: received -1; expected seconds from 0 to 3600"),
    ({"post_s": "5"}, "output.sinks[].options.post_s: received '5'; expected seconds from 0 to 3600"),
    ({"max_frames_in_memory": 0},
     "output.sinks[].options.max_frames_in_memory: received 0; expected a whole number from 1 to 100000"),
    ({"width": 12.5}, "output.sinks[].options.width: received 12.5; expected a whole number from 16 to 7680"),
    ({"codec": "h264x"},
     "output.sinks[].options.codec: received 'h264x'; expected auto or a four-character FourCC such as mp4v"),
    ({"pre": 1},
     "output.sinks[].options.pre: unknown option of clips; expected pre_s, post_s, max_frames_in_memory, codec, "
     "width"),
])
def test_bad_options_are_refused_with_their_key(tmp_path, options, message):
    with pytest.raises(ConfigError) as refused:
        ClipsSink.from_settings(SinkSettings("clips", str(tmp_path), options))
    assert str(refused.value) == message


def test_the_clips_kind_needs_a_folder():
    with pytest.raises(ConfigError, match="kind clips writes a file; give it a path"):
        ClipsSink.from_settings(SinkSettings("clips"))


# -- the CLI ---------------------------------------------------------------------------------


def test_run_clips_writes_the_clips_its_events_name(tmp_path):
    folder, events_file, config = tmp_path / "clips", tmp_path / "events.jsonl", tmp_path / "run.yaml"
    folder.mkdir()
    config.write_text(json.dumps({"postprocess": POSTPROCESS, "events": {"min_duration_s": 0.4}}))
    result = run_cli("run", "--source", DEMO_CLIP, "--model", DEMO_BUNDLE, "--no-display", "--clips", folder,
                     "--events", events_file, "--config", config)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert len(events) == 6
    # 5 s before and after (the defaults): every event comes while the first clip is open, so one clip, extended.
    assert {Path(event["clip"]).name for event in events} == set(files_in(folder))
    assert files_in(folder) == [f"{file_safe(str(DEMO_CLIP))}-t0000.000-triangle.mp4"]
    assert len(decode_all(folder / files_in(folder)[0])) == 240  # the whole 9.6 s clip

    missing = run_cli("run", "--source", DEMO_CLIP, "--model", DEMO_BUNDLE, "--no-display",
                      "--clips", tmp_path / "nope")
    assert missing.returncode == 6
    assert f"clips folder {str(tmp_path / 'nope')!r} does not exist" in missing.stderr


def test_a_codec_opencv_cannot_write_fails_in_one_line_at_the_first_clip(tmp_path):
    sink = ClipsSink(tmp_path, ClipsOptions(pre_s=0.0, post_s=0.2, codec="abcd"))
    sink.write(painted(0), prediction(0, "a"))
    with pytest.raises(SinkError) as refused:
        sink.write_event(sink.prepare_event(event(0, "a")))
    assert str(refused.value) == (f"clips folder {str(tmp_path)!r}: OpenCV cannot write codec abcd here; "
                                  f"set output.sinks[].options.codec to mp4v")
    sink.close()
    assert files_in(tmp_path) == []
