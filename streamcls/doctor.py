"""``streamcls doctor``: what this machine has, and whether a run's config will find what it needs.

``collect(config, source)`` gathers the facts (Python, TensorFlow, Keras, devices, LiteRT,
OpenCV's video backends and GUI, the display, the Keras weight cache, cameras) and checks
each thing the config needs, returning a :class:`Report`; ``format_report`` and
``report_as_dict`` render it; ``doctor_command`` is what the CLI calls. Nothing here
downloads or contacts more than the configured stream's own host, and every probe that can
hang (a camera driver, a DNS lookup) runs in a daemon thread with a time limit.

Without a config only TensorFlow and OpenCV are required; the rest is reported as
information. URIs are always printed through :func:`streamcls.sources.mask_uri`.
"""

from __future__ import annotations

# Only light imports here: the CLI imports this module to build its parser, and
# `streamcls --help` must stay instant. TensorFlow, OpenCV and h5py come in the functions.
import argparse
import enum
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from streamcls.config import Config, InputSize

logger = logging.getLogger(__name__)

CAMERA_INDICES = range(5)
PROBE_TIMEOUT_S = 2.0
LINUX_DEVICES = Path("/dev") if sys.platform.startswith("linux") else None
STREAM_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}
T = TypeVar("T")


class Status(enum.Enum):
    OK = "ok"  # something the config needs, and it is here
    INFO = "info"  # a fact; nothing depends on it
    WARNING = "warning"  # missing, but the run carries on without it
    PROBLEM = "problem"  # missing, and the run would fail


@dataclass(frozen=True)
class Check:
    """One line of the report: a fact or a need, and (when something is missing) the fix."""

    name: str
    value: str
    status: Status = Status.INFO
    fix: str = ""


@dataclass(frozen=True)
class CameraProbe:
    index: int
    state: str  # "opened", "failed" (busy or not a capture device), "no device", "timed out"


@dataclass(frozen=True)
class Runtime:
    tensorflow: str | None
    keras: str | None
    error: str  # why TensorFlow or Keras did not import; empty when they did
    devices: tuple[str, ...]  # "CPU:0", "GPU:0"
    gpus: tuple[str, ...]  # "GPU:0 NVIDIA A100 (40.0 GiB, compute 8.0)"
    litert: str | None
    tf_lite: bool


@dataclass(frozen=True)
class Video:
    opencv: str | None
    error: str
    camera_backends: tuple[str, ...]
    stream_backends: tuple[str, ...]
    writer_backends: tuple[str, ...]
    gui: str
    display: bool
    display_reason: str
    cameras: tuple[CameraProbe, ...]


@dataclass(frozen=True)
class Environment:
    python: str
    python_executable: str
    runtime: Runtime
    video: Video
    keras_cache: str
    cached_weights: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    environment: Environment
    checks: tuple[Check, ...]
    strict: bool  # a config was given: its model, device, backend and display needs count

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.status is Status.PROBLEM)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.status is Status.WARNING)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``streamcls doctor``."""
    parser.add_argument("--config", help="YAML config file whose needs are checked")
    parser.add_argument("--source",
                        help="camera index, video file, stream URL or image folder to check")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging and tracebacks")


def doctor_command(arguments: argparse.Namespace) -> tuple[str, int]:
    """Run the checks for ``--config``/``--source``; return the text to print and the exit status.

    Raises:
        ConfigError: the config file or ``--source`` is invalid (exit status 2).
    """
    from streamcls.config import load_config

    overrides = {"source.uri": arguments.source} if arguments.source is not None else {}
    config = load_config(arguments.config, overrides)  # validates --source even without a file
    report = collect(config if arguments.config else None, arguments.source,
                     config_path=arguments.config)
    text = json.dumps(report_as_dict(report), indent=2) if arguments.json else format_report(report)
    return text, report.exit_code


def collect(config: Config | None = None, source: str | None = None, *,
            config_path: str | None = None, probe_timeout_s: float = PROBE_TIMEOUT_S) -> Report:
    """Gather the facts and check what ``config`` (and ``source``, overriding its URI) needs.

    ``config`` None checks only what every run needs (TensorFlow, OpenCV); the defaults'
    other needs are reported as information.
    """
    from streamcls.config import Config

    environment = collect_environment(probe_timeout_s)
    effective = config or Config()
    uri = source if source is not None else (config.source.uri if config is not None else None)
    needs = [
        Check("config", config_path or ("given" if config else "none: the defaults")),
        _model_check(effective),
        _device_check(effective.inference.device, environment.runtime),
        _backend_check(effective, uri, environment.runtime),
        _display_check(effective.output.display, environment.video),
    ]
    if config is None:  # the defaults' needs are facts here, not failures
        needs = [check if check.status is Status.OK else replace(check, status=Status.INFO)
                 for check in needs]
    if uri is not None:
        needs.append(_source_check(uri, environment.video, probe_timeout_s))
    else:
        needs.append(Check("source", "none given (pass --source or --config to check one)"))
    return Report(environment, (*_environment_checks(environment), *needs), config is not None)


def collect_environment(probe_timeout_s: float = PROBE_TIMEOUT_S) -> Environment:
    import platform

    from streamcls.model.imagenet import models_cache_dir

    cache = models_cache_dir()  # $KERAS_HOME/models or ~/.keras/models, as the loader looks
    cached = tuple(sorted(path.name for path in cache.glob("mobilenet_*.h5"))) if cache.is_dir() else ()
    return Environment(platform.python_version(), sys.executable, _runtime(), _video(probe_timeout_s),
                       str(cache), cached)


def _runtime() -> Runtime:
    from streamcls.model.runtime import import_keras, import_tensorflow

    try:
        tensorflow = import_tensorflow()
        keras = import_keras()
    except Exception as error:  # noqa: BLE001  a broken install fails in many ways: report it
        return Runtime(None, None, _first_line(error), (), (), _litert_version(), False)
    physical = tensorflow.config.list_physical_devices()
    devices = tuple(device.name.replace("/physical_device:", "") for device in physical)
    gpu_devices = [device for device in physical if device.device_type == "GPU"]
    memory = _gpu_memory() if gpu_devices else {}
    gpus = tuple(_describe_gpu(tensorflow, device, memory) for device in gpu_devices)
    tf_lite = hasattr(getattr(tensorflow, "lite", None), "Interpreter")
    return Runtime(tensorflow.__version__, keras.__version__, "", devices, gpus, _litert_version(),
                   tf_lite)


def _gpu_memory() -> dict[str, int]:
    """Bytes TensorFlow may use per GPU ("GPU:0"); device_lib is the one place that says."""
    try:
        from tensorflow.python.client import device_lib

        return {local.name.split("device:")[-1]: int(local.memory_limit)
                for local in device_lib.list_local_devices() if local.device_type == "GPU"}
    except Exception as error:  # noqa: BLE001  a private module: failing costs only the figure
        logger.debug("GPU memory unknown: %s", error)
        return {}


def _describe_gpu(tensorflow: Any, device: Any, memory: dict[str, int]) -> str:
    name = device.name.replace("/physical_device:", "")
    details = tensorflow.config.experimental.get_device_details(device)
    extras = [f"{memory[name] / 2**30:.1f} GiB"] if memory.get(name) else []
    if details.get("compute_capability"):
        extras.append("compute " + ".".join(map(str, details["compute_capability"])))
    described = f"{name} {details.get('device_name', 'GPU')}"
    return described + (f" ({', '.join(extras)})" if extras else "")


def _litert_version() -> str | None:
    try:
        import ai_edge_litert
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401  what the backend imports
    except Exception:  # noqa: BLE001  installed but broken is as good as absent
        return None
    from importlib import metadata

    return getattr(ai_edge_litert, "__version__", None) or metadata.version("ai-edge-litert")


def _video(probe_timeout_s: float) -> Video:
    try:
        import cv2
    except Exception as error:  # noqa: BLE001  a wheel built for another NumPy fails oddly
        return Video(None, _first_line(error), (), (), (), "unknown", False, "OpenCV did not import", ())
    from streamcls.quiet import quiet_native_stderr
    from streamcls.outputs.window import display_available

    registry = cv2.videoio_registry
    camera, stream, writer = (_available_backends(registry, list_backends()) for list_backends in (
        registry.getCameraBackends, registry.getStreamBackends, registry.getWriterBackends))
    build = cv2.getBuildInformation().splitlines()
    gui_lines = [line for line in build if line.strip().startswith("GUI:")]
    gui = gui_lines[0].split(":", 1)[1].strip() if gui_lines else "unknown"
    display, reason = display_available()
    with quiet_native_stderr():  # OpenCV warns on stderr for every index it cannot open
        cameras = probe_cameras(CAMERA_INDICES, probe_timeout_s)
    return Video(cv2.__version__, "", camera, stream, writer, gui, display, reason, cameras)


def _available_backends(registry: Any, backends: list[Any]) -> tuple[str, ...]:
    # The registry also lists plugin backends that are not there (GStreamer in the PyPI wheels).
    names = [registry.getBackendName(backend) for backend in backends if registry.hasBackend(backend)]
    return tuple(dict.fromkeys(names))


def probe_cameras(indices: range | list[int], timeout_s: float = PROBE_TIMEOUT_S,
                  open_camera: Callable[[int], bool] | None = None,
                  device_folder: Path | None = LINUX_DEVICES) -> tuple[CameraProbe, ...]:
    """Try to open each camera index, all at once, none for longer than ``timeout_s``.

    With ``device_folder`` (``/dev`` on Linux), an index without ``videoN`` there is
    not opened at all: "no device".
    """
    opener = open_camera or _open_camera
    skipped = set() if device_folder is None else {
        index for index in indices if not (device_folder / f"video{index}").exists()}
    results = run_bounded({index: (lambda index=index: opener(index)) for index in indices
                           if index not in skipped}, timeout_s)

    def state(index: int) -> str:
        if index in skipped:
            return "no device"
        result = results[index]
        return "timed out" if result is None else "opened" if result is True else "failed"

    return tuple(CameraProbe(index, state(index)) for index in indices)


def _open_camera(index: int) -> bool:
    import cv2

    capture = cv2.VideoCapture(index)
    try:
        return bool(capture.isOpened())
    finally:
        capture.release()


def run_bounded(calls: dict[Any, Callable[[], T]],
                timeout_s: float) -> dict[Any, T | Exception | None]:
    """Run each call in its own daemon thread; its result, the exception it raised, or
    ``None`` when it did not finish within ``timeout_s`` (all calls share the one limit).

    Daemon threads: a camera driver or DNS lookup that never returns cannot hold the
    process at exit.
    """
    results: dict[Any, Any] = {}

    def run(key: Any, call: Callable[[], T]) -> None:
        try:
            results[key] = call()
        except Exception as error:  # noqa: BLE001  handed to the caller, which reports it
            logger.debug("probe %s failed: %s", key, error)
            results[key] = error

    threads = {key: threading.Thread(target=run, args=(key, call), daemon=True)
               for key, call in calls.items()}
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    return {key: None if thread.is_alive() else results.get(key) for key, thread in threads.items()}


def _environment_checks(environment: Environment) -> list[Check]:
    runtime, video = environment.runtime, environment.video
    checks = [Check("python", f"{environment.python} ({environment.python_executable})")]
    if runtime.tensorflow is None:
        checks.append(Check("tensorflow", f"does not import: {runtime.error}", Status.PROBLEM,
                            "pip install 'tensorflow>=2.16,<3' 'keras>=3.3,<4' into this Python"))
    else:
        checks += [Check("tensorflow", runtime.tensorflow, Status.OK),
                   Check("keras", runtime.keras or "", Status.OK)]
    checks.append(Check("devices", ", ".join(runtime.devices) or "unknown"))
    checks += [Check("gpu", gpu) for gpu in runtime.gpus] or [Check("gpu", "none seen by TensorFlow")]
    lite = "tf.lite.Interpreter serves instead" if runtime.tf_lite else "and TensorFlow has no tf.lite"
    litert = f"ai_edge_litert {runtime.litert}" if runtime.litert else f"not installed; {lite}"
    checks.append(Check("litert", litert))
    if video.opencv is None:
        checks.append(Check("opencv", f"does not import: {video.error}", Status.PROBLEM,
                            "pip install opencv-python (or opencv-python-headless without windows)"))
        return checks
    present = set(video.camera_backends + video.stream_backends + video.writer_backends)
    home = " (from KERAS_HOME)" if os.environ.get("KERAS_HOME") else " (set KERAS_HOME for another)"
    checks += [
        Check("opencv", video.opencv, Status.OK),
        Check("camera backends", ", ".join(video.camera_backends) or "none"),
        Check("stream backends", ", ".join(video.stream_backends) or "none"),
        Check("writer backends", ", ".join(video.writer_backends) or "none"),
        *(Check(label, "yes" if name in present else "no")
          for label, name in (("ffmpeg", "FFMPEG"), ("gstreamer", "GSTREAMER"), ("v4l2", "V4L2"))),
        Check("gui", video.gui),
        Check("keras cache", environment.keras_cache + home),
        Check("cached weights", ", ".join(environment.cached_weights) or "none"),
        Check("cameras", _describe_cameras(video.cameras)),
    ]
    return checks


def _describe_cameras(cameras: tuple[CameraProbe, ...]) -> str:
    if cameras and all(probe.state == "no device" for probe in cameras):
        first, last = cameras[0].index, cameras[-1].index
        return f"none (no /dev/video{first} to /dev/video{last} on this machine)"
    opened = [str(probe.index) for probe in cameras if probe.state == "opened"]
    others = [f"{probe.index} {probe.state}" for probe in cameras if probe.state != "opened"]
    found = f"{', '.join(opened)} opened" if opened else "none"
    return f"{found} ({'; '.join(others)})" if others else found


def _model_check(config: Config) -> Check:
    model = config.model
    if model.bundle is not None:
        from streamcls.errors import BundleError
        from streamcls.model.bundle import read_manifest

        try:
            manifest = read_manifest(model.bundle)
        except BundleError as error:
            what, fix = _split_message(str(error))
            return Check("bundle", what, Status.PROBLEM, fix)
        classes = len(manifest.get("model", {}).get("classes", []))
        return Check("bundle", f"{model.bundle} ({classes} classes)", Status.OK)
    if model.weights.lower() == "none":
        return Check("weights", "none (random initialisation)", Status.OK)
    if model.weights.lower() == "imagenet":
        from streamcls.model.load import DEFAULT_ALPHA, DEFAULT_INPUT_SIZE

        return _imagenet_check(model.alpha or DEFAULT_ALPHA, model.input_size or DEFAULT_INPUT_SIZE,
                               include_top=model.head.kind == "imagenet")
    path = Path(model.weights).expanduser()
    if not path.is_file():
        return Check("weights", f"weight file {path} does not exist", Status.PROBLEM,
                     "set model.weights to an existing .h5 or .weights.h5 file, imagenet, or none")
    damage = _hdf5_damage(path)
    if damage:
        return Check("weights", f"{path} {damage}", Status.PROBLEM,
                     "save or copy the weight file again")
    return Check("weights", str(path), Status.OK)


def imagenet_candidates(alpha: float, input_size: InputSize, include_top: bool) -> list[str]:
    """The cache file names a run would use, best first (the loader's own list)."""
    from streamcls.model.imagenet import weight_candidates

    return [name for _, names in weight_candidates(alpha, input_size, include_top) for name in names]


def _imagenet_check(alpha: float, input_size: InputSize, include_top: bool) -> Check:
    from streamcls.model.imagenet import BASE_URL, models_cache_dir

    folder = models_cache_dir()
    names = imagenet_candidates(alpha, input_size, include_top)
    cached = [name for name in names if (folder / name).is_file()]
    if cached:
        damage = _hdf5_damage(folder / cached[0])
        if damage:
            return Check("weights", f"{cached[0]} in {folder} {damage}", Status.PROBLEM,
                         f"delete {folder / cached[0]} and download it again from "
                         f"{BASE_URL}{cached[0]}")
        return Check("weights", f"imagenet: {cached[0]} cached in {folder}", Status.OK)
    wanted = names[0]
    also = f" (nor {', '.join(names[1:])})" if len(names) > 1 else ""
    return Check(
        "weights", f"imagenet: {wanted} is not in the Keras cache {folder}{also}", Status.PROBLEM,
        f"put it there (curl -L -o {folder / wanted} {BASE_URL}{wanted}, or run once with network "
        f"and Keras downloads it), or set KERAS_HOME to a folder whose models/ holds it, "
        f"or pass --weights FILE / model.weights: FILE",
    )


def _hdf5_damage(path: Path) -> str:
    """Why ``path`` is not a readable HDF5 file (a partial download, an HTML error page), or ''."""
    import h5py

    try:
        with h5py.File(path, "r"):
            return ""
    except OSError as error:
        return f"cannot be read as HDF5 ({str(error).strip() or type(error).__name__})"


def _device_check(device: str, runtime: Runtime) -> Check:
    if runtime.tensorflow is None:  # already a problem of its own, above
        return Check("device", f"{device}: unknown, TensorFlow did not import")
    has_gpu = bool(runtime.gpus)
    if device == "gpu" and not has_gpu:
        return Check("device", "gpu requested, but TensorFlow sees no GPU", Status.PROBLEM,
                     "set inference.device: cpu (or auto; --device cpu), or install a CUDA-enabled "
                     "TensorFlow: pip install 'tensorflow[and-cuda]'")
    chosen = "GPU:0" if has_gpu and device != "cpu" else "CPU:0"
    return Check("device", f"{device}: runs on {chosen}", Status.OK)


def _backend_check(config: Config, uri: str | None, runtime: Runtime) -> Check:
    from streamcls.sources import describe_source

    backend = config.inference.backend
    if backend == "keras":
        return Check("backend", "keras", Status.OK)
    if config.inference.device == "gpu":
        return Check("backend", f"{backend} runs on the CPU only, but inference.device is gpu",
                     Status.PROBLEM,
                     "set inference.device: cpu or auto, or inference.backend: keras for the GPU")
    if runtime.litert is None and not runtime.tf_lite:
        return Check("backend", f"{backend} needs LiteRT; neither ai_edge_litert nor tf.lite is here",
                     Status.PROBLEM, "pip install ai-edge-litert")
    calibration = config.inference.calibration or uri  # the run calibrates on its own file
    if backend == "tflite-int8" and (calibration is None or describe_source(calibration).live):
        return Check("backend", "tflite-int8 needs calibration frames, and the source is live",
                     Status.PROBLEM, "set inference.calibration to a video file or image folder "
                                     "with frames like the camera's")
    runtime_name = f"LiteRT {runtime.litert}" if runtime.litert else "tf.lite"
    return Check("backend", f"{backend} via {runtime_name}", Status.OK)


def _display_check(wanted: bool, video: Video) -> Check:
    if video.display:
        return Check("display", "yes", Status.OK if wanted else Status.INFO)
    if not wanted:
        return Check("display", f"no ({video.display_reason}); output.display is false")
    return Check("display", f"none ({video.display_reason}); the run goes on without a window",
                 Status.WARNING,
                 "set output.display: false (or --no-display), or run where a display answers")


def _source_check(uri: str, video: Video, probe_timeout_s: float) -> Check:
    from streamcls.redact import mask_uri
    from streamcls.sources import describe_source

    spec = describe_source(uri)
    shown = mask_uri(spec.uri)
    if spec.kind == "camera":
        return _camera_check(int(spec.uri), video, probe_timeout_s)
    if spec.kind == "stream":
        if "FFMPEG" not in video.stream_backends:
            return Check("source", f"stream {shown}: OpenCV has no FFmpeg backend to open it",
                         Status.PROBLEM, "pip install opencv-python (its wheels include FFmpeg; "
                                         "a distribution's or conda's OpenCV may not)")
        return _stream_check(spec.uri, shown, probe_timeout_s)
    if spec.kind == "images":
        return _images_check(spec.uri, shown)
    path = Path(spec.uri)
    if not path.is_file() or path.stat().st_size == 0:
        state = "is empty" if path.is_file() else "does not exist"
        return Check("source", f"video file {shown} {state}", Status.PROBLEM,
                     "check the path, or pass a camera index, an rtsp:// URL or an image folder")
    return Check("source", f"video file {shown}", Status.OK)


def _images_check(uri: str, shown: str) -> Check:
    import glob

    import cv2

    folder = Path(uri)
    files = [path for path in (folder.iterdir() if folder.is_dir() else map(Path, glob.glob(uri)))
             if path.is_file()]
    # haveImageReader reads the file's signature only: cheap even for a large folder.
    images = sum(1 for path in files if cv2.haveImageReader(str(path)))
    if images == 0:
        return Check("source", f"image source {shown}: {len(files)} files, no image OpenCV reads",
                     Status.PROBLEM,
                     "pass a folder of .jpg/.png/.bmp images or a glob such as 'frames/*.jpg'")
    return Check("source", f"image source {shown}: {images} images of {len(files)} files", Status.OK)


def _camera_check(index: int, video: Video, probe_timeout_s: float) -> Check:
    known = {probe.index: probe for probe in video.cameras}
    probe = known.get(index) or probe_cameras([index], probe_timeout_s)[0]
    if probe.state == "opened":
        return Check("source", f"camera {index} opens", Status.OK)
    reasons = {"no device": f"no /dev/video{index} on this machine",
               "failed": "busy or not a capture device",
               "timed out": f"opening it did not finish within {probe_timeout_s:g} s"}
    opened = [str(other.index) for other in video.cameras if other.state == "opened"]
    return Check("source", f"camera {index} cannot be opened: {reasons[probe.state]}", Status.PROBLEM,
                 f"connect the camera or close the program holding it, or pass another source "
                 f"(cameras that open: {', '.join(opened) or 'none'})")


def _stream_check(uri: str, shown: str, timeout_s: float) -> Check:
    """Whether the stream's host accepts a TCP connection; FFmpeg would wait much longer to say."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    try:
        port = parts.port or STREAM_PORTS.get(parts.scheme.lower())
    except ValueError:
        port = None
    if not parts.hostname or port is None or parts.scheme.lower() == "udp":
        return Check("source", f"stream {shown} (not contacted)", Status.OK)
    address = f"{parts.hostname}:{port}"  # the host and port only: never the credentials
    hostname = parts.hostname

    def connect() -> str:
        try:
            socket.create_connection((hostname, port), timeout=timeout_s).close()
            return ""
        except socket.gaierror:
            return f"host {hostname} does not resolve"
        except OSError as error:
            reason = error.strerror or type(error).__name__
            return f"nothing accepts connections at {address} ({reason})"

    result = run_bounded({"stream": connect}, timeout_s)["stream"]
    if result is None:
        failure = f"no answer from {address} within {timeout_s:g} s"
    else:
        failure = _first_line(result) if isinstance(result, Exception) else result
    if failure:
        return Check("source", f"stream {shown}: {failure}", Status.PROBLEM,
                     "check the URL, that the camera or server is on, and the network between")
    return Check("source", f"stream {shown}: {address} accepts connections", Status.OK)


def format_report(report: Report) -> str:
    """Aligned text, one fact per line, the fix under each line that needs one, a verdict last."""
    width = max(len(check.name) for check in report.checks) + 2
    lines = []
    for check in report.checks:
        marker = {Status.PROBLEM: "PROBLEM: ", Status.WARNING: "warning: "}.get(check.status, "")
        lines.append(f"{check.name:<{width}}{marker}{check.value}")
        if check.fix:
            label = "fix" if check.status in (Status.PROBLEM, Status.WARNING) else "hint"
            lines.append(f"{'':<{width}}{label}: {check.fix}")
    lines.append(verdict(report))
    return "\n".join(lines)


def verdict(report: Report) -> str:
    """The last line: everything is here, or how many problems and which."""
    problems = report.problems
    if problems:
        listed = ", ".join(check.name for check in problems)
        return f"doctor: {len(problems)} problem(s): {listed} (each with its fix above)"
    line = "doctor: everything this config needs is here"
    notes = [f"{len(report.warnings)} warning(s)"] if report.warnings else []
    if not report.strict:
        notes.append("no --config: only TensorFlow, OpenCV and any --source were required")
    return line + (f" ({'; '.join(notes)})" if notes else "")


def report_as_dict(report: Report) -> dict[str, Any]:
    """The same facts for ``--json``: the environment, every check, and problems with their fixes."""
    def needs(checks: tuple[Check, ...]) -> list[dict[str, str]]:
        return [{"name": check.name, "missing": check.value, "fix": check.fix} for check in checks]

    return {
        "environment": asdict(report.environment),
        "checks": [{**asdict(check), "status": check.status.value} for check in report.checks],
        "problems": needs(report.problems),
        "warnings": needs(report.warnings),
        "ok": not report.problems,
        "verdict": verdict(report),
    }


def _split_message(message: str) -> tuple[str, str]:
    """streamcls errors read 'what happened; how to fix it': split them there."""
    what, _, fix = message.partition("; ")
    return what, fix


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
