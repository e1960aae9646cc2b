"""The configuration's shape: nested frozen dataclasses, each check beside its field.

A range is the field's own metadata (``batch_size: int = bounded(8, 1, 1024)``);
a choice names the list it comes from (``one_of("auto", names.DEVICES)``); a
backend or sink kind names its registry (``named(...)``). Rules that need more
than one field, or a message of their own, are the dataclass's ``check(path)``
method, right below its fields. ``coerce.from_mapping`` reads the metadata and
calls ``check``; building a dataclass directly (tests, the Python API) checks
nothing, as before.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass, field
from typing import Literal

from streamcls.config import names
from streamcls.config.events import EventsConfig
from streamcls.config.fields import bounded, key_path, named, one_of
from streamcls.config.service import ServiceConfig
from streamcls.errors import ConfigError

MIN_INPUT_SIDE = 32  # MobileNet's five stride-2 stages need at least this much
MAX_INPUT_SIDE = 4096
ALPHAS = (0.25, 0.5, 0.75, 1.0)  # the widths Keras publishes ImageNet weights for


@dataclass(frozen=True)
class InputSize:
    """Height and width, in pixels, of the tensor the network takes."""

    height: int
    width: int

    def __str__(self) -> str:
        return f"{self.height}x{self.width}"

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, 3)


def parse_input_size(value: object, key: str = "input_size") -> InputSize:
    """Read ``224``, ``"160x160"``, ``"240x320"`` (height x width) or ``[240, 320]``.

    Raises:
        ConfigError: naming ``key`` when the value is not a size, or a side is
            outside [32, 4096].
    """
    if isinstance(value, InputSize):
        return value
    sides: list[object]
    if isinstance(value, bool):
        sides = []
    elif isinstance(value, int):
        sides = [value, value]
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*", value):
        sides = [int(value), int(value)]
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+\s*[xX×]\s*\d+\s*", value):
        sides = [int(side) for side in re.split(r"[xX×]", value)]
    elif isinstance(value, (list, tuple)):
        sides = list(value)
    else:
        sides = []
    if len(sides) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) for s in sides):
        raise ConfigError(
            f"{key}: received {value!r}; expected HEIGHTxWIDTH such as 160x160 or 240x320 (or one number for a square)"
        )
    height, width = typing.cast(list[int], sides)
    for name, side in (("height", height), ("width", width)):
        if not MIN_INPUT_SIDE <= side <= MAX_INPUT_SIDE:
            raise ConfigError(
                f"{key}: {name} {side} is out of range; expected {MIN_INPUT_SIDE} to "
                f"{MAX_INPUT_SIDE} pixels (MobileNet needs at least {MIN_INPUT_SIDE})"
            )
    return InputSize(height, width)


@dataclass(frozen=True)
class PreprocessConfig:
    """How a BGR uint8 frame becomes the network's input (see ``preprocess.py``).

    ``interpolation``: ``linear`` is the default because ``area`` costs ~20x more
    on a 720p/1080p frame; ``area`` gives smoother downscaling when quality
    matters more than speed. ``resize_mode``: ``stretch`` fills the tensor
    (aspect ratio changes), ``center_crop`` keeps the aspect ratio and cuts the
    borders, ``letterbox`` keeps everything and pads with neutral grey.
    """

    interpolation: Literal["nearest", "linear", "area", "cubic"] = "linear"
    resize_mode: Literal["stretch", "center_crop", "letterbox"] = "stretch"


@dataclass(frozen=True)
class HeadConfig:
    """The classification head on top of the pooled backbone features.

    ``kind: imagenet`` is MobileNet's own 1000-class top with the ImageNet class
    names; ``kind: dense`` is pooled features -> Dense(units, relu) ->
    Dropout(dropout) -> Dense(len(classes), softmax).
    """

    kind: Literal["dense", "imagenet"] = "imagenet"
    units: int = 128
    dropout: float = 0.5
    classes: tuple[str, ...] = ()

    def check(self, path: str) -> None:
        if self.units < 1:
            raise ConfigError(f"{key_path(path, 'units')}: received {self.units}; expected 1 or more")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"{key_path(path, 'dropout')}: received {self.dropout}; expected a rate in [0, 1)")
        if len(set(self.classes)) != len(self.classes):
            duplicates = sorted({c for c in self.classes if self.classes.count(c) > 1})
            raise ConfigError(
                f"{key_path(path, 'classes')}: {', '.join(duplicates)} listed more than once; "
                f"class names must be unique"
            )


@dataclass(frozen=True)
class ModelConfig:
    """The classifier: MobileNet backbone at ``input_size`` plus a head.

    ``bundle`` names a trained model bundle; it then fixes alpha, pooling and the
    head, and ``input_size`` (when given) rebuilds it at another size. Without a
    bundle, ``weights`` is ``imagenet`` (Keras' download cache), ``none``
    (random) or the path of a weight file (legacy ``.h5`` or ``.weights.h5``).
    ``input_size`` and ``alpha`` left empty mean 224x224 and 1.0 (or the bundle's).
    """

    bundle: str | None = None
    alpha: float | None = None
    input_size: InputSize | None = None
    pooling: Literal["avg", "max"] = "avg"
    weights: str = "imagenet"
    head: HeadConfig = field(default_factory=HeadConfig)
    freeze_backbone: bool = True
    seed: int = 0
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)

    def check(self, path: str) -> None:
        if self.alpha is not None and self.alpha not in ALPHAS:
            raise ConfigError(
                f"{key_path(path, 'alpha')}: received {self.alpha}; expected one of "
                f"{', '.join(map(str, ALPHAS))} (the MobileNet widths with published weights)"
            )
        head = self.head
        # Also checked when the model is built (load.py); here, before TensorFlow is imported.
        if self.bundle is None and head.kind == "imagenet" and 0 < len(head.classes) != 1000:
            raise ConfigError(
                f"{key_path(path, 'head.classes')}: received {len(head.classes)} class names, but the "
                f"imagenet head has the 1000 ImageNet classes; remove the list, or set "
                f"{key_path(path, 'head.kind')}: dense"
            )


@dataclass(frozen=True)
class InferenceConfig:
    """How batches run: up to ``batch_size`` frames per call, on ``device``.

    The batcher runs a batch when it is full or when its first frame has waited
    ``max_batch_wait_ms``, whichever comes first.
    """

    batch_size: int = bounded(8, 1, 1024)
    max_batch_wait_ms: float = bounded(20.0, 0, 10_000)
    device: str = one_of("auto", names.DEVICES)
    # keras: the compiled Keras model. tflite*: the same model converted for the LiteRT
    # interpreter (XNNPACK, CPU): float32, float16 weights, dynamic-range or full int8.
    # Any name in names.BACKENDS, or 'module:factory' for a backend of your own.
    backend: str = named(names.BACKENDS, names.backend, default="keras")
    # LiteRT interpreter threads; None: every core this process may use
    threads: int | None = bounded(None, 1, 256)
    calibration: str | None = None  # int8: a video or image folder; None: the run's own file source
    calibration_frames: int = bounded(200, 10, 100_000)
    # Several sources: which frames a batch takes first. round_robin: one from each source
    # in turn; oldest_first: those that have waited longest. Either way a fast source
    # cannot starve a slow one.
    fairness: str = one_of("round_robin", names.FAIRNESS)
    # Inference threads. 2 overlaps two batches, using the CPU time one call leaves idle;
    # each source's results stay in order. None: 1 for one source (the least latency),
    # 2 for several (measured: +50% frames/s with 4 live sources on 2 cores).
    workers: int | None = bounded(None, 1, 16)


@dataclass(frozen=True)
class ReconnectConfig:
    """How a live stream that drops is reopened: ``attempts`` tries, delays doubling."""

    attempts: int = bounded(5, 0, 1_000_000)
    initial_delay_s: float = bounded(0.5, 0.0, 3600.0)
    max_delay_s: float = bounded(8.0, 0.0, 3600.0)


@dataclass(frozen=True)
class SinkConfig:
    """One sink of any registered kind (``names.SINKS``), or a ``module:Class`` of your own.

    ``path``: the file it writes, or a template holding ``{source}`` (one file
    per source); ``None`` for sinks that write no file. ``options``: plain YAML
    values handed to the sink as they are (a broker's address, a topic, ...).
    """

    kind: str = named(names.SINKS, names.sink_kind)
    path: str | None = None
    # Not part of the hash: a frozen config stays hashable while options is a dict.
    options: dict[str, object] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class SourceOutputConfig:
    """One source's own sinks in a multi-source run (``sources: [{uri: ..., output: {...}}]``)."""

    display: bool = False
    video: str | None = None
    predictions: str | None = None
    segments: str | None = None
    # This source's sinks beyond the file keys above: any registered kind, or your own module:Class.
    sinks: tuple[SinkConfig, ...] = ()


@dataclass(frozen=True)
class SourceConfig:
    """Where frames come from.

    ``uri``: a webcam index (``0``), a video file, an ``rtsp://``/``http(s)://``
    URL, or a folder / glob of images. ``policy``: ``auto`` follows the kind
    (``latest`` for cameras and streams: drop stale frames so the picture never
    lags; ``block`` for files and images: every frame, in order, exactly once).
    ``realtime`` plays a file at its native rate under the ``latest`` policy.
    """

    uri: str = "0"
    id: str | None = None
    policy: str = one_of("auto", names.POLICIES)
    realtime: bool = False
    open_timeout_s: float = bounded(10.0, 0.1, 3600.0)
    read_timeout_s: float = bounded(5.0, 0.1, 3600.0)
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    output: SourceOutputConfig = field(default_factory=SourceOutputConfig)
    events: EventsConfig | None = None  # this source's own event rules, instead of the run's

    def check(self, path: str) -> None:
        if not self.uri.strip():
            raise ConfigError(f"{key_path(path, 'uri')}: is empty; give a camera index, file, URL or folder")


@dataclass(frozen=True)
class HysteresisConfig:
    """When the shown label may change: another class must lead it by ``margin``
    (in probability) for ``frames`` frames in a row. ``margin: 0`` and ``frames: 1``
    turn it off (the shown label is the top class of every frame)."""

    margin: float = bounded(0.0, 0.0, 1.0)
    frames: int = bounded(1, 1, 100_000)

    @property
    def enabled(self) -> bool:
        return self.margin > 0 or self.frames > 1


@dataclass(frozen=True)
class PostprocessConfig:
    """Top-k, a score threshold below which the label is ``unknown``, temporal behaviour.

    Per-frame labels flicker. ``smoothing`` averages the probability vectors over
    time: ``window`` (the last ``window`` frames, equally weighted) or ``ema``
    (exponential moving average; ``ema_alpha`` is the newest frame's weight, so
    about ``2 / ema_alpha - 1`` frames count). ``hysteresis`` then holds the shown
    label until another class clearly leads for long enough. The shown label is
    ``smoothed_label`` in the predictions and what the segments output records.
    ``segments_max_gap_s``: a live stream that delivers nothing for longer than
    this ends the current segment (a reconnect gap is not part of any segment).
    """

    top_k: int = bounded(3, 1, 1000)
    threshold: float = bounded(0.0, 0.0, 1.0)
    smoothing: Literal["none", "window", "ema"] = "none"
    window: int = bounded(5, 1, 10_000)
    ema_alpha: float = 0.3
    hysteresis: HysteresisConfig = field(default_factory=HysteresisConfig)
    segments_max_gap_s: float = bounded(2.0, 0.01, 86_400.0)

    def check(self, path: str) -> None:
        if not 0.0 < self.ema_alpha <= 1.0:
            raise ConfigError(
                f"{key_path(path, 'ema_alpha')}: received {self.ema_alpha}; expected a weight "
                f"in (0, 1] (1: no smoothing; 0.3 averages about 6 frames)"
            )

    @property
    def temporal(self) -> bool:
        """Whether anything beyond the single frame shapes the shown label."""
        return self.smoothing != "none" or self.hysteresis.enabled


@dataclass(frozen=True)
class OutputConfig:
    """Sinks: any combination, or none at all (benchmarking).

    ``video``: annotated video path (same size and frame rate as the source);
    ``codec``: ``auto`` tries H.264 (``avc1``) then ``mp4v``, or a FourCC.
    ``predictions``: ``.jsonl`` or ``.csv``, one record per frame.
    ``segments``: ``.csv``, ``.jsonl`` or ``.json``, one record per run of one shown label.
    """

    display: bool = True
    video: str | None = None
    codec: str = "auto"
    predictions: str | None = None
    segments: str | None = None
    max_frames: int | None = bounded(None, 1, 10**12)  # per source
    progress: bool = True
    # several sources: how often the grid (window or video) is redrawn
    grid_fps: float = bounded(15.0, 0.1, 240.0)
    # A run stops, closing every file whole, when the output folder's free space falls
    # below this: a video needs room for its index at the end to stay playable.
    min_free_mb: float = bounded(64.0, 0.0, 10**7)
    # Sinks beyond the file keys above, for every source: any registered kind
    # (names.SINKS), or your own module:Class, each with its path and options.
    sinks: tuple[SinkConfig, ...] = ()


@dataclass(frozen=True)
class AugmentConfig:
    """Training-only picture changes (never applied to validation)."""

    flip: bool = True  # left-right
    # random crops keep at least this fraction of each side (1: off)
    crop_scale: float = bounded(0.8, 0.3, 1.0)
    brightness: float = bounded(0.15, 0.0, 1.0)  # +- this much of the [-1, 1] range
    contrast: float = bounded(0.2, 0.0, 0.9)  # contrast factor in [1 - c, 1 + c]


@dataclass(frozen=True)
class TrainConfig:
    """``streamcls train``: data, split, two phases, early stopping.

    Phase 1 trains the head with the backbone frozen. Phase 2 (``fine_tune_blocks``
    above 0) unfreezes the top blocks of MobileNet's 13 depthwise blocks (13: all of
    it) at ``fine_tune_learning_rate``.
    """

    epochs: int = bounded(10, 1, 100_000)
    batch_size: int = bounded(32, 1, 4096)
    learning_rate: float = 1e-3
    validation_fraction: float = bounded(0.2, 0.0, 0.9)
    validation_data: str | None = None  # an explicit folder instead of a split
    # frames taken per second of each labelled video segment
    sample_fps: float = bounded(5.0, 0.01, 1000.0)
    fine_tune_blocks: int = bounded(0, 0, 13)
    fine_tune_epochs: int = bounded(5, 0, 100_000)
    fine_tune_learning_rate: float = 1e-4
    # epochs without a better validation loss before stopping
    patience: int = bounded(3, 1, 100_000)
    class_weights: bool = True  # weigh classes by their inverse frequency
    seed: int = 0
    augment: AugmentConfig = field(default_factory=AugmentConfig)


@dataclass(frozen=True)
class Config:
    """The whole configuration file."""

    model: ModelConfig = field(default_factory=ModelConfig)
    inference: InferenceConfig = field(default_factory=InferenceConfig)
    source: SourceConfig = field(default_factory=SourceConfig)
    # Several sources in one run: each entry a source (uri, id, policy, reconnect, its own
    # output); keys it leaves out come from ``source:``, which then acts as their defaults.
    sources: tuple[SourceConfig, ...] = ()
    postprocess: PostprocessConfig = field(default_factory=PostprocessConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)

    def check(self, path: str) -> None:
        ids = [source.id for source in self.sources if source.id]
        repeated = sorted({source_id for source_id in ids if ids.count(source_id) > 1})
        if repeated:
            raise ConfigError(
                f"{key_path(path, 'sources')}: id {', '.join(repeated)} given to more than "
                f"one source; ids name each source in records and file names, so make them unique"
            )
