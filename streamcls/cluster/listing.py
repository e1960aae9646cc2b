"""Which videos a batch job classifies: a folder (searched recursively), a glob, or a list file."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from streamcls.errors import ConfigError

VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".ts", ".mts", ".flv", ".wmv")


@dataclass(frozen=True)
class Video:
    """One input video: its path, and its name under the output folder (its path below the input's root)."""

    path: Path
    name: str


def list_videos(input_spec: str) -> list[Video]:
    """The videos ``input_spec`` names, de-duplicated (by their real path) and in a stable order.

    A folder: every video file below it. A glob: the files it matches. A ``.txt`` file:
    one path per line (``#`` comments and blank lines skipped), relative to the list's folder.

    Raises:
        ConfigError: the input does not exist, or names no video file.
    """
    given = Path(input_spec)
    if given.is_dir():
        paths = [path for path in sorted(given.rglob("*")) if path.is_file() and _is_video(path)]
        root = given
    elif given.suffix.lower() == ".txt" and given.is_file():
        listed = [_listed(line, given) for line in given.read_text(encoding="utf-8").splitlines()]
        paths = [path for path in listed if path is not None]
        missing = [str(path) for path in paths if not path.is_file()]
        if missing:
            raise ConfigError(
                f"--input {input_spec}: lists {len(missing)} file(s) that do not exist (first: {missing[0]}); "
                f"fix the list or remove those lines"
            )
        root = None
    elif glob.has_magic(input_spec):
        paths = [Path(path) for path in sorted(glob.glob(input_spec, recursive=True)) if Path(path).is_file()]
        root = None
    elif given.is_file():
        paths, root = [given], given.parent
    else:
        raise ConfigError(
            f"--input {input_spec}: no such file or folder; give a folder of videos, a glob such as "
            f"'archive/**/*.mp4', or a .txt list of paths"
        )
    unique: dict[str, Path] = {}
    for path in paths:  # the same file twice (a link, another spelling) once; named as found
        unique.setdefault(os.path.realpath(path), Path(os.path.abspath(path)))
    if not unique:
        raise ConfigError(
            f"--input {input_spec}: holds no video file ({', '.join(VIDEO_SUFFIXES[:5])}, ...); "
            f"point it at the recordings"
        )
    resolved = list(unique.values())
    base = Path(os.path.abspath(root)) if root is not None else Path(os.path.commonpath([p.parent for p in resolved]))
    return [Video(path, path.relative_to(base).as_posix()) for path in resolved]


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES and not path.name.startswith(".")


def _listed(line: str, list_file: Path) -> Path | None:
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    path = Path(text)
    return path if path.is_absolute() else list_file.parent / path
