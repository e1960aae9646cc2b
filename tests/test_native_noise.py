"""What a user sees on stderr: only streamcls's own lines, whatever OpenCV, FFmpeg or TensorFlow say.

Each command runs as a user runs it: a subprocess with a clean environment (no
TF_CPP_MIN_LOG_LEVEL, OPENCV_LOG_LEVEL ... of the test machine's). Debug logging
(STREAMCLS_LOG=debug) and a level the user set bring the native lines back.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from cli import clean_environment, run_cli
from toyset import CLASSES, toy_images
from videos import moov_first, write_video

from streamcls.quiet import set_native_log_levels
from streamcls.redact import limit_native_logging

TINY = ["--weights", "none", "--alpha", "0.25", "--input-size", "32x32"]
NO_CAMERA = not any(Path(f"/dev/video{index}").exists() for index in range(4))


def streamcls(*arguments: str, home: Path, **extra: str) -> subprocess.CompletedProcess:
    return run_cli(*arguments, env=clean_environment(home, **extra), cwd=home, timeout=600)


def foreign(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("streamcls:")]


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    folder = tmp_path_factory.mktemp("noise")
    video = write_video(folder / "clip.mp4", 40, size=(64, 48))
    whole = moov_first(video.read_bytes())
    (folder / "partial.mp4").write_bytes(whole[: int(len(whole) * 0.6)])  # FFmpeg: "partial file"
    images, labels = toy_images(12, seed=0, height=48, width=64)
    for index, (image, label) in enumerate(zip(images, labels)):
        (folder / "data" / CLASSES[label]).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / "data" / CLASSES[label] / f"{index}.png"), image)
    (folder / "home").mkdir()
    return folder


def test_the_cut_file_makes_ffmpeg_talk(media):
    """The fixture's file is the one of the issue: read with OpenCV's own defaults, FFmpeg says 'partial file'."""
    script = "import cv2, sys\ncapture = cv2.VideoCapture(sys.argv[1])\nwhile capture.read()[0]:\n    pass\n"
    result = subprocess.run([sys.executable, "-c", script, str(media / "partial.mp4")], capture_output=True,
                            text=True, timeout=60, env=clean_environment(media / "home"))
    assert "partial file" in result.stderr


COMMANDS = {
    "missing camera": (["run", "--source", "0", "--no-display", *TINY], 5),
    "partial file": (["run", "--source", "{media}/partial.mp4", "--no-display", "--predictions", "{media}/p.csv",
                      *TINY], 5),
    "normal file": (["run", "--source", "{media}/clip.mp4", "--no-display", "--predictions", "{media}/f.csv",
                     *TINY], 0),
    "doctor": (["doctor"], 0),
    "train": (["train", "--data", "{media}/data", "--output", "{media}/bundle", "--epochs", "1", *TINY], 0),
    "bench": (["bench", "--sizes", "32", "--batch-sizes", "1", "--backends", "keras", "--repeats", "1",
               "--seconds", "0.1", "--naive-frames", "2", "--weights", "none", "--alpha", "0.25"], 0),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_stderr_holds_only_streamcls_lines(media, name):
    if name == "missing camera" and not NO_CAMERA:
        pytest.skip("this machine has a camera")
    arguments, status = COMMANDS[name]
    result = streamcls(*(argument.format(media=media) for argument in arguments), home=media / "home")
    assert result.returncode == status, result.stderr
    assert foreign(result) == [], result.stderr
    if status:
        assert sum(line.startswith("streamcls: error:") for line in result.stderr.splitlines()) == 1


@pytest.mark.skipif(not NO_CAMERA, reason="this machine has a camera")
@pytest.mark.parametrize("extra", [{"STREAMCLS_LOG": "debug"}, {"OPENCV_LOG_LEVEL": "DEBUG"}],
                         ids=["STREAMCLS_LOG=debug", "OPENCV_LOG_LEVEL=DEBUG"])
def test_debug_or_a_level_the_user_set_brings_opencv_back(media, extra):
    result = streamcls("run", "--source", "0", "--no-display", *TINY, home=media / "home", **extra)
    assert result.returncode == 5, result.stderr
    assert foreign(result), result.stderr  # OpenCV's own words about the camera index


def test_levels_are_defaults_the_user_and_the_credential_caps_overrule():
    quiet: dict[str, str] = {}
    set_native_log_levels(quiet, verbose=False)
    assert quiet == {"OPENCV_LOG_LEVEL": "FATAL", "OPENCV_FFMPEG_LOGLEVEL": "-8", "TF_CPP_MIN_LOG_LEVEL": "3"}
    verbose: dict[str, str] = {}
    set_native_log_levels(verbose, verbose=True)
    assert verbose == {"TF_CPP_MIN_LOG_LEVEL": "0"}
    chosen = {"OPENCV_LOG_LEVEL": "DEBUG", "TF_CPP_MIN_LOG_LEVEL": "1", "OPENCV_FFMPEG_LOGLEVEL": "56"}
    limit_native_logging(chosen)  # the CLI's order: FFmpeg's trace level prints passwords, so it is capped
    set_native_log_levels(chosen, verbose=False)
    assert chosen == {"OPENCV_LOG_LEVEL": "DEBUG", "TF_CPP_MIN_LOG_LEVEL": "1", "OPENCV_FFMPEG_LOGLEVEL": "24"}
    assert "TF_ENABLE_ONEDNN_OPTS" not in quiet  # it changes numerics: never touched
