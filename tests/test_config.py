"""Config loading: defaults, sizes, and every refusal with its key path (no TensorFlow)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from streamcls.config import Config, InputSize, load_config, parse_input_size
from streamcls.errors import ConfigError


def test_empty_config_is_the_imagenet_classifier():
    config = load_config(None)
    assert config == Config()
    assert config.model.head.kind == "imagenet"
    assert config.model.weights == "imagenet"
    assert config.model.input_size is None  # resolved to 224x224, or a bundle's own size
    assert config.model.preprocess.interpolation == "linear"
    assert config.inference.batch_size == 8


@pytest.mark.parametrize(
    "value, expected",
    [
        (224, InputSize(224, 224)),
        ("160", InputSize(160, 160)),
        ("160x160", InputSize(160, 160)),
        ("240x320", InputSize(240, 320)),
        (" 96 X 128 ", InputSize(96, 128)),
        ([240, 320], InputSize(240, 320)),
        (32, InputSize(32, 32)),
    ],
)
def test_input_sizes_read(value, expected):
    assert parse_input_size(value) == expected


@pytest.mark.parametrize(
    "value, message",
    [
        (0, "height 0 is out of range"),
        (10000, "height 10000 is out of range"),
        ("31x64", "height 31 is out of range"),
        ("64x5000", "width 5000 is out of range"),
        ("abc", "expected HEIGHTxWIDTH"),
        ("160x", "expected HEIGHTxWIDTH"),
        ([1, 2, 3], "expected HEIGHTxWIDTH"),
        (True, "expected HEIGHTxWIDTH"),
        (1.5, "expected HEIGHTxWIDTH"),
    ],
)
def test_bad_input_sizes_refused(value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_input_size(value, "model.input_size")
    assert str(caught.value).startswith("model.input_size:")


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("model:\n  alpah: 0.5\n", r"model.alpah: unknown key; did you mean 'alpha'\?"),
        ("modle: {}\n", r"modle: unknown key; did you mean 'model'\?"),
        ("model:\n  alpha: 0.3\n", r"model.alpha: received 0.3; expected one of 0.25, 0.5, 0.75, 1.0"),
        ("model:\n  alpha: wide\n", r"model.alpha: received 'wide' \(str\); expected a number"),
        ("model:\n  input_size: 0\n", r"model.input_size: height 0 is out of range"),
        ("model:\n  input_size: 10000\n", r"model.input_size: height 10000"),
        ("model:\n  head:\n    kind: resnet\n", r"model.head.kind: received 'resnet'; expected one of dense, imagenet"),
        ("model:\n  head:\n    units: 0\n", r"model.head.units: received 0; expected 1 or more"),
        ("model:\n  head:\n    dropout: 1.5\n", r"model.head.dropout: received 1.5; expected a rate in \[0, 1\)"),
        ("model:\n  head:\n    classes: cat\n", r"model.head.classes: received 'cat' \(str\); expected a list"),
        ("model:\n  head:\n    classes: [cat, 3]\n", r"model.head.classes\[1\]: received 3 \(int\); expected text"),
        ("model:\n  head:\n    classes: [cat, cat]\n", r"model.head.classes: cat listed more than once"),
        ("model:\n  freeze_backbone: yes please\n", r"model.freeze_backbone: received 'yes please' \(str\); expected true or false"),
        ("model:\n  preprocess:\n    interpolation: bilinear\n", r"model.preprocess.interpolation: received 'bilinear'; expected one of nearest, linear, area, cubic"),
        ("inference:\n  batch_size: -1\n", r"inference.batch_size: received -1; expected 1 to 1024"),
        ("inference:\n  batch_size: 2.5\n", r"inference.batch_size: received 2.5 \(float\); expected a whole number"),
        ("inference:\n  device: tpu\n", r"inference.device: received 'tpu'; expected one of auto, cpu, gpu"),
        ("model: [1, 2]\n", r"model: received \[1, 2\] \(list\); expected a mapping"),
        ("- a\n- b\n", r"holds a list; expected a mapping"),
        ("model:\n  alpha: [\n", r"is not valid YAML at line \d+, column \d+"),
    ],
)
def test_bad_configs_refused_with_key_path(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist; pass an existing YAML file"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    path = write(tmp_path, "model:\n  weights: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_full_config_and_overrides(tmp_path):
    path = write(
        tmp_path,
        """
        model:
          alpha: 0.5
          input_size: 240x320
          weights: none
          pooling: max
          head: {kind: dense, units: 64, dropout: 0.25, classes: [cat, dog]}
          preprocess: {interpolation: area, resize_mode: letterbox}
        inference: {batch_size: 4, device: cpu}
        """,
    )
    config = load_config(path, {"model.input_size": "96x96", "inference.batch_size": 2})
    assert config.model.alpha == 0.5
    assert config.model.input_size == InputSize(96, 96)
    assert config.model.head.classes == ("cat", "dog")
    assert config.model.preprocess.resize_mode == "letterbox"
    assert config.inference.batch_size == 2
    assert config.inference.device == "cpu"


def test_shipped_example_configs_load():
    from pathlib import Path

    paths = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
    assert paths, "configs/ holds no example"
    for path in paths:
        load_config(path)


def test_config_errors_never_import_tensorflow(tmp_path):
    path = write(tmp_path, "model:\n  alpha: 3\n")
    code = textwrap.dedent(
        f"""
        import sys
        from streamcls.cli import main
        status = main(["model", "info", "--config", {str(path)!r}])
        assert status == 2, status
        assert "tensorflow" not in sys.modules, "tensorflow was imported for a bad config"
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "streamcls: error: model.alpha: received 3.0; expected one of 0.25, 0.5, 0.75, 1.0 "
        "(the MobileNet widths with published weights)"
    ]


def test_range_check_names_the_nested_key_path(tmp_path):
    path = write(tmp_path, """
        sources:
          - {uri: a.mp4}
          - {uri: b.mp4, reconnect: {attempts: -1}}
        """)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == "sources[1].reconnect.attempts: received -1; expected 0 to 1000000"


def test_range_check_from_an_override():
    with pytest.raises(ConfigError) as caught:
        load_config(None, {"postprocess.hysteresis.margin": 2})
    assert str(caught.value) == "postprocess.hysteresis.margin: received 2.0; expected 0.0 to 1.0"


def test_output_sinks_read_kind_path_and_options(tmp_path):
    path = write(tmp_path, """
        output:
          sinks:
            - kind: predictions
              path: out/{source}.jsonl
              options: {flush_every: 10, fields: [label, score], note: null}
            - {kind: window}
        sources:
          - uri: a.mp4
            output: {sinks: [{kind: segments, path: out/a.csv}]}
        """)
    config = load_config(path)
    first, second = config.output.sinks
    assert (first.kind, first.path) == ("predictions", "out/{source}.jsonl")
    assert first.options == {"flush_every": 10, "fields": ["label", "score"], "note": None}
    assert (second.kind, second.path, second.options) == ("window", None, {})
    (own,) = config.sources[0].output.sinks
    assert (own.kind, own.path) == ("segments", "out/a.csv")
    assert load_config(None).output.sinks == ()
    hash(config)  # frozen and hashable like the rest, options and all


@pytest.mark.parametrize(
    "sink, expected",
    [
        ("{kind: kafka}", ["output.sinks[0].kind: received 'kafka'; expected one of",
                          "predictions, segments, video, window"]),
        ("{kind: predictions, options: 3}",
         ["output.sinks[0].options: received 3 (int); expected a mapping"]),
        ("{kind: predictions, options: [a, b]}",
         ["output.sinks[0].options: received ['a', 'b'] (list); expected a mapping"]),
        ("{path: out.jsonl}", ["output.sinks[0].kind: missing; expected one of predictions"]),
        ("{kind: predictions, colour: red}", ["output.sinks[0].colour: unknown key"]),
        ("{kind: streamcls_no_such_module.sinks:MySink}",
         ["output.sinks[0].kind:", "'streamcls_no_such_module.sinks'", "cannot be imported"]),
        ("{kind: 'streamcls.errors:NoSuchSink'}",
         ["output.sinks[0].kind:", "has no 'NoSuchSink'"]),
    ],
)
def test_bad_output_sinks_refused(tmp_path, sink, expected):
    path = write(tmp_path, f"output:\n  sinks:\n    - {sink}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in expected:
        assert fragment in message


def test_plugin_targets_are_imported_at_load(tmp_path, monkeypatch):
    (tmp_path / "streamcls_test_plugin.py").write_text("class Sink:\n    pass\n\ndef build():\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    config = load_config(write(tmp_path, """
        inference: {backend: "streamcls_test_plugin:build"}
        output: {sinks: [{kind: "streamcls_test_plugin:Sink"}]}
        """))
    assert config.inference.backend == "streamcls_test_plugin:build"
    assert config.output.sinks[0].kind == "streamcls_test_plugin:Sink"


def test_backend_plugin_that_does_not_import_is_refused(tmp_path):
    path = write(tmp_path, "inference:\n  backend: streamcls_no_such_module:build\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith("inference.backend: ")
    assert "'streamcls_no_such_module'" in message and "cannot be imported" in message


@pytest.mark.parametrize("value, shown", [("onnx", "'onnx'"), ("3", "3")])
def test_unknown_backend_lists_the_registry(tmp_path, value, shown):
    from streamcls.config.names import BACKENDS

    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, f"inference:\n  backend: {value}\n"))
    message = str(caught.value)
    assert message.startswith(f"inference.backend: received {shown}; expected one of ")
    assert ", ".join(BACKENDS) in message


@pytest.mark.parametrize(
    "text, message",
    [
        ("source:\n  policy: newest\n", "source.policy: received 'newest'; expected one of auto, block, latest"),
        ("inference:\n  fairness: fifo\n",
         "inference.fairness: received 'fifo'; expected one of round_robin, oldest_first"),
        ("inference:\n  device: 3\n", "inference.device: received 3; expected one of auto, cpu, gpu"),
    ],
)
def test_choices_come_from_the_names_lists(tmp_path, text, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert str(caught.value) == message
