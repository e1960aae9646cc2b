"""The short top-level API on the shipped demo: a real trained bundle and its labelled clip."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

import streamcls
from streamcls.errors import FrameError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
BUNDLE = SAMPLES / "demo-bundle"
CLIP = SAMPLES / "demo-clip.mp4"


def _truth() -> list[str]:
    labels: list[str] = []
    with open(SAMPLES / "demo-clip.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            labels += [row["label"]] * (int(row["end_frame"]) - int(row["start_frame"]))
    return labels


def test_stream_classifies_every_frame_of_a_file_in_order():
    truth = _truth()
    predictions = list(streamcls.stream(str(CLIP), model=str(BUNDLE)))
    assert [p.frame_index for p in predictions] == list(range(len(truth)))
    assert {p.source_id for p in predictions} == {str(CLIP)}
    correct = sum(p.label == label for p, label in zip(predictions, truth))
    assert correct / len(truth) >= 0.9, f"{correct} of {len(truth)} frames right"


def test_leaving_the_loop_early_stops_the_pipeline():
    before = set(threading.enumerate())
    taken = []
    for prediction in streamcls.stream(str(CLIP), model=str(BUNDLE)):
        taken.append(prediction.frame_index)
        if len(taken) == 5:
            break
    assert taken == [0, 1, 2, 3, 4]
    deadline = time.monotonic() + 10
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert set(threading.enumerate()) - before == set()


def test_classify_pictures_and_arrays_with_one_loaded_model(tmp_path):
    truth = _truth()
    capture = cv2.VideoCapture(str(CLIP))
    frames = []
    for _ in range(len(truth)):
        ok, frame = capture.read()
        assert ok
        frames.append(frame)
    capture.release()
    chosen = [10, 50, 90, 130, 170, 210]  # one from each labelled segment
    files = []
    for index in chosen[:3]:
        files.append(tmp_path / f"frame {index}.png")
        cv2.imwrite(str(files[-1]), frames[index])
    model = streamcls.load(str(BUNDLE))
    assert model.labels == ("circle", "square", "triangle")
    predictions = model.classify([*files, *(frames[index] for index in chosen[3:])])
    assert [p.label for p in predictions] == [truth[index] for index in chosen]
    assert [p.source_id for p in predictions] == [str(path) for path in files] + ["frames"] * 3
    assert [p.frame_index for p in predictions] == list(range(6))
    assert all(0.0 <= p.score <= 1.0 and len(p.top_k) == 3 for p in predictions)
    # The one-call form gives the same answer.
    assert [p.label for p in streamcls.classify(files, model=str(BUNDLE))] == [truth[i] for i in chosen[:3]]


def test_classify_refuses_what_is_not_a_picture(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    model = streamcls.load(str(BUNDLE))
    with pytest.raises(FrameError, match=r"picture '.*notes.txt' cannot be read; expected a JPEG, PNG"):
        model.classify([np.zeros((8, 8, 3), np.uint8), text])


def test_importing_streamcls_is_cheap():
    import subprocess
    import sys

    code = ("import sys, streamcls; streamcls.stream; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'cv2', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "tensorflow" not in result.stdout and "keras" not in result.stdout
