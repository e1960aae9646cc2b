"""What this machine has: Python, TensorFlow, Keras, devices, LiteRT, OpenCV, the display, cameras.

:func:`collect_environment` gathers it all into an :class:`Environment`; nothing here
decides whether a run will work (that is :mod:`streamcls.doctor.checks`). Every probe
that can hang (a camera driver, a DNS lookup) runs through :func:`run_bounded`: a
daemon thread per call and one time limit for all of them.
"""

from __future__ import annotations

# Only light imports here: the CLI imports this package to build its parser, and
# `streamcls --help` must stay instant. TensorFlow and OpenCV come in the functions.
import functools
import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

CAMERA_INDICES = range(5)
PROBE_TIMEOUT_S = 2.0
LINUX_DEVICES = Path("/dev") if sys.platform.startswith("linux") else None
T = TypeVar("T")


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


def collect_environment(probe_timeout_s: float = PROBE_TIMEOUT_S) -> Environment:
    """Every fact doctor reports, with camera probes bounded by ``probe_timeout_s``."""
    import platform

    from streamcls.model.imagenet import models_cache_dir

    cache = models_cache_dir()  # $KERAS_HOME/models or ~/.keras/models, as the loader looks
    cached = tuple(sorted(path.name for path in cache.glob("mobilenet_*.h5"))) if cache.is_dir() else ()
    return Environment(
        platform.python_version(), sys.executable, _runtime(), _video(probe_timeout_s), str(cache), cached
    )


def _runtime() -> Runtime:
    from streamcls.model.runtime import import_keras, import_tensorflow

    try:
        tensorflow = import_tensorflow()
        keras = import_keras()
    except Exception as error:  # noqa: BLE001  a broken install fails in many ways: report it
        return Runtime(None, None, first_line(error), (), (), _litert_version(), False)
    physical = tensorflow.config.list_physical_devices()
    devices = tuple(device.name.replace("/physical_device:", "") for device in physical)
    gpu_devices = [device for device in physical if device.device_type == "GPU"]
    memory = _gpu_memory() if gpu_devices else {}
    gpus = tuple(_describe_gpu(tensorflow, device, memory) for device in gpu_devices)
    tf_lite = hasattr(getattr(tensorflow, "lite", None), "Interpreter")
    return Runtime(tensorflow.__version__, keras.__version__, "", devices, gpus, _litert_version(), tf_lite)


def _gpu_memory() -> dict[str, int]:
    """Bytes TensorFlow may use per GPU ("GPU:0"); device_lib is the one place that says."""
    try:
        from tensorflow.python.client import device_lib

        return {
            local.name.split("device:")[-1]: int(local.memory_limit)
            for local in device_lib.list_local_devices()
            if local.device_type == "GPU"
        }
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
        return Video(None, first_line(error), (), (), (), "unknown", False, "OpenCV did not import", ())
    from streamcls.outputs.window import display_available
    from streamcls.quiet import quiet_native_stderr

    registry = cv2.videoio_registry
    camera, stream, writer = (
        _available_backends(registry, list_backends())
        for list_backends in (registry.getCameraBackends, registry.getStreamBackends, registry.getWriterBackends)
    )
    build = cv2.getBuildInformation().splitlines()
    gui_lines = [line for line in build if line.strip().startswith("GUI:")]
    gui = gui_lines[0].split(":", 1)[1].strip() if gui_lines else "unknown"
    display, reason = display_available()  # the window sink's own answer
    with quiet_native_stderr():  # OpenCV warns on stderr for every index it cannot open
        cameras = probe_cameras(CAMERA_INDICES, probe_timeout_s)
    return Video(cv2.__version__, "", camera, stream, writer, gui, display, reason, cameras)


def _available_backends(registry: Any, backends: list[Any]) -> tuple[str, ...]:
    # The registry also lists plugin backends that are not there (GStreamer in the PyPI wheels).
    names = [registry.getBackendName(backend) for backend in backends if registry.hasBackend(backend)]
    return tuple(dict.fromkeys(names))


def probe_cameras(
    indices: range | list[int],
    timeout_s: float = PROBE_TIMEOUT_S,
    open_camera: Callable[[int], bool] | None = None,
    device_folder: Path | None = LINUX_DEVICES,
) -> tuple[CameraProbe, ...]:
    """Try to open each camera index, all at once, none for longer than ``timeout_s``.

    With ``device_folder`` (``/dev`` on Linux), an index without ``videoN`` there is
    not opened at all: "no device".
    """
    opener = open_camera or _open_camera
    skipped = (
        set()
        if device_folder is None
        else {index for index in indices if not (device_folder / f"video{index}").exists()}
    )
    results = run_bounded(
        {index: functools.partial(opener, index) for index in indices if index not in skipped}, timeout_s
    )

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


def run_bounded(calls: dict[Any, Callable[[], T]], timeout_s: float) -> dict[Any, T | Exception | None]:
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

    threads = {key: threading.Thread(target=run, args=(key, call), daemon=True) for key, call in calls.items()}
    for thread in threads.values():
        thread.start()
    deadline = time.monotonic() + timeout_s
    for thread in threads.values():
        thread.join(max(0.0, deadline - time.monotonic()))
    return {key: None if thread.is_alive() else results.get(key) for key, thread in threads.items()}


def first_line(error: BaseException) -> str:
    """``TypeName: first line of the message``, for a one-line report."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__
