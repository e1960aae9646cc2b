"""Faults a user really meets, through the real CLI in a subprocess.

Two tables. Bad configs: each refused with exit status 2 and one line naming the
key path and what was expected, before TensorFlow is imported (checked in the
child process itself). Corrupt and hostile media: each gives one clear line and
an exit status that says what happened (0: everything readable was read, 5: the
source is bad or ends early), and every output holds exactly the frames before
the damage, whole.
"""

from __future__ import annotations

import csv
import json
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from cli import offline_environment, run_cli
from needs import require
from videos import decode_all, write_video

MODEL_FLAGS = ["--weights", "none", "--alpha", "0.25", "--input-size", "32x48", "--no-display"]

# ---------------------------------------------------------------------------------------------
# Bad configs
# ---------------------------------------------------------------------------------------------

# Runs the CLI's main() and says, in its exit status, whether TensorFlow or Keras got imported:
# a config that is wrong must be refused before any heavy work starts.
PROBE = """
import sys
from streamcls.cli import main
status = main(sys.argv[1:])
heavy = sorted(name for name in ("tensorflow", "keras") if name in sys.modules)
print("heavy modules:", ",".join(heavy) or "none")
sys.exit(100 + status if heavy else status)
"""
PROBE_SECONDS = 10.0  # a refusal takes about a second on a busy machine; TensorFlow takes longer to import alone
MISSING, FOLDER = object(), object()  # stand-ins for the config file's content


def run_probe(*arguments: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", PROBE, *arguments], capture_output=True, text=True,
                            timeout=120, env=offline_environment(), check=False)
    return result, time.monotonic() - started


def config_row(name: str, content: object, *fragments: str, flags: tuple[str, ...] = ()) -> object:
    return pytest.param(content, flags, fragments, id=name)


BAD_CONFIGS = [
    # YAML syntax: where, what the parser expected, the fix
    config_row("tab-indent", "model:\n\talpha: 0.5\n",
               "not valid YAML at line 2, column 1", "found character '\\t'", "indent with spaces, not tabs"),
    config_row("unclosed-brace", "inference: {batch_size: 4\n",
               "not valid YAML at line 2", "expected ',' or '}'", "flow mapping that starts at line 1"),
    config_row("unclosed-bracket", "model:\n  head:\n    classes: [cat, dog\n",
               "expected ',' or ']'", "flow sequence that starts at line 3", "fix the syntax there"),
    config_row("indented-too-far", "model:\n  alpha: 0.5\n   weights: none\n",
               "not valid YAML at line 3, column 11", "mapping values are not allowed here"),
    config_row("indented-too-little", "model:\n    alpha: 0.5\n  weights: none\n",
               "not valid YAML at line 3, column 3", "block mapping that starts at line 1"),
    config_row("python-tag", "model:\n  weights: !!python/object/apply:os.system ['true']\n",
               "could not determine a constructor", "remove the tag: a config holds plain values only"),
    # the whole file is not a mapping of sections
    config_row("top-level-list", "- model\n- inference\n", "holds a list; expected a mapping with sections"),
    config_row("top-level-string", "imagenet\n", "holds a single string; expected a mapping"),
    config_row("top-level-number", "42\n", "holds a single number; expected a mapping"),
    config_row("latin-1", "model:\n  weights: café.h5\n".encode("latin-1"),
               "is not UTF-8 text (byte 0xe9 at offset 21)", "save it as UTF-8"),
    config_row("utf-16", "model:\n  alpha: 0.5\n".encode("utf-16"),
               "is not UTF-8 text (byte 0xff at offset 0)", "save it as UTF-8"),
    config_row("missing-file", MISSING, "does not exist; pass an existing YAML file"),
    config_row("folder", FOLDER, "is a folder; expected a YAML file"),
    # a key given twice: PyYAML would silently keep the last one
    config_row("duplicate-section", "model:\n  alpha: 0.5\nmodel:\n  alpha: 0.25\n",
               "model: given twice (lines 1 and 3)", "delete one, or merge the two"),
    config_row("duplicate-key", "inference:\n  batch_size: 4\n  batch_size: 8\n",
               "inference.batch_size: given twice (lines 2 and 3)"),
    config_row("duplicate-nested-key", "postprocess:\n  hysteresis:\n    frames: 3\n    frames: 4\n",
               "postprocess.hysteresis.frames: given twice (lines 3 and 4)"),
    # unknown keys at every level, with the closest valid one
    config_row("unknown-section", "modle:\n  alpha: 0.5\n", "modle: unknown key; did you mean 'model'?"),
    config_row("unknown-key", "inference:\n  batchsize: 4\n",
               "inference.batchsize: unknown key; did you mean 'batch_size'?", "valid keys here are batch_size"),
    config_row("unknown-nested-key", "postprocess:\n  hysteresis:\n    frame: 3\n",
               "postprocess.hysteresis.frame: unknown key; did you mean 'frames'?"),
    config_row("unknown-head-key", "model:\n  head:\n    unit: 64\n",
               "model.head.unit: unknown key; did you mean 'units'?"),
    config_row("unknown-key-no-match", "output:\n  zzz: 1\n",
               "output.zzz: unknown key; valid keys here are display, video"),
    # wrong types
    config_row("text-for-int", "inference:\n  batch_size: eight\n",
               "inference.batch_size: received 'eight' (str); expected a whole number"),
    config_row("bool-for-int", "inference:\n  batch_size: true\n",
               "inference.batch_size: received True (bool); expected a whole number"),
    config_row("empty-for-int", "inference:\n  batch_size:\n",
               "inference.batch_size: received None (NoneType); expected a whole number"),
    config_row("float-for-int", "postprocess:\n  top_k: 2.5\n",
               "postprocess.top_k: received 2.5 (float); expected a whole number"),
    config_row("number-for-text", "output:\n  codec: 264\n", "output.codec: received 264 (int); expected text"),
    config_row("text-for-bool", "source:\n  realtime: sometimes\n",
               "source.realtime: received 'sometimes' (str); expected true or false"),
    config_row("text-for-list", "model:\n  head:\n    classes: cat\n",
               "model.head.classes: received 'cat' (str); expected a list"),
    # a section that is not a mapping, under a flag that sets a key in it (--weights none)
    config_row("list-for-section", "model:\n  - alpha\n",
               "model: received ['alpha'] (list); expected a mapping of keys"),
    config_row("text-for-section", "source: clip.mp4\n",
               "source: received 'clip.mp4' (str); expected a mapping of keys"),
    config_row("choice-not-offered", "postprocess:\n  smoothing: median\n",
               "postprocess.smoothing: received 'median'; expected one of none, window, ema"),
    # impossible values
    config_row("input-size-0", "model:\n  input_size: 0\n",
               "model.input_size: height 0 is out of range; expected 32 to 4096 pixels"),
    config_row("input-size-10000", "model:\n  input_size: 10000\n",
               "model.input_size: height 10000 is out of range; expected 32 to 4096"),
    config_row("input-size-abc", "model:\n  input_size: abc\n",
               "model.input_size: received 'abc'; expected HEIGHTxWIDTH such as 160x160"),
    # YAML 1.1 would read 0x100 as hex 256 and run at 256x256 without a word
    config_row("input-size-0x100", "model:\n  input_size: 0x100\n",
               "model.input_size: height 0 is out of range"),
    config_row("input-size-three-sides", "model:\n  input_size: [240, 320, 3]\n",
               "model.input_size: received [240, 320, 3]; expected HEIGHTxWIDTH"),
    config_row("batch-size-negative", "inference:\n  batch_size: -1\n",
               "inference.batch_size: received -1; expected 1 to 1024"),
    config_row("batch-size-0", "inference:\n  batch_size: 0\n", "inference.batch_size: received 0; expected 1 to 1024"),
    config_row("threshold-below-0", "postprocess:\n  threshold: -0.1\n",
               "postprocess.threshold: received -0.1; expected 0.0 to 1.0"),
    config_row("threshold-above-1", "postprocess:\n  threshold: 1.5\n",
               "postprocess.threshold: received 1.5; expected 0.0 to 1.0"),
    config_row("threshold-nan", "postprocess:\n  threshold: .nan\n",
               "postprocess.threshold: received nan; expected 0.0 to 1.0"),
    config_row("top-k-0", "postprocess:\n  top_k: 0\n", "postprocess.top_k: received 0; expected 1 to 1000"),
    config_row("read-timeout-0", "source:\n  read_timeout_s: 0\n",
               "source.read_timeout_s: received 0.0; expected 0.1 to 3600.0"),
    config_row("max-frames-0", "output:\n  max_frames: 0\n", "output.max_frames: received 0; expected 1 to"),
    config_row("alpha-0.3", "model:\n  alpha: 0.3\n",
               "model.alpha: received 0.3; expected one of 0.25, 0.5, 0.75, 1.0"),
    config_row("hysteresis-frames-0", "postprocess:\n  hysteresis:\n    frames: 0\n",
               "postprocess.hysteresis.frames: received 0; expected 1 to 100000"),
    config_row("hysteresis-margin-2", "postprocess:\n  hysteresis:\n    margin: 2\n",
               "postprocess.hysteresis.margin: received 2.0; expected 0.0 to 1.0"),
    # a contradiction that used to be found only once the model was being built
    config_row("imagenet-head-with-classes", "model:\n  head:\n    classes: [cat, dog]\n",
               "model.head.classes: received 2 class names", "set model.head.kind: dense"),
    # the same values as command-line flags: refused with the key path they set
    config_row("flag-input-size-0", None, "model.input_size: height 0 is out of range",
               flags=("--input-size", "0")),
    config_row("flag-input-size-0x100", None, "model.input_size: height 0 is out of range",
               flags=("--input-size", "0x100")),
    config_row("flag-batch-size-negative", None, "inference.batch_size: received -1; expected 1 to 1024",
               flags=("--batch-size", "-1")),
    config_row("flag-max-frames-0", None, "output.max_frames: received 0; expected 1 to",
               flags=("--max-frames", "0")),
    config_row("flag-alpha-0.3", None, "model.alpha: received 0.3", flags=("--alpha", "0.3")),
    config_row("flag-threads-0", None, "inference.threads: received 0; expected 1 to 256", flags=("--threads", "0")),
    config_row("flag-over-good-file", "inference:\n  batch_size: 4\n",
               "inference.batch_size: received 0; expected 1 to 1024", flags=("--batch-size", "0")),
]


@pytest.mark.parametrize("content, flags, fragments", BAD_CONFIGS)
def test_bad_config_is_refused_up_front(tmp_path, content, flags, fragments):
    arguments = ["run", "--source", str(tmp_path / "never-opened.mp4"), "--weights", "none", "--no-display"]
    if content is not None:
        path = tmp_path / "config.yaml"
        if content is FOLDER:
            path.mkdir()
        elif content is not MISSING:
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        arguments += ["--config", str(path)]
    result, seconds = run_probe(*arguments, *flags)
    assert result.returncode < 100, f"TensorFlow was imported for a bad config: {result.stdout}{result.stderr}"
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("streamcls: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    assert seconds < PROBE_SECONDS, f"a config refusal took {seconds:.1f} s"


@pytest.mark.parametrize(
    "flags, message",
    [
        (("--batch-size", "abc"), "argument --batch-size: invalid int value: 'abc'"),
        (("--alpha", "wide"), "argument --alpha: invalid float value: 'wide'"),
        (("--device", "tpu"), "argument --device: invalid choice: 'tpu'"),
    ],
)
def test_flag_of_the_wrong_type_is_refused_by_argparse(tmp_path, flags, message):
    # argparse's own refusal: its usage lines, then "streamcls run: error: ...", status 2.
    result, seconds = run_probe("run", "--source", str(tmp_path / "x.mp4"), "--no-display", *flags)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr.splitlines()[-1] and "Traceback" not in result.stderr
    assert seconds < PROBE_SECONDS


@pytest.mark.parametrize(
    "text, check",
    [
        ("", lambda config: config.inference.batch_size == 8),
        ("# every key commented out\n# model:\n#   alpha: 0.5\n", lambda config: config.model.alpha is None),
        ("\ufeffinference:\n  batch_size: 4\n", lambda config: config.inference.batch_size == 4),  # Notepad's BOM
        ("model:\n  # alpha: 0.5\ninference:\n  batch_size: 4\n",  # an empty section: its defaults
         lambda config: config.model.alpha is None and config.inference.batch_size == 4),
        ("train:\n  learning_rate: 1e-3\n", lambda config: config.train.learning_rate == 0.001),  # text in YAML 1.1
        ("model:\n  input_size: 0160\n", lambda config: str(config.model.input_size) == "160x160"),  # not octal
        ("model:\n  head: &head {kind: dense, classes: [a, b]}\ninference: {batch_size: 2}\n",
         lambda config: config.model.head.classes == ("a", "b")),
    ],
    ids=["empty", "comments-only", "bom", "empty-section", "float-exponent", "leading-zero", "anchor"],
)
def test_valid_configs_are_read_as_written(tmp_path, text, check):
    from streamcls.config import load_config

    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    assert check(load_config(path))


def test_an_empty_config_file_is_valid_and_the_run_gets_to_its_source(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_bytes(b"")
    source = tmp_path / "no-such-clip.mp4"
    result, _ = run_probe("run", "--config", str(path), "--source", str(source), "--weights", "none", "--no-display")
    assert result.returncode == 5, result.stderr  # past the config: the source is what is missing
    expected = (f"streamcls: error: video file {str(source)!r} does not exist; check the path (or pass a "
                f"camera index like 0, an rtsp:// URL, or an image folder)")
    assert result.stderr.splitlines() == [expected]


# ---------------------------------------------------------------------------------------------
# Corrupt and hostile media
# ---------------------------------------------------------------------------------------------

Build = Callable[[Path], "tuple[Path, int | None]"]  # -> (source, good pictures, or None: decode the file)


def cut(data: bytes, path: Path, size: int) -> Path:
    path.write_bytes(data[:size])
    return path


def truncated(name: str, codec: str) -> Build:
    def build(folder: Path) -> tuple[Path, int | None]:
        whole = write_video(folder / f"whole{Path(name).suffix}", 40, codec=codec).read_bytes()
        return cut(whole, folder / name, len(whole) // 2), None
    return build


def avi_cut_inside_header(folder: Path) -> tuple[Path, int | None]:
    whole = write_video(folder / "whole.avi", 40, codec="MJPG").read_bytes()
    return cut(whole, folder / "header.avi", whole.find(b"movi") - 8), None


def header_over_announces(folder: Path) -> tuple[Path, int | None]:
    """Every frame of a 40-frame AVI, whose stream header says 80."""
    data = bytearray(write_video(folder / "whole.avi", 40, codec="MJPG").read_bytes())
    stream_header = data.find(b"strh")
    struct.pack_into("<I", data, stream_header + 8 + 32, 80)  # AVISTREAMHEADER.dwLength
    path = folder / "over.avi"
    path.write_bytes(bytes(data))
    capture = cv2.VideoCapture(str(path))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 80  # what OpenCV is told
    capture.release()
    return path, None


def file_of(name: str, content: bytes) -> Build:
    def build(folder: Path) -> tuple[Path, int | None]:
        path = folder / name
        path.write_bytes(content)
        return path, None
    return build


def png_named_mp4(folder: Path) -> tuple[Path, int | None]:
    ok, encoded = cv2.imencode(".png", np.full((48, 64, 3), 90, np.uint8))
    assert ok
    return file_of("still.mp4", encoded.tobytes())(folder)


def folder_named_mp4(folder: Path) -> tuple[Path, int | None]:
    path = folder / "clip.mp4"
    path.mkdir()
    return path, None


# Distinct flat colours (BGR), so each output frame shows which picture it came from.
COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200), (200, 200, 40)]


def encode(extension: str, colour: tuple[int, int, int]) -> bytes:
    ok, encoded = cv2.imencode(extension, np.full((240, 320, 3), colour, np.uint8))
    assert ok
    return encoded.tobytes()


def image_folder_with_damage(folder: Path) -> tuple[Path, int | None]:
    """Four good pictures among non-images and pictures whose copy stopped half-way."""
    images = folder / "pictures"
    images.mkdir()
    jpeg, png = encode(".jpg", (90, 90, 90)), encode(".png", (90, 90, 90))
    files = {
        "a_good.jpg": encode(".jpg", COLOURS[0]),
        "b_cut.jpg": jpeg[: len(jpeg) // 2],  # libjpeg would return it with a grey lower half
        "c_good.png": encode(".png", COLOURS[1]),
        "d_notes.txt": b"not a picture\n",
        "e_cut.png": png[: len(png) // 2],
        "f_good.jpg": encode(".jpg", COLOURS[2]),
        "g_empty.jpg": b"",
        "h_noise.bmp": np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes(),
        "i_good.bmp": encode(".bmp", COLOURS[3]),
        "Thumbs.db": b"\xd0\xcf\x11\xe0" + bytes(200),
    }
    for name, content in files.items():
        (images / name).write_bytes(content)
    (images / "sub-folder").mkdir()  # not searched, not counted
    return images, 4


def image_folder_without_images(folder: Path) -> tuple[Path, int | None]:
    images = folder / "pictures"
    images.mkdir()
    jpeg = encode(".jpg", (90, 90, 90))
    (images / "cut.jpg").write_bytes(jpeg[:200])
    (images / "notes.txt").write_text("a list of pictures\n")
    (images / "Thumbs.db").write_bytes(bytes(100))
    return images, 0


def nonexistent(folder: Path) -> tuple[Path, int | None]:
    return folder / "no-such-clip.mp4", None


def device(folder: Path) -> tuple[Path, int | None]:
    require(Path("/dev/null").exists(), "no /dev/null here")
    return Path("/dev/null"), None


NOISE = np.random.default_rng(7).integers(0, 256, 50_000, dtype=np.uint8).tobytes()

MEDIA = [
    # (id, build, exit status, fragments of the error line: {path} the source, {n} frames decoded)
    ("truncated-avi-mjpg", truncated("cut.avi", "MJPG"), 5,
     ["{path}", "ended after {n} of the 40 frames its header announces", "truncated", "were processed and written"]),
    ("truncated-mkv", truncated("cut.mkv", "mp4v"), 5, ["{path}", "ended after {n} of the 40 frames", "truncated"]),
    ("avi-cut-inside-header", avi_cut_inside_header, 5,
     ["{path}", "cannot be opened as a video", "an AVI cut off before its first frame", "copy it again"]),
    # OpenCV's MP4 writer puts the index (moov) at the end: half a file has none
    ("truncated-mp4-index-at-end", truncated("cut.mp4", "mp4v"), 5,
     ["{path}", "cannot be opened as a video", "without its index (no 'moov' box)", "copy it again"]),
    ("random-bytes.mp4", file_of("noise.mp4", NOISE), 5,
     ["{path}", "cannot be opened as a video: it is not a video file", "convert it (ffmpeg"]),
    ("random-bytes.avi", file_of("noise.avi", NOISE), 5, ["{path}", "cannot be opened as a video", "convert it"]),
    ("zero-bytes.mp4", file_of("empty.mp4", b""), 5, ["{path}", "is empty (0 bytes); pass a real video"]),
    ("text-named.mp4", file_of("notes.mp4", b"frame list\n" * 300), 5,
     ["{path}", "holds text, not video; expected a video file"]),
    # a folder is an image source whatever its name: it holds no pictures
    ("folder-named.mp4", folder_named_mp4, 5,
     ["image folder {path}", "holds no files", "pass a folder of images, or a video file's own path"]),
    # all 40 frames are there; the header announces 80: reported, since the file is not what it says
    ("header-over-announces", header_over_announces, 5,
     ["{path}", "ended after 40 of the 80 frames its header announces", "or its header miscounts"]),
    # FFmpeg reads a still picture as a one-frame video: classified, as the file's content allows
    ("png-named.mp4", png_named_mp4, 0, []),
    ("nonexistent-path", nonexistent, 5, ["video file {path} does not exist; check the path"]),
    ("device-not-a-file", device, 5, ["{path} is not a regular file", "expected a video file"]),
    ("image-folder-with-damage", image_folder_with_damage, 0, []),
    ("image-folder-without-images", image_folder_without_images, 5,
     ["image source {path} holds 3 files and none is a whole image", "pass a folder of .jpg/.png/.bmp images"]),
]


@pytest.mark.parametrize("build, status, fragments", [pytest.param(*row[1:], id=row[0]) for row in MEDIA])
def test_bad_media_reported_and_outputs_whole_up_to_the_damage(tmp_path, build, status, fragments):
    source, pictures = build(tmp_path)
    frames = pictures if pictures is not None else len(decode_all(source)) if source.is_file() else 0
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    result = run_cli("run", "--source", str(source), *MODEL_FLAGS, "--predictions", str(outputs / "p.jsonl"),
                     "--output-video", str(outputs / "out.avi"), "--segments", str(outputs / "s.csv"))
    assert result.returncode == status, result.stderr

    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    # Nothing but streamcls' own lines: no FFmpeg, OpenCV, libjpeg or libpng chatter.
    assert all(line.startswith("streamcls: ") for line in lines), result.stderr
    errors = [line for line in lines if line.startswith("streamcls: error:")]
    assert len(errors) == (1 if status else 0), result.stderr
    for fragment in fragments:
        expected = fragment.format(path=repr(str(source)), n=frames)
        assert expected in errors[0], f"{expected!r} not in {errors[0]!r}"

    check_outputs(outputs, frames)
    if frames:
        assert f"{frames} read, {frames} processed, 0 dropped" in result.stdout
    if pictures:
        skipped = sum(1 for path in source.iterdir() if path.is_file()) - pictures
        assert f"skipped     {skipped} non-image files" in result.stdout
        assert sum("skipping" in line for line in lines) == skipped
        # Each good picture exactly once, in name order: the output frames' colours say which.
        shown = [tuple(int(v) for v in np.median(frame[-30:, -30:].reshape(-1, 3), axis=0))
                 for frame in decode_all(outputs / "out.avi")]
        assert len(shown) == len(COLOURS)
        for colour, expected in zip(shown, COLOURS, strict=True):
            assert max(abs(a - b) for a, b in zip(colour, expected)) < 12, (shown, COLOURS)


def check_outputs(folder: Path, frames: int) -> None:
    """Predictions, video and segments hold frames 0..frames-1, each file whole."""
    predictions = folder / "p.jsonl"
    text = predictions.read_text() if predictions.exists() else ""
    assert text == "" or text.endswith("\n"), "the last record is cut"
    records = [json.loads(line) for line in text.splitlines()]
    assert [record["frame_index"] for record in records] == list(range(frames))

    video = folder / "out.avi"
    assert (len(decode_all(video)) if video.exists() else 0) == frames

    segments = folder / "s.csv"
    runs = []
    if segments.exists():
        with open(segments, newline="") as handle:
            runs = list(csv.DictReader(handle))
    if not frames:
        assert runs == []
        return
    starts = [int(run["start_frame"]) for run in runs]
    ends = [int(run["end_frame"]) for run in runs]
    assert starts[0] == 0 and ends[-1] == frames and starts[1:] == ends[:-1], runs  # [start, end), no gap
    assert sum(int(run["frames"]) for run in runs) == frames
