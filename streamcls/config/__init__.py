"""Typed configuration: one YAML file becomes nested frozen dataclasses.

Every key has a default, so an empty file (or no file) is a valid config: the
ImageNet classifier at 224x224. Unknown keys and wrong types are refused with
the key's path, what was received and what was expected, before anything heavy
(TensorFlow) is imported.

Example::

    config = load_config("configs/imagenet.yaml")
    config.model.input_size          # InputSize(height=224, width=224)
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

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
            f"{key}: received {value!r}; expected HEIGHTxWIDTH such as 160x160 or 240x320 "
            f"(or one number for a square)"
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


@dataclass(frozen=True)
class InferenceConfig:
    """How batches run: up to ``batch_size`` frames per call, on ``device``.

    The batcher runs a batch when it is full or when its first frame has waited
    ``max_batch_wait_ms``, whichever comes first.
    """

    batch_size: int = 8
    max_batch_wait_ms: float = 20.0
    device: Literal["auto", "cpu", "gpu"] = "auto"
    # keras: the compiled Keras model. tflite*: the same model converted for the LiteRT
    # interpreter (XNNPACK, CPU): float32, float16 weights, dynamic-range or full int8.
    backend: Literal["keras", "tflite", "tflite-float16", "tflite-dynamic", "tflite-int8"] = "keras"
    threads: int | None = None  # LiteRT interpreter threads; None: every core this process may use
    calibration: str | None = None  # int8: a video or image folder; None: the run's own file source
    calibration_frames: int = 200
    # Several sources: which frames a batch takes first. round_robin: one from each source
    # in turn; oldest_first: those that have waited longest. Either way a fast source
    # cannot starve a slow one.
    fairness: Literal["round_robin", "oldest_first"] = "round_robin"
    # Inference threads. 2 overlaps two batches, using the CPU time one call leaves idle;
    # each source's results stay in order. None: 1 for one source (the least latency),
    # 2 for several (measured: +50% frames/s with 4 live sources on 2 cores).
    workers: int | None = None


@dataclass(frozen=True)
class ReconnectConfig:
    """How a live stream that drops is reopened: ``attempts`` tries, delays doubling."""

    attempts: int = 5
    initial_delay_s: float = 0.5
    max_delay_s: float = 8.0


@dataclass(frozen=True)
class SinkConfig:
    """One output of any registered kind (``config/names.py``), or your own ``module:Class``."""

    kind: str = "predictions"
    path: str | None = None  # a file, or a template holding {source}
    options: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceOutputConfig:
    """One source's own sinks in a multi-source run (``sources: [{uri: ..., output: {...}}]``)."""

    display: bool = False
    video: str | None = None
    predictions: str | None = None
    segments: str | None = None
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
    policy: Literal["auto", "block", "latest"] = "auto"
    realtime: bool = False
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0
    reconnect: ReconnectConfig = field(default_factory=ReconnectConfig)
    output: SourceOutputConfig = field(default_factory=SourceOutputConfig)


@dataclass(frozen=True)
class HysteresisConfig:
    """When the shown label may change: another class must lead it by ``margin``
    (in probability) for ``frames`` frames in a row. ``margin: 0`` and ``frames: 1``
    turn it off (the shown label is the top class of every frame)."""

    margin: float = 0.0
    frames: int = 1

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

    top_k: int = 3
    threshold: float = 0.0
    smoothing: Literal["none", "window", "ema"] = "none"
    window: int = 5
    ema_alpha: float = 0.3
    hysteresis: HysteresisConfig = field(default_factory=HysteresisConfig)
    segments_max_gap_s: float = 2.0

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
    sinks: tuple[SinkConfig, ...] = ()  # outputs of any registered kind, or your own module:Class
    max_frames: int | None = None  # per source
    progress: bool = True
    grid_fps: float = 15.0  # several sources: how often the grid (window or video) is redrawn
    # A run stops, closing every file whole, when the output folder's free space falls
    # below this: a video needs room for its index at the end to stay playable.
    min_free_mb: float = 64.0


@dataclass(frozen=True)
class AugmentConfig:
    """Training-only picture changes (never applied to validation)."""

    flip: bool = True  # left-right
    crop_scale: float = 0.8  # random crops keep at least this fraction of each side (1: off)
    brightness: float = 0.15  # +- this much of the [-1, 1] range
    contrast: float = 0.2  # contrast factor in [1 - c, 1 + c]


@dataclass(frozen=True)
class TrainConfig:
    """``streamcls train``: data, split, two phases, early stopping.

    Phase 1 trains the head with the backbone frozen. Phase 2 (``fine_tune_blocks``
    above 0) unfreezes the top blocks of MobileNet's 13 depthwise blocks (13: all of
    it) at ``fine_tune_learning_rate``.
    """

    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 1e-3
    validation_fraction: float = 0.2
    validation_data: str | None = None  # an explicit folder instead of a split
    sample_fps: float = 5.0  # frames taken per second of each labelled video segment
    fine_tune_blocks: int = 0
    fine_tune_epochs: int = 5
    fine_tune_learning_rate: float = 1e-4
    patience: int = 3  # epochs without a better validation loss before stopping
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
    train: TrainConfig = field(default_factory=TrainConfig)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> Config:
    """Load and validate a YAML config; ``None`` gives the defaults.

    Args:
        path: the YAML file, or ``None``.
        overrides: dotted keys to values, applied on top of the file, for
            command-line flags (``{"model.input_size": "160x160"}``).

    Raises:
        ConfigError: the file is missing, not YAML, or any key is wrong.
    """
    data: dict[str, Any] = {}
    if path is not None:
        data = _read_yaml(Path(path))
    for dotted_key, value in (overrides or {}).items():
        _set_dotted(data, dotted_key, value)
    _inherit_source_defaults(data)
    return from_mapping(Config, data, "")


def _inherit_source_defaults(data: dict[str, Any]) -> None:
    """Each ``sources:`` entry takes the keys it leaves out from ``source:`` (not its uri or id)."""
    entries, defaults = data.get("sources"), data.get("source")
    if not isinstance(entries, list):
        return
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or "uri" not in entry:
            raise ConfigError(f"sources[{number}]: received {_describe(entry)}; expected a mapping with at "
                              f"least uri: (a camera index, file, URL or image folder)")
    if isinstance(defaults, dict):
        inherited = {key: value for key, value in defaults.items() if key not in ("uri", "id")}
        data["sources"] = [_merged(inherited, entry) for entry in entries]


def _merged(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        merged[key] = _merged(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) \
            else value
    return merged


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # a small import; kept here so importing config stays free of side effects

    if path.is_dir():
        raise ConfigError(
            f"config file {str(path)!r} is a folder; expected a YAML file: pass one such as "
            f"{str(path / 'run.yaml')!r}"
        )
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} does not exist; pass an existing YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"config file {str(path)!r} is not UTF-8 text (byte 0x{error.object[error.start]:02x} at offset "
            f"{error.start}); expected a YAML text file: save it as UTF-8"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"config file {str(path)!r} cannot be read ({error.strerror}); check its permissions"
        ) from None
    try:
        data = yaml.load(text, Loader=_config_loader())  # safe: the loader derives from SafeLoader
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid syntax"
        context, opened = getattr(error, "context", None), getattr(error, "context_mark", None)
        if context and opened and mark and opened.line != mark.line:  # where an unclosed bracket began
            problem += f" ({context} that starts at line {opened.line + 1})"
        fix = "fix the syntax there"
        if "'\\t'" in problem:
            fix = "indent with spaces, not tabs"
        elif "constructor for the tag" in problem:
            fix = "remove the tag: a config holds plain values only"
        raise ConfigError(f"config file {str(path)!r} is not valid YAML{where}: {problem}; {fix}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"config file {str(path)!r} holds a {_KINDS.get(type(data).__name__, type(data).__name__)}; "
            f"expected a mapping with sections such as 'model:' and 'inference:', each on its own line"
        )
    return data


_KINDS = {"str": "single string", "int": "single number", "float": "single number",
          "bool": "single true/false"}


def _config_loader() -> type:
    """PyYAML's ``SafeLoader`` (no Python objects) with two surprises of YAML 1.1 removed.

    A key given twice in one mapping is refused with its key path: PyYAML silently
    keeps the last, so the first value would be ignored without a word. Numbers
    follow YAML 1.2: integers are decimal only (``0x100`` is text, so an input
    size typed as ``0x100`` is refused rather than read as hex 256, and ``0160``
    is 160, not octal 112), and ``1e-3`` is a float rather than text.
    """
    import yaml

    int_tag, float_tag = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"

    class ConfigLoader(yaml.SafeLoader):
        def construct_document(self, node: yaml.Node) -> Any:
            _refuse_duplicate_keys(node, "")
            return super().construct_document(node)

    ConfigLoader.yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag not in (int_tag, float_tag)]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    ConfigLoader.add_implicit_resolver(int_tag, re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789"))
    ConfigLoader.add_implicit_resolver(
        float_tag,
        re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                   r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
        list("-+0123456789."),
    )
    ConfigLoader.add_constructor(int_tag, lambda loader, node: int(loader.construct_scalar(node)))
    return ConfigLoader


def _refuse_duplicate_keys(node: Any, path: str, visited: set[int] | None = None) -> None:
    import yaml

    visited = set() if visited is None else visited
    if id(node) in visited:  # an alias of a node already checked (or of its own parent)
        return
    visited.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _refuse_duplicate_keys(item, f"{path}[{index}]", visited)
    if not isinstance(node, yaml.MappingNode):
        return
    seen: dict[str, int] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
            continue  # '<<: *defaults' merges; explicit keys beside it override, as YAML says
        key_path = f"{path}.{key_node.value}" if path else str(key_node.value)
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise ConfigError(
                f"{key_path}: given twice (lines {seen[key_node.value]} and {line}); expected once "
                f"(YAML would silently keep the last): delete one, or merge the two"
            )
        seen[key_node.value] = line
        _refuse_duplicate_keys(value_node, key_path, visited)


def _set_dotted(data: dict[str, Any], dotted_key: str, value: Any) -> None:
    *parents, leaf = dotted_key.split(".")
    node = data
    for depth, part in enumerate(parents):
        child = node.get(part)
        if child is not None and not isinstance(child, dict):
            # Replacing it would hide the file's mistake behind the flag's value.
            raise ConfigError(
                f"{'.'.join(parents[: depth + 1])}: received {_describe(child)}; expected a mapping of keys"
            )
        if child is None:
            child = {}
            node[part] = child
        node = child
    node[leaf] = value


def from_mapping(cls: type, data: object, path: str) -> Any:
    """Build dataclass ``cls`` from ``data``, checking every key and type.

    ``path`` is the dotted key of ``data`` in the file, used in messages.
    """
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path or 'config'}: received {_describe(data)}; expected a mapping of keys"
        )
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    values: dict[str, Any] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(
                f"{key_path}: unknown key; {hint}valid keys here are {', '.join(names)}"
            )
        values[key] = _coerce(value, hints[key], key_path)
    return _check(cls(**values), path)


def _coerce(value: object, hint: Any, path: str) -> Any:
    origin = typing.get_origin(hint)
    if hint is InputSize:
        return parse_input_size(value, path)
    if dataclasses.is_dataclass(hint):
        # 'model:' with every key below it commented out is an empty section: its defaults.
        return from_mapping(typing.cast(type, hint), {} if value is None else value, path)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        (inner,) = [option for option in options if option is not type(None)]
        return _coerce(value, inner, path)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise ConfigError(
                f"{path}: received {value!r}; expected one of {', '.join(map(str, allowed))}"
            )
        return value
    if origin is tuple:
        (item_hint, _ellipsis) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{path}: received {_describe(value)}; expected a list")
        return tuple(_coerce(item, item_hint, f"{path}[{i}]") for i, item in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path}: received {_describe(value)}; expected true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path}: received {_describe(value)}; expected a whole number")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{path}: received {_describe(value)}; expected a number")
        return float(value)
    if typing.get_origin(hint) is dict:  # free options handed to a sink
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: received {_describe(value)}; expected a mapping of keys")
        return dict(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{path}: received {_describe(value)}; expected text")
        return value
    raise TypeError(f"config type {hint!r} at {path} has no reader")  # a bug in this module


def _describe(value: object) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{shown} ({type(value).__name__})"


def _check(instance: Any, path: str) -> Any:
    """Range checks that a type alone cannot say."""

    def where(key: str) -> str:
        return f"{path}.{key}" if path else key

    if isinstance(instance, ModelConfig):
        if instance.alpha is not None and instance.alpha not in ALPHAS:
            raise ConfigError(
                f"{where('alpha')}: received {instance.alpha}; expected one of "
                f"{', '.join(map(str, ALPHAS))} (the MobileNet widths with published weights)"
            )
        head = instance.head
        # Also checked when the model is built (load.py); here, before TensorFlow is imported.
        if instance.bundle is None and head.kind == "imagenet" and 0 < len(head.classes) != 1000:
            raise ConfigError(
                f"{where('head.classes')}: received {len(head.classes)} class names, but the "
                f"imagenet head has the 1000 ImageNet classes; remove the list, or set "
                f"{where('head.kind')}: dense"
            )
    if isinstance(instance, HeadConfig):
        if instance.units < 1:
            raise ConfigError(f"{where('units')}: received {instance.units}; expected 1 or more")
        if not 0.0 <= instance.dropout < 1.0:
            raise ConfigError(
                f"{where('dropout')}: received {instance.dropout}; expected a rate in [0, 1)"
            )
        if len(set(instance.classes)) != len(instance.classes):
            duplicates = sorted({c for c in instance.classes if instance.classes.count(c) > 1})
            raise ConfigError(
                f"{where('classes')}: {', '.join(duplicates)} listed more than once; "
                f"class names must be unique"
            )
    if isinstance(instance, InferenceConfig):
        _in_range(where("batch_size"), instance.batch_size, 1, 1024)
        _in_range(where("max_batch_wait_ms"), instance.max_batch_wait_ms, 0, 10_000)
        if instance.threads is not None:
            _in_range(where("threads"), instance.threads, 1, 256)
        _in_range(where("calibration_frames"), instance.calibration_frames, 10, 100_000)
        if instance.workers is not None:
            _in_range(where("workers"), instance.workers, 1, 16)
    if isinstance(instance, PostprocessConfig):
        _in_range(where("top_k"), instance.top_k, 1, 1000)
        _in_range(where("threshold"), instance.threshold, 0.0, 1.0)
        _in_range(where("window"), instance.window, 1, 10_000)
        if not 0.0 < instance.ema_alpha <= 1.0:
            raise ConfigError(f"{where('ema_alpha')}: received {instance.ema_alpha}; expected a weight "
                              f"in (0, 1] (1: no smoothing; 0.3 averages about 6 frames)")
        _in_range(where("segments_max_gap_s"), instance.segments_max_gap_s, 0.01, 86_400.0)
    if isinstance(instance, HysteresisConfig):
        _in_range(where("margin"), instance.margin, 0.0, 1.0)
        _in_range(where("frames"), instance.frames, 1, 100_000)
    if isinstance(instance, ReconnectConfig):
        _in_range(where("attempts"), instance.attempts, 0, 1_000_000)
        _in_range(where("initial_delay_s"), instance.initial_delay_s, 0.0, 3600.0)
        _in_range(where("max_delay_s"), instance.max_delay_s, 0.0, 3600.0)
    if isinstance(instance, SourceConfig):
        if not instance.uri.strip():
            raise ConfigError(f"{where('uri')}: is empty; give a camera index, file, URL or folder")
        _in_range(where("open_timeout_s"), instance.open_timeout_s, 0.1, 3600.0)
        _in_range(where("read_timeout_s"), instance.read_timeout_s, 0.1, 3600.0)
    if isinstance(instance, TrainConfig):
        _in_range(where("epochs"), instance.epochs, 1, 100_000)
        _in_range(where("batch_size"), instance.batch_size, 1, 4096)
        _in_range(where("validation_fraction"), instance.validation_fraction, 0.0, 0.9)
        _in_range(where("sample_fps"), instance.sample_fps, 0.01, 1000.0)
        _in_range(where("fine_tune_blocks"), instance.fine_tune_blocks, 0, 13)
        _in_range(where("fine_tune_epochs"), instance.fine_tune_epochs, 0, 100_000)
        _in_range(where("patience"), instance.patience, 1, 100_000)
    if isinstance(instance, AugmentConfig):
        _in_range(where("crop_scale"), instance.crop_scale, 0.3, 1.0)
        _in_range(where("brightness"), instance.brightness, 0.0, 1.0)
        _in_range(where("contrast"), instance.contrast, 0.0, 0.9)
    if isinstance(instance, OutputConfig):
        if instance.max_frames is not None:
            _in_range(where("max_frames"), instance.max_frames, 1, 10**12)
        _in_range(where("min_free_mb"), instance.min_free_mb, 0.0, 10**7)
        _in_range(where("grid_fps"), instance.grid_fps, 0.1, 240.0)
    if isinstance(instance, Config):
        ids = [source.id for source in instance.sources if source.id]
        repeated = sorted({source_id for source_id in ids if ids.count(source_id) > 1})
        if repeated:
            raise ConfigError(f"sources: id {', '.join(repeated)} given to more than one source; ids name "
                              f"each source in records and file names, so make them unique")
    return instance


def _in_range(key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{key}: received {value}; expected {low} to {high}")
