"""The extension points, used as a user would: a sink and a backend written here, in the test.

Each is used through the Python API and through a config key (the config names
them as ``test_extensions:Name``; this folder is on ``sys.path`` under pytest, and
on ``PYTHONPATH`` for the subprocess runs).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from cli import offline_environment, run_cli
from fakes import FakeClassifier, FakeSource, expected_class, frame_with_index

from streamcls.config import load_config
from streamcls.errors import ConfigError, SinkError
from streamcls.model.build import ModelSpec
from streamcls.pipeline import Pipeline
from streamcls.preprocess import PreprocessSpec

TESTS = Path(__file__).resolve().parent


class RecordingSink:
    """A sink of the user's: keeps what it is given, and says when it was entered and left."""

    def __init__(self, needs_image: bool = False):
        self.needs_image = needs_image
        self.records: list[tuple[str, int, str, object]] = []
        self.events: list[str] = []

    def write(self, image, prediction):
        self.records.append((prediction.source_id, prediction.frame_index, prediction.label,
                             None if image is None else image.copy()))

    def close(self):
        self.events.append("close")

    def __enter__(self):
        self.events.append("enter")
        return self

    def __exit__(self, *exc):
        self.close()


class JsonLinesSink:
    """A sink built from a config entry: ``{kind: test_extensions:JsonLinesSink, path: ..., options: {every: N}}``."""

    needs_image = False

    def __init__(self, path: str, every: int):
        self.path, self.every = path, every
        self.handle = None

    @classmethod
    def from_settings(cls, settings):
        return cls(settings.required_path(), int(settings.options.get("every", 1)))

    def write(self, image, prediction):
        assert image is None  # it does not need one: no picture work for it
        if prediction.frame_index % self.every == 0:
            self.handle.write(json.dumps({"source": prediction.source_id, "frame": prediction.frame_index,
                                          "label": prediction.label}) + "\n")

    def close(self):
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    def __enter__(self):
        self.handle = open(self.path, "w", encoding="utf-8")
        return self

    def __exit__(self, *exc):
        self.close()


class FailingSink(RecordingSink):
    """Fails at its third frame, as a full disk or a dead receiver would."""

    @classmethod
    def from_settings(cls, settings):
        return cls()

    def write(self, image, prediction):
        if len(self.records) == 2:
            raise OSError("receiver went away")
        super().write(image, prediction)


class BrightnessClassifier:
    """A backend's classifier: class ``bright`` when the frame's mean is above the middle, else ``dark``."""

    def __init__(self, spec: ModelSpec, batch_size: int):
        self.spec = ModelSpec(alpha=spec.alpha, input_size=spec.input_size, classes=("dark", "bright"))
        self.batch_size = batch_size
        self.preprocess_spec = PreprocessSpec(spec.input_size)
        self.device = "brightness"
        self.calls = 0

    def classify(self, images: np.ndarray) -> np.ndarray:
        self.calls += 1
        bright = (images.reshape(len(images), -1).mean(axis=1) > 0).astype(np.float32)
        return np.stack([1 - bright, bright], axis=1) * 0.8 + 0.1

    def classify_frames(self, frames):
        from streamcls.preprocess import preprocess_batch

        return self.classify(preprocess_batch(frames, self.preprocess_spec))

    def warm_up(self):
        pass


def build_brightness(loaded, inference, calibration, **options):
    """The backend's factory, as the registry calls it."""
    return BrightnessClassifier(loaded.spec, inference.batch_size)


def _small_model_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "run.yaml"
    path.write_text("model:\n  alpha: 0.25\n  input_size: 32x32\n  weights: none\n  head: {kind: dense, "
                    "classes: [dark, bright]}\noutput:\n  display: false\n  progress: false\n" + extra)
    return path


def _bright_dark_video(path: Path, pattern: str) -> Path:
    """A video whose frame i is white where pattern[i] is 'b', black where 'd'."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    for letter in pattern:
        writer.write(np.full((48, 64, 3), 230 if letter == "b" else 20, np.uint8))
    writer.release()
    return path


# -- sinks ------------------------------------------------------------------------------------

def test_a_sink_passed_to_the_pipeline_gets_every_prediction_in_order():
    sinks = [RecordingSink(needs_image=False), RecordingSink(needs_image=True)]
    config = load_config(None, {"output.display": False, "output.progress": False})
    with Pipeline(config, classifier=FakeClassifier(), source=FakeSource(30, source_id="cam"),
                  sinks=sinks) as pipeline:
        assert [sink.events for sink in sinks] == [["enter"], ["enter"]]
        predictions = list(pipeline)
    assert [sink.events for sink in sinks] == [["enter", "close"], ["enter", "close"]]
    for sink in sinks:
        assert [(source, index, label) for source, index, label, _ in sink.records] == \
            [("cam", index, expected_class(index)) for index in range(30)]
    assert [p.frame_index for p in predictions] == list(range(30))
    # No picture for the sink that does not need one; the annotated frame for the one that does.
    assert all(image is None for *_, image in sinks[0].records)
    annotated = sinks[1].records[5][3]
    raw = frame_with_index(5)
    assert annotated.shape == raw.shape and not np.array_equal(annotated, raw)  # the overlay is drawn on it


def test_a_sink_of_the_users_own_through_a_config_key(tmp_path):
    out = tmp_path / "labels.jsonl"
    config = load_config(None, {"output.display": False, "output.progress": False, "output.sinks": [
        {"kind": "test_extensions:JsonLinesSink", "path": str(out), "options": {"every": 3}}]})
    with Pipeline(config, classifier=FakeClassifier(), source=FakeSource(20, source_id="door")) as pipeline:
        list(pipeline)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert records == [{"source": "door", "frame": index, "label": expected_class(index)}
                       for index in range(0, 20, 3)]


def test_a_built_in_kind_through_output_sinks_with_a_source_template(tmp_path):
    config = load_config(None, {"output.display": False, "output.progress": False, "output.sinks": [
        {"kind": "predictions", "path": str(tmp_path / "{source}.jsonl")}]})
    sources = [FakeSource(12, source_id="left", tag=1), FakeSource(7, source_id="right", tag=2)]
    with Pipeline(config, classifier=FakeClassifier(), sources=sources) as pipeline:
        list(pipeline)
    for source_id, count, tag in (("left", 12, 1), ("right", 7, 2)):
        lines = [json.loads(line) for line in (tmp_path / f"{source_id}.jsonl").read_text().splitlines()]
        assert [(r["source"], r["frame_index"], r["label"]) for r in lines] == \
            [(source_id, index, expected_class(index, tag)) for index in range(count)]


def test_a_failing_sink_is_reported_like_any_output_failure():
    failing = FailingSink()
    config = load_config(None, {"output.display": False, "output.progress": False})
    with pytest.raises(SinkError, match=r"output FailingSink failed at frame 2 of cam: OSError: receiver went away"):
        with Pipeline(config, classifier=FakeClassifier(), source=FakeSource(10, source_id="cam"),
                      sinks=[failing]) as pipeline:
            list(pipeline)
    assert failing.events == ["enter", "close"]  # closed even though it failed
    assert [index for _, index, _, _ in failing.records] == [0, 1]


def test_unknown_sink_kinds_are_refused_with_the_registered_ones():
    with pytest.raises(ConfigError, match=r"predictions, segments, video, window"):
        load_config(None, {"output.sinks": [{"kind": "mqtt-ish", "path": "x"}]})
    with pytest.raises(ConfigError, match="test_extensions.*NoSuchSink"):
        load_config(None, {"output.sinks": [{"kind": "test_extensions:NoSuchSink"}]})


# -- backends -------------------------------------------------------------------------------

def test_a_backend_of_the_users_own_through_a_config_key(tmp_path):
    video = _bright_dark_video(tmp_path / "clip.avi", "ddddbbbbbbdddbbb")
    config = load_config(_small_model_config(tmp_path), {"source.uri": str(video),
                                                         "inference.backend": "test_extensions:build_brightness"})
    with Pipeline(config) as pipeline:
        labels = "".join(prediction.label[0] for prediction in pipeline)
        summary = pipeline.summary()
    assert labels == "ddddbbbbbbdddbbb"
    assert summary.device == "brightness" and summary.frames_processed == 16


def test_a_backend_of_the_users_own_through_the_api_and_the_cli(tmp_path):
    import streamcls

    video = _bright_dark_video(tmp_path / "clip.avi", "bbddb")
    model = streamcls.load(config=_small_model_config(tmp_path), model=None,
                           backend="test_extensions:build_brightness")
    assert isinstance(model.classifier, BrightnessClassifier)
    pictures = [np.full((10, 10, 3), value, np.uint8) for value in (0, 255, 255, 0)]
    assert [prediction.label for prediction in model.classify(pictures)] == ["dark", "bright", "bright", "dark"]
    assert [prediction.label for prediction in streamcls.stream(str(video), model=model)] == \
        ["bright", "bright", "dark", "dark", "bright"]

    predictions = tmp_path / "p.jsonl"
    environment = offline_environment(PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    result = run_cli("run", "--config", _small_model_config(tmp_path), "--source", video,
                     "--backend", "test_extensions:build_brightness", "--predictions", predictions,
                     env=environment, timeout=180)
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["label"] for line in predictions.read_text().splitlines()] == \
        ["bright", "bright", "dark", "dark", "bright"]
    assert "device brightness" in result.stdout


def test_a_backend_that_does_not_exist_fails_before_anything_loads(tmp_path):
    with pytest.raises(ConfigError, match=r"inference.backend: .*test_extensions.*no_such_factory"):
        load_config(None, {"inference.backend": "test_extensions:no_such_factory"})
    with pytest.raises(ConfigError, match=r"expected one of keras, tflite, tflite-float16, tflite-dynamic, "
                                          r"tflite-int8"):
        load_config(None, {"inference.backend": "onnx"})


def test_the_registry_is_the_one_list_of_names():
    """CLI choices, bench and config read the registry: a name added there is accepted everywhere."""
    from streamcls.benchmark.points import BACKENDS as bench_backends
    from streamcls.config.names import BACKENDS, SINKS

    assert tuple(BACKENDS) == bench_backends
    assert set(SINKS) >= {"predictions", "segments", "video", "window"}
    for entry in list(BACKENDS.values()) + list(SINKS.values()):
        assert entry.load() is not None  # every target imports


# -- the examples in docs/architecture.md run as written ------------------------------------------

DOCS = TESTS.parent / "docs" / "architecture.md"


def _python_blocks() -> list[str]:
    text = DOCS.read_text(encoding="utf-8")
    return [block.split("```", 1)[0] for block in text.split("```python\n")[1:]]


def test_the_documented_sink_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(TESTS.parent)  # the example names samples/ relative to the repository
    sink_example = next(block for block in _python_blocks() if "class CountLabels" in block)
    namespace: dict = {}
    exec(compile(sink_example, str(DOCS), "exec"), namespace)
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    counts = eval(printed)  # the sink prints its dict of counts when closed
    assert sum(counts.values()) == 240 and set(counts) <= {"circle", "square", "triangle", "unknown"}
    assert min(counts.get(label, 0) for label in ("circle", "square", "triangle")) >= 60


def test_the_documented_backend_example_runs(tmp_path, monkeypatch):
    backend_example = next(block for block in _python_blocks() if "def build(loaded" in block)
    package = tmp_path / "my_package"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "backends.py").write_text(backend_example)
    monkeypatch.syspath_prepend(str(tmp_path))
    clip = TESTS.parent / "samples" / "demo-clip.mp4"
    config = load_config(None, {"source.uri": str(clip), "model.bundle": str(TESTS.parent / "samples" / "demo-bundle"),
                                "inference.backend": "my_package.backends:build", "output.display": False,
                                "output.progress": False, "output.max_frames": 40})
    with Pipeline(config) as pipeline:
        labels = [prediction.label for prediction in pipeline]
        device = pipeline.summary().device
    assert device == "numpy" and len(labels) == 40
    assert labels.count("triangle") >= 36  # the clip's first 40 frames are a triangle
