"""The sweep as a picture: throughput against input size, and accuracy against throughput.

matplotlib is imported inside ``write_plot`` (with the non-interactive Agg backend), so
importing this module costs nothing and needs no display.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamcls.benchmark.points import BenchPoint
from streamcls.benchmark.report import MODE_WORDS, describe, require_folder, select_deciding
from streamcls.errors import ConfigError

# Panel (a) shows the two modes a user chooses between; naive and decode are references.
MARKERS = {"model": "o", "end_to_end": "s"}
LINE_STYLES = {"model": "--", "end_to_end": "-"}
DPI = 120


def write_plot(path: str | Path, points: Sequence[BenchPoint], pareto: Sequence[BenchPoint]) -> None:
    """Write one PNG figure of the sweep.

    Panel (a): throughput against input size, one line per (backend, batch size, mode) for
    the ``model`` and ``end_to_end`` points, marker by mode, and the fastest ``decode`` rate
    as a dotted line (the bound no pipeline beats). The x axis is the height when every
    size is square, else the pixel count; ticks read HxW. Panel (b), only when some
    accuracy is known: accuracy against throughput for the points of the mode the front
    is drawn from (``end_to_end`` when any, else ``model``), the ``pareto`` points
    highlighted and joined by a step line (the best accuracy to be had at each rate).

    Raises:
        ConfigError: ``path`` does not end in ``.png``, or its folder does not exist.
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(
            f"plot path {str(path)!r}: received a {path.suffix or 'suffix-less'} "
            f"file name; expected one ending in .png, such as bench.png"
        )
    path = require_folder(path, "plot")
    import matplotlib

    matplotlib.use("Agg")  # the figure only goes to a file: no window, no display needed
    import matplotlib.pyplot as plt

    with_accuracy = select_deciding([point for point in points if point.accuracy is not None])
    panels = 2 if with_accuracy else 1
    figure, axes = plt.subplots(1, panels, figsize=(8.5 * panels, 5), squeeze=False)
    try:
        draw_throughput(axes[0][0], points)
        if with_accuracy:
            draw_accuracy(axes[0][1], with_accuracy, pareto)
        # "/CPU:0 (LiteRT int8, XNNPACK, 2 threads)" -> "/CPU:0": the backends are in the legend.
        devices = ", ".join(sorted({point.device.split(" (")[0] for point in points})) or "no points"
        figure.suptitle(f"streamcls bench ({devices})")
        figure.tight_layout()
        figure.savefig(path, dpi=DPI, format="png", bbox_inches="tight")
    finally:
        plt.close(figure)  # pyplot keeps every open figure alive otherwise


def draw_throughput(axes: Any, points: Sequence[BenchPoint]) -> None:
    """Panel (a): one line per (backend, batch size, mode), the decode rate as a bound."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    shown = [point for point in points if point.mode in MARKERS]
    square = all(point.height == point.width for point in shown)

    def position(point: BenchPoint) -> int:
        return point.height if square else point.height * point.width

    lines: dict[tuple[str, int, str], list[BenchPoint]] = {}
    for point in shown:
        lines.setdefault((point.backend, point.batch_size, point.mode), []).append(point)
    # One colour per (backend, batch size), so its model and end to end lines pair up.
    pairs = dict.fromkeys(key[:2] for key in lines)
    colours = {pair: f"C{index % 10}" for index, pair in enumerate(pairs)}
    for (backend, batch_size, mode), members in lines.items():
        members.sort(key=position)
        axes.plot(
            [position(point) for point in members],
            [point.throughput_fps for point in members],
            marker=MARKERS[mode],
            linestyle=LINE_STYLES[mode],
            color=colours[backend, batch_size],
            label=f"{backend} batch {batch_size}, {MODE_WORDS[mode]}",
        )
    labels: dict[int, set[str]] = {}
    for point in shown:  # different sizes of one pixel count share a tick
        labels.setdefault(position(point), set()).add(point.input_size)
    axes.set_xticks(sorted(labels), ["\n".join(sorted(labels[tick])) for tick in sorted(labels)])
    decode = max((point.throughput_fps for point in points if point.mode == "decode"), default=0.0)
    if decode > 0:
        axes.axhline(decode, color="grey", linestyle=":", label=f"decode only ({decode:.0f} fps)")
    rates = [point.throughput_fps for point in shown if point.throughput_fps > 0]
    if rates and max(rates) > 20 * min(rates):  # a log scale keeps slow lines readable
        axes.set_yscale("log")
        # Ticks at 1, 2 and 5 per decade, written 200 rather than 2 x 10^2.
        axes.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axes.yaxis.set_minor_formatter(NullFormatter())
    axes.set_title("(a) throughput by input size")
    axes.set_xlabel("input size, HxW" + ("" if square else " (spaced by pixel count)"))
    axes.set_ylabel("throughput (frames/s)")
    axes.grid(True, alpha=0.3)
    if shown or decode > 0:
        # Outside the axes: a dozen lines leave no corner of the panel free.
        axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    else:
        axes.text(0.5, 0.5, "no model or end to end points", ha="center", transform=axes.transAxes)


def draw_accuracy(axes: Any, points: Sequence[BenchPoint], pareto: Sequence[BenchPoint]) -> None:
    """Panel (b): the points with an accuracy, the Pareto front as a highlighted step line."""
    for mode in dict.fromkeys(point.mode for point in points):
        members = [point for point in points if point.mode == mode]
        axes.scatter(
            [point.throughput_fps for point in members],
            [100 * (point.accuracy or 0.0) for point in members],
            marker=MARKERS.get(mode, "^"),
            color="grey",
            alpha=0.6,
            label=MODE_WORDS[mode],
        )
    front = sorted(pareto, key=lambda point: point.throughput_fps)
    if front:
        rates = [point.throughput_fps for point in front]
        accuracies = [100 * (point.accuracy or 0.0) for point in front]
        # "pre": between two front points the faster one's accuracy is the best to be had.
        axes.step(rates, accuracies, where="pre", color="C3", linewidth=2, label="Pareto front")
        axes.scatter(rates, accuracies, s=90, facecolors="none", edgecolors="C3", linewidths=2, zorder=3)
        names: dict[tuple[float, float], list[str]] = {}
        for point, rate, accuracy in zip(front, rates, accuracies):  # ties share one label
            names.setdefault((rate, accuracy), []).append(describe(point))
        for place, lines in names.items():
            axes.annotate("\n".join(lines), place, textcoords="offset points", xytext=(6, 4), fontsize=7)
    axes.set_title(f"(b) accuracy against {MODE_WORDS[points[0].mode]} throughput")
    axes.set_xlabel("throughput (frames/s)")
    axes.set_ylabel("top-1 accuracy (%)")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
