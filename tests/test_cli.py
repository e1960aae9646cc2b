"""The streamcls command as a user runs it: a subprocess, its output and exit status."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
from cli import help_entries, run_cli

# Every subcommand, in the order --help lists them, with a phrase its help line must carry.
COMMANDS = {
    "model": "inspect or benchmark a classifier",
    "bench": "sweep input size x batch size x backend",
    "train": "train a classifier on your own classes",
    "evaluate": "accuracy, confusion matrix, precision/recall on labelled data",
    "demo": "run the pipeline on the bundled sample clip",
    "export": "write a classifier as TFLite or SavedModel",
    "run": "classify a camera, video file, stream or image folder",
    "serve": "run the configured sources as a service: dashboard, HTTP API, Prometheus metrics",
    "batch": "classify every video of a folder, glob or list on Ray: local by default, or a cluster",
    "doctor": "check this machine for a run",
}
BACKENDS = ["keras", "tflite", "tflite-float16", "tflite-dynamic", "tflite-int8"]


def test_help_lists_the_commands():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: streamcls ")
    commands = help_entries(result.stdout, indent=4)
    assert list(commands) == list(COMMANDS), result.stdout
    for command, phrase in COMMANDS.items():
        assert phrase in commands[command], f"{command}: {commands[command]!r}"
    info_help = run_cli("model", "info", "--help")
    assert info_help.returncode == 0, info_help.stderr
    flags = {entry.split()[0]: text for entry, text in help_entries(info_help.stdout).items()}
    for flag in ("--model", "--input-size", "--alpha", "--config", "--weights"):
        assert flags.get(flag), f"model info --help lacks {flag} or its help line:\n{info_help.stdout}"


def test_run_help_lists_its_options_and_backends():
    result = run_cli("run", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: streamcls run ")
    options = help_entries(result.stdout)
    assert "camera index (0), video file, rtsp:// or http(s):// URL, image folder" in options["--source SOURCE"]
    assert "one record per frame" in options["--predictions PREDICTIONS"]
    assert ".jsonl or .csv" in options["--predictions PREDICTIONS"]
    assert "runs of one label" in options["--segments PATH"]
    assert ".csv, .json or .jsonl" in options["--segments PATH"]
    assert "annotated video" in options["--output-video OUTPUT_VIDEO"]
    backend = [entry for entry in options if entry.startswith("--backend ")]
    assert len(backend) == 1, options
    assert backend[0].split(None, 1)[1].strip("{}").split(",") == BACKENDS
    assert "inference runtime (default keras)" in options[backend[0]]


def test_model_info_json_for_a_fresh_dense_head(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("model:\n  weights: none\n  head: {kind: dense, classes: [cat, dog]}\n")
    result = run_cli("model", "info", "--config", str(config), "--alpha", "0.25", "--input-size", "96x128", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["input_size"] == "96x128" and info["alpha"] == 0.25
    assert info["classes"] == ["cat", "dog"]
    assert info["parameters"] == 251_698  # MobileNet 0.25 (218,544) + head (32,896 + 258)
    assert info["macs"] == 9_985_536 + 256 * 128 + 128 * 2  # backbone at 96x128 + head


def test_model_info_text(tmp_path):
    result = run_cli("model", "info", "--weights", "none", "--alpha", "0.25", "--input-size", "64")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if line.strip())
    assert lines["alpha"] == "0.25"
    assert lines["input"].startswith("size") and "64x64" in lines["input"]
    assert lines["weights"] == "none (random initialisation, seed 0)"
    assert "1000 in all" in lines["classes"]


def test_model_info_with_a_bundle_at_another_size(tmp_path):
    from streamcls.config import HeadConfig, InputSize, ModelConfig
    from streamcls.model.bundle import save_bundle
    from streamcls.model.load import load_model

    loaded = load_model(ModelConfig(alpha=0.25, input_size=InputSize(96, 96), weights="none",
                                    head=HeadConfig(kind="dense", classes=("x", "y", "z"))))
    path = save_bundle(loaded.model, loaded.spec, tmp_path / "bundle")
    result = run_cli("model", "info", "--model", str(path), "--input-size", "160x160", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["input_size"] == "160x160" and info["classes"] == ["x", "y", "z"]
    assert info["weights"] == f"bundle: {path}"


@pytest.mark.parametrize(
    "arguments, status, message",
    [
        (["--input-size", "16x16"], 2, "--input-size" and "height 16 is out of range"),
        (["--alpha", "0.3"], 2, "model.alpha: received 0.3; expected one of"),
        (["--config", "missing.yaml"], 2, "config file 'missing.yaml' does not exist"),
        (["--model", "no/such/bundle"], 4, "model bundle 'no/such/bundle' does not exist"),
        (["--weights", "no/such.h5", "--alpha", "0.25"], 4, "weight file 'no/such.h5' does not exist"),
        (["--model", "imagenet", "--alpha", "0.25", "--input-size", "128"], 4,
         "ImageNet weights for MobileNet alpha 0.25 at 128x128 need mobilenet_2_5_128_tf.h5"),
    ],
)
def test_errors_are_one_line_with_a_status(arguments, status, message):
    result = run_cli("model", "info", *arguments)
    assert result.returncode == status, result.stderr
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("streamcls: error:")]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_traceback():
    result = run_cli("model", "info", "--model", "no/such/bundle", "--verbose")
    assert result.returncode == 4
    assert "Traceback" in result.stderr


def test_model_bench_prints_every_point_and_the_ratio():
    result = run_cli("model", "bench", "--alpha", "0.25", "--sizes", "32,40x48", "--batch-sizes", "1,2",
                     "--repeats", "1", "--seconds", "0.05")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    assert [(row[0], row[1]) for row in rows] == [("32x32", "1"), ("32x32", "2"), ("40x48", "1"), ("40x48", "2")]
    for row in rows:
        assert float(row[2]) > 0 and float(row[4]) > 0
        assert float(row[5].rstrip("x")) == pytest.approx(float(row[2]) / float(row[4]), rel=0.01)


@pytest.mark.parametrize("flag, value, message", [
    ("--sizes", "16", "height 16 is out of range"),
    ("--sizes", "big", "expected HEIGHTxWIDTH"),
    ("--batch-sizes", "0", "expected numbers from 1 to 1024"),
    ("--batch-sizes", "a,b", "expected whole numbers"),
])
def test_model_bench_refuses_bad_points(flag, value, message):
    result = run_cli("model", "bench", flag, value)
    assert result.returncode == 2 and message in result.stderr


@pytest.mark.parametrize("arguments, message", [
    (["--sink", "out.jsonl"], "--sink: received 'out.jsonl'; expected KIND=PATH"),
    (["--sink", "=out.jsonl"], "--sink: received '=out.jsonl'; expected KIND=PATH"),
    (["--sink", "nosuchkind=out.jsonl"], "--sink: received 'nosuchkind'; expected one of predictions"),
    (["--backend", "nosuch"], "--backend: received 'nosuch'; expected one of keras, tflite"),
])
def test_run_refuses_bad_flags_in_one_line(arguments, message):
    result = run_cli("run", "--source", "clip.mp4", "--no-display", *arguments)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("streamcls: error: ") and message in lines[0], lines


def test_importing_the_cli_imports_nothing_heavy():
    code = ("import sys, streamcls.cli; streamcls.cli._parser(); "
            "print(sorted({'tensorflow', 'keras', 'cv2', 'numpy'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_the_cli_runs_through_one_runner_and_test_modules_import_no_test_module():
    """tests/cli.py alone starts ``python -m streamcls`` and builds the offline environment; helpers
    shared by test modules live in helper modules, not in another test module."""
    tests = Path(__file__).parent
    runners, imports = [], []
    for path in sorted(tests.rglob("*.py")):
        text = path.read_text()
        if path.name not in ("cli.py", Path(__file__).name) and ('"-m", "streamcls"' in text or "_proxy" in text.lower()):
            runners.append(path.name)
        for node in ast.walk(ast.parse(text)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            imports += [f"{path.name}: {name}" for name in names if name.split(".")[-1].startswith("test_")]
    assert runners == [], f"start the CLI with cli.run_cli / cli.start_cli / cli.offline_environment: {runners}"
    assert imports == [], f"move the shared helper into a helper module: {imports}"
