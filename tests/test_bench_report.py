"""The bench report: Pareto front, recommendation, table, YAML/JSON/CSV files and the plot."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

from streamcls.benchmark.plot import write_plot
from streamcls.benchmark.points import BenchPoint
from streamcls.benchmark.report import (
    explain_no_recommendation,
    format_table,
    pareto_front,
    ratios,
    recommend,
    recommended_config,
    report_dict,
    write_csv,
    write_json,
    write_recommended_config,
)
from streamcls.errors import ConfigError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def point(backend="keras", size=160, batch_size=8, mode="end_to_end", fps=30.0, accuracy=None,
          **fields) -> BenchPoint:
    height, width = size if isinstance(size, tuple) else (size, size)
    return BenchPoint(backend, height, width, batch_size, mode, fps, accuracy=accuracy, **fields)


# The Pareto set: C, B, F and A are on the front; D and E are dominated; G has no accuracy;
# H is a model-only point, ignored because end to end points exist.
A = point(size=128, fps=40.0, accuracy=0.70)
B = point(size=160, fps=30.0, accuracy=0.80)
C = point(size=224, fps=15.0, accuracy=0.85)
D = point("tflite", size=160, fps=30.0, accuracy=0.75)  # as fast as B, less accurate
E = point("tflite", size=128, fps=35.0, accuracy=0.65)  # slower and less accurate than A
F = point(size=160, batch_size=1, fps=30.0, accuracy=0.80)  # ties B exactly
G = point("tflite-int8", size=96, fps=100.0)  # fastest of all, but no accuracy
H = point(size=224, mode="model", fps=500.0, accuracy=0.99)
SWEEP = [A, B, C, D, E, F, G, H]


def test_pareto_front_keeps_undominated_end_to_end_points_slowest_first():
    assert pareto_front(SWEEP) == [C, B, F, A]


def test_pareto_front_uses_model_points_when_no_end_to_end_point_has_accuracy():
    slow = point(mode="model", fps=50.0, accuracy=0.9)
    fast = point(mode="model", size=128, fps=80.0, accuracy=0.8)
    dominated = point(mode="model", size=96, fps=70.0, accuracy=0.7)
    assert pareto_front([fast, dominated, slow, G]) == [slow, fast]
    assert pareto_front([G, point(mode="naive", accuracy=0.9)]) == []


# Target 30 fps with 20% headroom needs 36 fps: K160 sits exactly on it, K224 just under.
K160 = point(size=160, fps=36.0, accuracy=0.80)
K224 = point(size=224, fps=35.9, accuracy=0.85)
T128 = point("tflite", size=128, fps=60.0, accuracy=0.70)
M224 = point(size=224, mode="model", fps=200.0, accuracy=0.90)  # not what the user runs


def test_recommend_takes_the_most_accurate_point_at_or_above_target_plus_headroom():
    choice = recommend([K160, K224, T128, M224], target_fps=30)
    assert choice is not None
    assert choice.point == K160
    assert choice.required_fps == pytest.approx(36.0)
    assert choice.target_fps == 30
    assert "80.0%" in choice.reason and "36.0 fps" in choice.reason


def test_recommend_headroom_and_target_move_the_choice():
    assert recommend([K160, K224, T128, M224], 30, headroom=0.0).point == K224
    assert recommend([K160, K224, T128, M224], 31).point == T128  # needs 37.2
    tied = point("tflite", size=160, fps=50.0, accuracy=0.80)
    assert recommend([K160, tied], 30).point == tied  # same accuracy: the faster


def test_recommend_returns_none_and_explains_with_the_fastest_point():
    points = [K160, K224, T128, M224]
    assert recommend(points, target_fps=60) is None
    explanation = explain_no_recommendation(points, target_fps=60)
    assert "tflite 128x128 batch 8" in explanation
    assert "60.0 fps" in explanation and "72.0 fps" in explanation
    assert "\n" not in explanation


def test_recommend_without_accuracy_takes_the_largest_input_then_the_faster():
    points = [point(size=128, fps=90.0), point(size=160, fps=60.0), point(size=224, fps=31.0),
              point(size=(240, 320), fps=20.0)]
    choice = recommend(points, target_fps=20)
    assert choice.point.input_size == "224x224"
    assert "no accuracy" in choice.reason
    same_size = [point(size=160, batch_size=1, fps=50.0), point(size=160, batch_size=8, fps=60.0)]
    assert recommend(same_size, target_fps=30).point.batch_size == 8


def test_recommend_falls_back_to_model_points():
    model_only = [point(mode="model", size=224, fps=100.0), point(mode="naive", size=320, fps=99.0)]
    assert recommend(model_only, target_fps=50).point.input_size == "224x224"


@pytest.mark.parametrize("target_fps, headroom", [(0, 0.2), (-5, 0.2), (30, -0.1)])
def test_recommend_refuses_a_bad_target_or_headroom(target_fps, headroom):
    with pytest.raises(ConfigError, match="received"):
        recommend([K160], target_fps, headroom)


def test_recommended_config_yaml_loads_back(tmp_path):
    choice = recommend([K160, K224, T128], target_fps=30)
    model_section = {"alpha": 0.5, "input_size": "224x224", "weights": "imagenet"}
    path = tmp_path / "recommended.yaml"
    write_recommended_config(path, choice, model_section)
    text = path.read_text(encoding="utf-8")
    first_line = text.splitlines()[0]
    assert first_line.startswith("#")
    assert "30 fps" in first_line and "36.0 fps" in first_line and "/CPU:0" in first_line
    loaded = yaml.safe_load(text)
    assert loaded == recommended_config(choice, model_section)
    assert loaded["model"] == {"alpha": 0.5, "input_size": "160x160", "weights": "imagenet"}
    assert loaded["inference"] == {"batch_size": 8, "backend": "keras"}
    assert model_section["input_size"] == "224x224"  # the caller's mapping is left alone


def test_writers_refuse_a_missing_folder(tmp_path):
    choice = recommend([K160], target_fps=30)
    missing = tmp_path / "no-such-folder"
    writers = [
        lambda: write_recommended_config(missing / "r.yaml", choice, {}),
        lambda: write_json(missing / "r.json", SWEEP, [], None, {}),
        lambda: write_csv(missing / "r.csv", SWEEP, []),
        lambda: write_plot(missing / "r.png", SWEEP, []),
    ]
    for write in writers:
        with pytest.raises(ConfigError, match="does not exist") as raised:
            write()
        assert "\n" not in str(raised.value)
    assert not missing.exists()


def test_json_round_trip(tmp_path):
    front = pareto_front(SWEEP)
    choice = recommend(SWEEP, target_fps=25)
    path = tmp_path / "report.json"
    write_json(path, SWEEP, front, choice, {"source": "clip.mp4", "repeats": 3})
    loaded = json.loads(path.read_text(encoding="utf-8"))
    assert loaded == report_dict(SWEEP, front, choice, {"source": "clip.mp4", "repeats": 3})
    assert loaded["meta"] == {"source": "clip.mp4", "repeats": 3}
    assert len(loaded["points"]) == len(SWEEP)
    for row, original in zip(loaded["points"], SWEEP):
        fields = {key: row[key] for key in row if key not in ("input_size", "pareto")}
        assert BenchPoint(**{**fields, "notes": tuple(fields["notes"])}) == original
        assert row["pareto"] == (original in front)
        assert row["input_size"] == original.input_size
    assert loaded["recommendation"]["point"]["accuracy"] == 0.80
    assert loaded["recommendation"]["required_fps"] == pytest.approx(30.0)
    assert json.loads(json.dumps(report_dict(SWEEP, [], None, {})))["recommendation"] is None


def test_csv_round_trip(tmp_path):
    noted = point("tflite-int8", fps=12.5, spread=0.04, latency_p50_ms=80.0, macs=123_000_000,
                  notes=("thermal throttling", "batch padded"))
    points = [*SWEEP, noted]
    front = pareto_front(points)
    path = tmp_path / "report.csv"
    write_csv(path, points, front)
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    names = [field.name for field in dataclasses.fields(BenchPoint)]
    assert list(rows[0]) == [*names, "input_size", "pareto"]
    assert len(rows) == len(points)
    for row, original in zip(rows, points):
        assert row["backend"] == original.backend and row["mode"] == original.mode
        assert int(row["batch_size"]) == original.batch_size
        assert float(row["throughput_fps"]) == original.throughput_fps
        assert row["accuracy"] == ("" if original.accuracy is None else str(original.accuracy))
        assert row["input_size"] == original.input_size
        assert row["pareto"] == ("true" if original in front else "false")
    assert rows[-1]["notes"] == "thermal throttling; batch padded"
    assert int(rows[-1]["macs"]) == 123_000_000 and float(rows[-1]["spread"]) == 0.04


def test_table_lists_every_point_and_marks_the_pareto_front():
    front = pareto_front(SWEEP)
    table = format_table(SWEEP, front)
    header, rule, *rows = table.splitlines()
    footnote = rows.pop()
    assert footnote.startswith("* on the Pareto front")
    assert len(rows) == len(SWEEP)
    for line, original in zip(rows, SWEEP):
        assert original.backend in line and original.input_size in line
        assert f"{original.throughput_fps:.1f}" in line
        assert line.startswith("*") == (original in front)
        # Every row's mode starts under the header's "mode": the columns line up.
        assert line.index(f" {original.mode} ") + 1 == header.index("mode")
    assert " - " in rows[SWEEP.index(G)]  # no accuracy: an empty cell reads "-"
    assert "70.0" in rows[0] and "85.0" in rows[2]  # accuracy as a percentage
    for column in ("backend", "fps", "spread %", "p99 ms", "MMACs", "peak MB", "agreement %"):
        assert column in header
    assert set(rule) <= {"-", " "}
    assert not format_table(SWEEP, []).splitlines()[-1].startswith("*")


def test_ratios_compare_modes_and_backends():
    points = [
        point(size=160, mode="model", fps=100.0),
        point(size=160, mode="end_to_end", fps=86.0),
        point(size=160, batch_size=1, mode="naive", fps=8.4),
        point("tflite-int8", size=160, mode="model", fps=340.0),
        point("tflite-int8", size=160, mode="end_to_end", fps=40.0),
        point("tflite-int8", size=160, batch_size=1, mode="model", fps=30.0),
        point("tflite-int8", size=160, batch_size=1, mode="end_to_end", fps=25.0),
        point("-", size=160, batch_size=1, mode="decode", fps=41.0),
    ]
    assert ratios(points) == [
        "keras 160x160: end to end / model only (batch 8) = 86%",
        "keras 160x160: end to end / naive = 10.2x",
        "tflite-int8 160x160 model only / best keras model only = 3.4x",
        "tflite-int8 160x160: end to end / model only (batch 8) = 12%",
        "tflite-int8 160x160 batch 8: end to end 40.0 fps beside model only 340.0 and decode only"
        " 41.0: limited by decode",
        "tflite-int8 160x160: end to end / model only (batch 1) = 83%",
        "tflite-int8 160x160 batch 1: end to end 25.0 fps beside model only 30.0 and decode only"
        " 41.0: limited by the model",
    ]
    assert ratios([point(mode="end_to_end"), point(mode="naive", fps=0.0)]) == []


def read_png(path) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = cv2.imread(str(path))
    assert image is not None
    return image


def pareto_red_pixels(image: np.ndarray) -> int:
    """Pixels of matplotlib's C3 red (#d62728), the Pareto highlight, in the right half."""
    right = image[:, image.shape[1] // 2:].astype(int)
    return int((np.abs(right - [40, 39, 214]).sum(axis=2) < 30).sum())


def test_plot_writes_a_png_with_the_pareto_front_highlighted(tmp_path):
    sweep = [*SWEEP, point(size=224, mode="model", fps=120.0), point(mode="decode", fps=70.0)]
    path = tmp_path / "bench.png"
    write_plot(path, sweep, pareto_front(sweep))
    image = read_png(path)
    assert image.shape[0] >= 500 and image.shape[1] >= 1200  # two panels at ~120 dpi
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # lines, text, not a blank canvas
    assert pareto_red_pixels(image) > 100
    write_plot(path, sweep, [])
    assert pareto_red_pixels(read_png(path)) < 10


def test_plot_differs_with_the_data_and_drops_panel_b_without_accuracy(tmp_path):
    without_accuracy = [point(size=size, fps=fps) for size, fps in ((128, 90.0), (224, 30.0))]
    slower = [dataclasses.replace(each, throughput_fps=each.throughput_fps / 3)
              for each in without_accuracy]
    write_plot(tmp_path / "a.png", without_accuracy, [])
    write_plot(tmp_path / "b.png", slower, [])
    first, second = read_png(tmp_path / "a.png"), read_png(tmp_path / "b.png")
    assert first.shape == second.shape
    assert first.shape[1] < 1000  # one panel only
    assert not np.array_equal(first, second)
    not_square = [point(size=(120, 160), fps=50.0), point(size=(240, 320), fps=20.0)]
    write_plot(tmp_path / "c.png", not_square, [])
    assert not np.array_equal(read_png(tmp_path / "c.png"), first)


@pytest.mark.parametrize("name", ["bench.jpg", "bench", "bench.png.txt"])
def test_plot_refuses_a_path_not_ending_in_png(tmp_path, name):
    with pytest.raises(ConfigError, match=r"expected one ending in \.png"):
        write_plot(tmp_path / name, SWEEP, [])
    assert list(tmp_path.iterdir()) == []


def test_importing_the_report_and_plot_loads_neither_tensorflow_nor_matplotlib():
    code = ("import sys, streamcls.benchmark.report, streamcls.benchmark.plot; "
            "print(sorted(m for m in ('tensorflow', 'matplotlib', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "[]"
