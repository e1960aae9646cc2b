"""Classification metrics and their reports: confusion matrix, per-class precision/recall, plots."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Metrics:
    classes: tuple[str, ...]
    accuracy: float
    confusion: tuple[tuple[int, ...], ...]  # rows: true class, columns: predicted class
    precision: tuple[float, ...]
    recall: tuple[float, ...]
    examples: int


def measure(classes: tuple[str, ...], truth: np.ndarray, predicted: np.ndarray) -> Metrics:
    count = len(classes)
    confusion = np.zeros((count, count), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    correct = np.diag(confusion).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.nan_to_num(correct / confusion.sum(axis=0))
        recall = np.nan_to_num(correct / confusion.sum(axis=1))
    accuracy = float(correct.sum() / max(1, len(truth)))
    return Metrics(
        classes,
        accuracy,
        tuple(tuple(int(v) for v in row) for row in confusion),
        tuple(float(v) for v in precision),
        tuple(float(v) for v in recall),
        int(len(truth)),
    )


def format_metrics(metrics: Metrics) -> str:
    width = max(9, *(len(name) for name in metrics.classes))
    lines = [
        f"top-1 accuracy {metrics.accuracy:.1%} on {metrics.examples} examples",
        "",
        "confusion (rows: true, columns: predicted)",
        " " * width + " " + " ".join(f"{name[:8]:>8}" for name in metrics.classes),
    ]
    for name, row in zip(metrics.classes, metrics.confusion):
        lines.append(f"{name:<{width}} " + " ".join(f"{value:>8}" for value in row))
    lines += ["", f"{'class':<{width}} {'precision':>9} {'recall':>7}"]
    for name, precision, recall in zip(metrics.classes, metrics.precision, metrics.recall):
        lines.append(f"{name:<{width}} {precision:>9.1%} {recall:>7.1%}")
    return "\n".join(lines)


def write_metrics(folder: Path, metrics: Metrics, history: dict[str, list[float]] | None = None) -> None:
    """``metrics.json``, ``confusion.txt``, ``confusion.png`` and (training) ``history.png`` in ``folder``."""
    report: dict[str, Any] = asdict(metrics)
    if history is not None:
        report["history"] = history
    (folder / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    (folder / "confusion.txt").write_text(format_metrics(metrics) + "\n")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(1.2 * len(metrics.classes) + 3, 1.0 * len(metrics.classes) + 2.5))
    confusion = np.asarray(metrics.confusion)
    axes.imshow(confusion, cmap="Blues")
    axes.set_xticks(range(len(metrics.classes)), metrics.classes, rotation=45, ha="right")
    axes.set_yticks(range(len(metrics.classes)), metrics.classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for (row, column), value in np.ndenumerate(confusion):
        axes.text(
            column, row, str(value), ha="center", va="center", color="white" if value > confusion.max() / 2 else "black"
        )
    axes.set_title(f"confusion, accuracy {metrics.accuracy:.1%}")
    figure.tight_layout()
    figure.savefig(folder / "confusion.png", dpi=110)
    pyplot.close(figure)
    if history:
        plot_history(folder, history)


def plot_history(folder: Path, history: dict[str, list[float]]) -> None:
    """``history.png``: loss and accuracy per epoch, training and validation."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    if history:
        figure, (loss_axes, accuracy_axes) = pyplot.subplots(1, 2, figsize=(10, 4))
        for key, values in history.items():
            target = loss_axes if "loss" in key else accuracy_axes
            target.plot(range(1, len(values) + 1), values, marker="o", label=key)
        for target, name in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
            target.set_xlabel("epoch")
            target.set_ylabel(name)
            target.grid(alpha=0.3)
            target.legend()
        figure.tight_layout()
        figure.savefig(folder / "history.png", dpi=110)
        pyplot.close(figure)
