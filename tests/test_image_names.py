"""Records of an image folder name their picture: nested folders, spaces, non-ASCII names, a cut picture.

Each picture carries a number in its pixels (as the fakes paint frames) and the fake
classifier reads it back, so a record's ``file`` is checked against the picture that
was really classified, not against the listing order.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
from cli import run_cli
from fakes import FakeClassifier, frame_with_index

from streamcls.config import Config, InferenceConfig, OutputConfig, SourceConfig
from streamcls.frames import Prediction
from streamcls.outputs.overlay import render
from streamcls.pipeline import Pipeline
from streamcls.postprocess.segments import SegmentTracker
from streamcls.sources.describe import describe_source
from streamcls.sources.images import ImageFolderSource, image_root, picture_name

# name -> the number painted into it; "cut.png" and "notes.txt" are not pictures.
PICTURES = {
    "a.png": 11,
    "b c.png": 12,
    "sub dir/été 2.png": 13,
    "sub dir/nested/z.png": 14,
    "ünïcödé 北京.png": 15,
}
SKIPPED = ["cut.png", "notes.txt"]  # in the middle of the sorted listing


def picture_folder(folder: Path) -> Path:
    for name, number in PICTURES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, data = cv2.imencode(".png", frame_with_index(number))  # imwrite takes no non-ASCII paths everywhere
        assert ok
        path.write_bytes(data.tobytes())
    whole = (folder / "a.png").read_bytes()
    (folder / "cut.png").write_bytes(whole[: len(whole) // 2])  # a copy stopped half-way
    (folder / "notes.txt").write_text("not an image")
    (folder / ".thumbnails").mkdir()  # a hidden folder is left out
    (folder / ".thumbnails" / "a.png").write_bytes(whole)
    return folder


def by_number() -> dict[str, str]:
    """The fake classifier's label for each picture -> its name."""
    return {f"c{number}": name for name, number in PICTURES.items()}


def test_each_record_names_the_picture_it_classified(tmp_path):
    folder = picture_folder(tmp_path / "photos")
    config = Config(
        inference=InferenceConfig(batch_size=2),
        source=SourceConfig(uri=str(folder)),
        output=OutputConfig(display=False, segments=str(tmp_path / "s.jsonl")),
    )
    source = ImageFolderSource(describe_source(str(folder)))
    with Pipeline(config, classifier=FakeClassifier(batch_size=2), source=source) as pipeline:
        predictions = list(pipeline)
    summary = pipeline.summary()
    names = by_number()
    assert [p.name for p in predictions] == sorted(PICTURES, key=lambda name: Path(name).parts)
    assert all(p.name == names[p.label] for p in predictions)
    assert all(p.as_record()["file"] == p.name for p in predictions)
    assert summary.skipped_files == tuple(SKIPPED)
    segments = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [(s["first_file"], s["last_file"]) for s in segments] == [(p.name, p.name) for p in predictions]


def test_names_are_relative_to_a_globs_fixed_root(tmp_path):
    folder = picture_folder(tmp_path / "photos")
    pattern = str(folder / "sub dir" / "**" / "*.png")
    assert image_root(pattern) == folder / "sub dir"
    source = ImageFolderSource(describe_source(pattern))
    with source:
        names = [source.read().name for _ in range(2)]
    assert names == ["nested/z.png", "été 2.png"]  # sorted by code point: "n" < "é"
    assert image_root(str(folder / "*" / "*.png")) == folder
    assert image_root("img_*.png") == Path(".")
    assert picture_name(Path("photos/x/y.png"), Path("photos")) == "x/y.png"


def test_a_segment_of_pictures_names_its_first_and_last():
    tracker = SegmentTracker()
    closed = []
    for index, (label, name) in enumerate([("cat", "1.png"), ("cat", "2.png"), ("dog", "3.png")]):
        prediction = Prediction("photos", index, None, ((label, 0.9),), label, 0.9, None, None, 1.0,
                                captured_at=float(index), name=name)
        closed += tracker.add(prediction)
    closed += tracker.finish()
    assert [(s.label, s.first_file, s.last_file) for s in closed] == [("cat", "1.png", "2.png"),
                                                                       ("dog", "3.png", "3.png")]
    video = Prediction("clip.mp4", 0, 0.0, (("cat", 0.9),), "cat", 0.9, None, None, 1.0)
    assert video.as_record()["file"] is None


def test_the_overlay_names_the_picture():
    frame = np.zeros((240, 320, 3), np.uint8)
    base = Prediction("photos", 0, None, (("cat", 0.9),), "cat", 0.9, None, None, 1.0)
    named = Prediction("photos", 0, None, (("cat", 0.9),), "cat", 0.9, None, None, 1.0, name="sub dir/été 2.png")
    plain, drawn = render(frame, base, None), render(frame, named, None)
    assert not np.array_equal(plain, drawn)
    assert (drawn != 0).any(axis=2).sum(axis=0).nonzero()[0].max() < 320  # it fits the frame
    long_name = Prediction("photos", 0, None, (("cat", 0.9),), "cat", 0.9, None, None, 1.0, name="x/" * 200 + "y.png")
    small = np.full((120, 160, 3), 200, np.uint8)
    assert (render(small, long_name, None)[:, -1] == 200).all()  # shortened, not past the edge


def test_cli_writes_the_file_column_in_csv_and_json_lines(tmp_path):
    folder = picture_folder(tmp_path / "photos")
    config = tmp_path / "config.yaml"
    config.write_text(f"output:\n  sinks:\n    - {{kind: predictions, path: {json.dumps(str(tmp_path / 'p.jsonl'))}}}\n")
    result = run_cli("run", "--config", str(config), "--source", str(folder), "--weights", "none",
                       "--alpha", "0.25", "--input-size", "32x32", "--no-display",
                       "--predictions", str(tmp_path / "p.csv"), "--segments", str(tmp_path / "s.csv"))
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "p.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames[:3] == ["source", "frame_index", "file"]
        rows = list(reader)
    expected = sorted(PICTURES, key=lambda name: Path(name).parts)
    assert [row["file"] for row in rows] == expected
    lines = (tmp_path / "p.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["file"] for line in lines] == expected
    with open(tmp_path / "s.csv", newline="", encoding="utf-8") as handle:
        segments = list(csv.DictReader(handle))
    assert segments[0]["first_file"] == expected[0] and segments[-1]["last_file"] == expected[-1]
    assert "skipped     2 non-image files: cut.png, notes.txt" in result.stdout
