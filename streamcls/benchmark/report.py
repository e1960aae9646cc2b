"""From a sweep's points to what a user reads: Pareto front, recommendation, table, files.

Pure functions over ``BenchPoint`` lists; no TensorFlow. Decisions compare points of one
mode: ``end_to_end`` when the sweep measured any (that is what the user will run), else
``model``. Example: ``print(format_table(points, pareto_front(points)))``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamcls.benchmark.points import BenchPoint
from streamcls.config import names
from streamcls.errors import ConfigError
from streamcls.redact import redact_data

MODE_WORDS = {"model": "model only", "end_to_end": "end to end", "naive": "naive", "decode": "decode only"}


@dataclass(frozen=True)
class Recommendation:
    """The point to run, why it was chosen, and the rates asked for and required."""

    point: BenchPoint
    reason: str
    required_fps: float  # target_fps * (1 + headroom)
    target_fps: float


def select_deciding(points: Sequence[BenchPoint]) -> list[BenchPoint]:
    """The ``end_to_end`` points when any exist, else the ``model`` points."""
    end_to_end = [point for point in points if point.mode == "end_to_end"]
    return end_to_end or [point for point in points if point.mode == "model"]


def pareto_front(points: Sequence[BenchPoint]) -> list[BenchPoint]:
    """The points no other point beats on both throughput and accuracy, slowest first.

    Only points with a known accuracy take part; of those, the ``end_to_end`` ones when
    any exist, else the ``model`` ones. A point drops out when another is at least as
    fast and at least as accurate and strictly better on one; equal points both stay.
    """
    candidates = select_deciding([point for point in points if point.accuracy is not None])

    def scores(point: BenchPoint) -> tuple[float, float]:
        return point.throughput_fps, point.accuracy or 0.0

    def dominated(point: BenchPoint) -> bool:
        return any(
            scores(other) != scores(point) and all(theirs >= mine for theirs, mine in zip(scores(other), scores(point)))
            for other in candidates
        )

    front = [point for point in candidates if not dominated(point)]
    return sorted(front, key=lambda point: (point.throughput_fps, -(point.accuracy or 0.0)))


def required_rate(target_fps: float, headroom: float) -> float:
    """``target_fps * (1 + headroom)``; ConfigError for a target <= 0 or a negative headroom."""
    if not target_fps > 0:
        raise ConfigError(f"target fps: received {target_fps!r}; expected above 0, such as 25")
    if not headroom >= 0:
        raise ConfigError(f"headroom: received {headroom!r}; expected 0 or more, e.g. 0.2 for 20%")
    return target_fps * (1 + headroom)


def recommend(points: Sequence[BenchPoint], target_fps: float, headroom: float = 0.2) -> Recommendation | None:
    """The point to run for ``target_fps`` with ``headroom`` to spare, or None when none can.

    Points of the deciding mode (``end_to_end`` when any, else ``model``) qualify when their
    throughput is at least ``target_fps * (1 + headroom)``. When any qualifying point has a
    known accuracy, the most accurate of those wins (ties: the faster); otherwise the
    largest input, height x width, wins (ties: the faster).

    Raises:
        ConfigError: ``target_fps`` is not positive or ``headroom`` is negative.
    """
    required_fps = required_rate(target_fps, headroom)
    # The tolerance keeps a point measured at exactly the required rate in, whatever
    # rounding target * (1 + headroom) went through.
    qualifying = [point for point in select_deciding(points) if point.throughput_fps >= required_fps * (1 - 1e-9)]
    if not qualifying:
        return None
    among = f"{len(qualifying)} {MODE_WORDS[qualifying[0].mode]} point(s) at or above {required_fps:.1f} fps"
    known = [point for point in qualifying if point.accuracy is not None]
    if known:
        best = max(known, key=lambda point: (point.accuracy or 0.0, point.throughput_fps))
        reason = f"the most accurate ({best.accuracy:.1%}) of the {among}"
    else:
        best = max(qualifying, key=lambda point: (point.height * point.width, point.throughput_fps))
        reason = f"the largest input of the {among} (no accuracy measured)"
    reason += f"; it measured {best.throughput_fps:.1f} fps"
    return Recommendation(best, reason, required_fps, target_fps)


def explain_no_recommendation(points: Sequence[BenchPoint], target_fps: float, headroom: float = 0.2) -> str:
    """One line on why ``recommend`` found nothing: the fastest point against the rate needed."""
    required_fps = required_rate(target_fps, headroom)
    deciding = select_deciding(points)
    if not deciding:
        return "no end to end or model points were measured; run the sweep with at least one"
    fastest = max(deciding, key=lambda point: point.throughput_fps)
    return (
        f"no {MODE_WORDS[fastest.mode]} point reaches {required_fps:.1f} fps ({target_fps:g} fps "
        f"+ {headroom:.0%} headroom); the fastest, {describe(fastest)}, measured "
        f"{fastest.throughput_fps:.1f} fps; try smaller inputs, a tflite backend or a lower target"
    )


def describe(point: BenchPoint) -> str:
    """``tflite-int8 160x160 batch 8``."""
    return f"{point.backend} {point.input_size} batch {point.batch_size}"


def recommended_config(recommendation: Recommendation, model_section: dict[str, Any]) -> dict[str, Any]:
    """A config mapping for ``yaml.safe_dump``: the model section at the chosen input size,
    and the chosen batch size and backend."""
    point = recommendation.point
    return {
        "model": {**model_section, "input_size": point.input_size},
        "inference": {"batch_size": point.batch_size, "backend": point.backend},
    }


def require_folder(path: str | Path, what: str) -> Path:
    """``path`` as a Path; ConfigError when its folder is missing or it is itself a folder."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ConfigError(
            f"{what} {str(path)!r}: folder {str(path.parent)!r} does not exist; "
            f"create it or pick a path in an existing folder"
        )
    if path.is_dir():
        raise ConfigError(f"{what} {str(path)!r} is a folder; expected a file path inside it")
    return path


def write_recommended_config(path: str | Path, recommendation: Recommendation, model_section: dict[str, Any]) -> None:
    """Write ``recommended_config(...)`` as YAML under a comment on what it was measured for;
    ConfigError when the folder of ``path`` does not exist."""
    import yaml  # kept here so importing the report stays cheap

    path = require_folder(path, "recommended config")
    point = recommendation.point
    comment = (
        f"# streamcls bench: recommended for {recommendation.target_fps:g} fps (needs "
        f"{recommendation.required_fps:.1f} with headroom); measured "
        f"{point.throughput_fps:.1f} fps {MODE_WORDS[point.mode]} on {point.device}\n"
    )
    body = yaml.safe_dump(recommended_config(recommendation, model_section), sort_keys=False)
    path.write_text(comment + body, encoding="utf-8")


def cell(value: float | None, scale: float = 1.0, digits: int = 1) -> str:
    return "-" if value is None else f"{value * scale:.{digits}f}"


COLUMNS = (
    "",
    "backend",
    "input",
    "batch",
    "mode",
    "fps",
    "spread %",
    "p50 ms",
    "p95 ms",
    "p99 ms",
    "MMACs",
    "peak MB",
    "accuracy %",
    "agreement %",
    "notes",
)
LEFT_ALIGNED = {"", "backend", "input", "mode", "notes"}


def format_table(points: Sequence[BenchPoint], pareto: Sequence[BenchPoint]) -> str:
    """An aligned text table, one row per point, Pareto points marked ``*``, empty cells ``-``."""
    rows = [
        (
            "*" if point in pareto else "",
            point.backend,
            point.input_size,
            str(point.batch_size),
            point.mode,
            f"{point.throughput_fps:.1f}",
            cell(point.spread, 100),
            cell(point.latency_p50_ms),
            cell(point.latency_p95_ms),
            cell(point.latency_p99_ms),
            cell(point.macs, 1e-6, 0),
            cell(point.peak_memory_mb, digits=0),
            cell(point.accuracy, 100),
            cell(point.agreement_top1, 100),
            "; ".join(point.notes) or "-",
        )
        for point in points
    ]
    widths = [max(len(row[index]) for row in [COLUMNS, *rows]) for index in range(len(COLUMNS))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            text.ljust(width) if name in LEFT_ALIGNED else text.rjust(width)
            for text, width, name in zip(cells, widths, COLUMNS)
        ).rstrip()

    lines = [line(COLUMNS), line(["-" * width for width in widths]), *map(line, rows)]
    if pareto:
        lines.append(
            f"* on the Pareto front: no other {MODE_WORDS[pareto[0].mode]} point is "
            f"at least as fast and as accurate, and better on one"
        )
    return "\n".join(lines)


def point_row(point: BenchPoint, pareto: Sequence[BenchPoint]) -> dict[str, Any]:
    """Every ``BenchPoint`` field, then ``input_size`` and the ``pareto`` flag."""
    row = dataclasses.asdict(point)
    row.update(notes=list(point.notes), input_size=point.input_size, pareto=point in pareto)
    return row


def report_dict(
    points: Sequence[BenchPoint],
    pareto: Sequence[BenchPoint],
    recommendation: Recommendation | None,
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The report as JSON-ready data: ``meta``, ``points``, ``recommendation``, ``ratios``."""
    chosen = None
    if recommendation is not None:
        chosen = {
            "point": point_row(recommendation.point, pareto),
            "reason": recommendation.reason,
            "required_fps": recommendation.required_fps,
            "target_fps": recommendation.target_fps,
        }
    # redact_data: the meta names the source, which may be a URL with a password.
    return {
        "meta": redact_data(dict(meta)),
        "points": [point_row(point, pareto) for point in points],
        "recommendation": chosen,
        "ratios": ratios(points),
    }


def write_json(
    path: str | Path,
    points: Sequence[BenchPoint],
    pareto: Sequence[BenchPoint],
    recommendation: Recommendation | None,
    meta: dict[str, Any],
) -> None:
    """Write ``report_dict(...)`` as indented JSON. Raises ConfigError for a missing folder."""
    path = require_folder(path, "JSON report")
    report = report_dict(points, pareto, recommendation, meta)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


def write_csv(path: str | Path, points: Sequence[BenchPoint], pareto: Sequence[BenchPoint]) -> None:
    """One row per point: every field, ``input_size``, ``pareto`` (true/false); missing values
    empty, notes joined by ``; ``. Raises ConfigError for a missing folder."""
    path = require_folder(path, "CSV report")
    names = [field.name for field in dataclasses.fields(BenchPoint)] + ["input_size", "pareto"]
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=names)
        writer.writeheader()
        for point in points:
            row = point_row(point, pareto)
            row.update(notes="; ".join(point.notes), pareto=str(row["pareto"]).lower())
            writer.writerow({name: "" if row[name] is None else row[name] for name in names})


def ratios(points: Sequence[BenchPoint]) -> list[str]:
    """Speed-up lines, in the order the points first appear. Matching is on backend and input
    size (and batch size where named); "fastest" is the highest throughput among matches:

    - each end to end point with a model point of the same batch: end to end / model, in %;
    - each naive point: the fastest end to end / naive, as ``x``;
    - each non-keras backend and input size: its fastest model / keras' fastest model, ``x``;
    - each end to end point of a CPU-only backend (the registry's ``cpu_only``: LiteRT) with a
      model point of the same batch, when the sweep has a decode point: its rate beside model
      and decode (the fastest decode point: reading the source depends on neither backend nor
      size); see ``_limit`` for which one limits.
    """

    def fastest(mode: str, backend: str, input_size: str, batch_size: int | None = None) -> float:
        return max(
            (
                other.throughput_fps
                for other in points
                if other.mode == mode
                and other.backend == backend
                and other.input_size == input_size
                and batch_size in (None, other.batch_size)
            ),
            default=0.0,
        )

    decode = max((point.throughput_fps for point in points if point.mode == "decode"), default=0.0)
    lines: list[str] = []
    for point in points:
        fps, size = point.throughput_fps, point.input_size
        name = f"{point.backend} {size}"
        model = fastest("model", point.backend, size, point.batch_size)
        if point.mode == "end_to_end" and model > 0:
            batch = point.batch_size
            lines.append(f"{name}: end to end / model only (batch {batch}) = {fps / model:.0%}")
            if _cpu_only(point.backend) and decode > 0:
                # A stage limits only when the pipeline gets near it; far below both, the
                # pipeline's own per-frame work (resize, overlay, hand-offs) is the bound.
                limit = _limit(fps, decode, model)
                lines.append(
                    f"{name} batch {batch}: end to end {fps:.1f} fps beside model only "
                    f"{model:.1f} and decode only {decode:.1f}: limited by {limit}"
                )
        elif point.mode == "naive" and fps > 0 and fastest("end_to_end", point.backend, size) > 0:
            speedup = fastest("end_to_end", point.backend, size) / fps
            lines.append(f"{name}: end to end / naive = {speedup:.1f}x")
        elif point.mode == "model" and point.backend != "keras" and fastest("model", "keras", size):
            keras, own = fastest("model", "keras", size), fastest("model", point.backend, size)
            line = f"{name} model only / best keras model only = {own / keras:.1f}x"
            if line not in lines:  # one line per backend and size, whatever the batches
                lines.append(line)
    return lines


def _cpu_only(backend: str) -> bool:
    """Whether the registry says ``backend`` runs on the CPU only; a name it lacks does not."""
    entry = names.BACKENDS.get(backend)
    return entry is not None and entry.cpu_only


def _limit(fps: float, decode: float, model: float) -> str:
    """What bounds an end-to-end rate, given decode-only and model-only rates on the same machine.

    Near the slower stage (70 %): that stage. Otherwise, when both stages already use every
    core on their own, they take turns: 1 / (1/decode + 1/model) is what the two together
    allow, and reaching 80 % of that means the cores they share are the bound. Below that, the
    pipeline's own work per frame (resize, overlay, hand-offs) is.
    """
    if fps >= 0.7 * min(decode, model):
        return "decode" if decode <= model else "the model"
    shared = 1 / (1 / decode + 1 / model)
    if fps >= 0.8 * shared:
        return f"decode and inference sharing the cores (together they allow about {shared:.0f} fps)"
    return "the pipeline's own per-frame work (resize, overlay, hand-offs)"
