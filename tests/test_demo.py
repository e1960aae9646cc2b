"""The demo, and the whole loop: generate samples, train with `streamcls train`, classify an unseen clip."""

from __future__ import annotations

import csv
import importlib.util
import json
import time
from pathlib import Path

from cli import run_cli
from videos import decode_all

REPOSITORY = Path(__file__).resolve().parents[1]


def make_samples_module():
    spec = importlib.util.spec_from_file_location("make_samples", REPOSITORY / "samples" / "make_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def truth_of(segments_csv: Path) -> dict[int, str]:
    truth = {}
    with segments_csv.open() as handle:
        for row in csv.DictReader(handle):
            for index in range(int(row["start_frame"]), int(row["end_frame"])):
                truth[index] = row["label"]
    return truth


def test_demo_runs_offline_and_writes_both_outputs(tmp_path):
    started = time.monotonic()
    result = run_cli("demo", "--output", str(tmp_path / "out"), "--no-display")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 120  # the goal is under a minute; this bounds the test, loosely
    rows = [json.loads(line) for line in (tmp_path / "out" / "predictions.jsonl").read_text().splitlines()]
    truth = truth_of(REPOSITORY / "samples" / "demo-clip.csv")
    assert [row["frame_index"] for row in rows] == list(range(len(truth)))
    accuracy = sum(row["label"] == truth[row["frame_index"]] for row in rows) / len(rows)
    assert accuracy > 0.9
    assert len(decode_all(tmp_path / "out" / "annotated.mp4")) == len(truth)
    assert str(tmp_path / "out" / "annotated.mp4") in result.stdout
    assert "match the clip's labelled segments" in result.stdout


def test_demo_assets_are_what_the_generator_makes(tmp_path):
    """samples/demo-clip.csv is exactly what make_samples.py writes: the clip's labels are not hand-edited."""
    module = make_samples_module()
    clip = tmp_path / "demo-clip.mp4"
    module.write_segments(clip.with_suffix(".csv"), clip.name, module.write_clip(clip, module.TEST_SCENES, seed=3))
    assert clip.with_suffix(".csv").read_text() == (REPOSITORY / "samples" / "demo-clip.csv").read_text()
    assert len(decode_all(clip)) == len(decode_all(REPOSITORY / "samples" / "demo-clip.mp4")) == 240


def test_whole_loop_train_then_classify_an_unseen_clip(tmp_path):
    """Train on the generated set with `streamcls train`, run the pipeline on the test clip (scenes never
    trained on), and check per-frame top-1 accuracy against its segments."""
    module = make_samples_module()
    module.make(tmp_path / "samples", per_class=80)  # the demo bundle's own recipe
    result = run_cli("train", "--config", str(REPOSITORY / "configs" / "demo-train.yaml"),
                     "--data", str(tmp_path / "samples" / "images"),
                     "--segments", str(tmp_path / "samples" / "clips" / "train.csv"),
                     "--output", str(tmp_path / "bundle"), timeout=900)
    assert result.returncode == 0, result.stderr
    clip = tmp_path / "samples" / "clips" / "test.avi"
    result = run_cli("run", "--source", str(clip), "--model", str(tmp_path / "bundle"), "--no-display",
                     "--predictions", str(tmp_path / "p.jsonl"))
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    truth = truth_of(tmp_path / "samples" / "clips" / "test.csv")
    assert len(rows) == len(truth) == 240
    accuracy = sum(row["label"] == truth[row["frame_index"]] for row in rows) / len(rows)
    assert accuracy > 0.9, f"per-frame accuracy {accuracy:.1%} on the unseen clip"
    print(f"whole loop: per-frame accuracy {accuracy:.4f}")
