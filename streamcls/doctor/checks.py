"""Whether a run's config and source will find what they need, each asked of the module that decides.

The rules are not restated here. What counts as a picture is the image source's
(:func:`streamcls.sources.images.list_pictures`); what a URI names, the source
opener's (:func:`streamcls.sources.describe_source`); whether a path can be a video
file, the video source's (:func:`streamcls.sources.video.file_problem`); which
backends exist and what each needs, the registry (:mod:`streamcls.config.names`) and
each backend module's ``missing_runtime()``; which ImageNet files a run accepts, the
weight loader's (:func:`streamcls.model.imagenet.weight_candidates`); whether a window
can open, the window sink's (``display_available``, collected with the facts).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

from streamcls.config import names
from streamcls.doctor.facts import (
    CameraProbe,
    Environment,
    Runtime,
    Video,
    first_line,
    probe_cameras,
    run_bounded,
)
from streamcls.doctor.report import Check, Status

if TYPE_CHECKING:
    from streamcls.config import Config, InputSize

# Default ports of the stream schemes (streamcls.sources.describe.STREAM_SCHEMES) that doctor
# contacts; a scheme without one here (udp, tcp without a port) is not contacted.
STREAM_PORTS = {"rtsp": 554, "rtsps": 322, "rtmp": 1935, "http": 80, "https": 443}
# The module whose runtime the facts' LiteRT version describes.
LITERT_MODULE = "streamcls.model.backends.litert"


def environment_checks(environment: Environment) -> list[Check]:
    """The fact lines; TensorFlow and OpenCV that do not import are problems for any run."""
    runtime, video = environment.runtime, environment.video
    checks = [Check("python", f"{environment.python} ({environment.python_executable})")]
    if runtime.tensorflow is None:
        checks.append(
            Check(
                "tensorflow",
                f"does not import: {runtime.error}",
                Status.PROBLEM,
                "pip install 'tensorflow>=2.16,<3' 'keras>=3.3,<4' into this Python",
            )
        )
    else:
        checks += [Check("tensorflow", runtime.tensorflow, Status.OK), Check("keras", runtime.keras or "", Status.OK)]
    checks.append(Check("devices", ", ".join(runtime.devices) or "unknown"))
    checks += [Check("gpu", gpu) for gpu in runtime.gpus] or [Check("gpu", "none seen by TensorFlow")]
    lite = "tf.lite.Interpreter serves instead" if runtime.tf_lite else "and TensorFlow has no tf.lite"
    litert = f"ai_edge_litert {runtime.litert}" if runtime.litert else f"not installed; {lite}"
    checks.append(Check("litert", litert))
    if video.opencv is None:
        checks.append(
            Check(
                "opencv",
                f"does not import: {video.error}",
                Status.PROBLEM,
                "pip install opencv-python (or opencv-python-headless without windows)",
            )
        )
        return checks
    present = set(video.camera_backends + video.stream_backends + video.writer_backends)
    home = " (from KERAS_HOME)" if os.environ.get("KERAS_HOME") else " (set KERAS_HOME for another)"
    checks += [
        Check("opencv", video.opencv, Status.OK),
        Check("camera backends", ", ".join(video.camera_backends) or "none"),
        Check("stream backends", ", ".join(video.stream_backends) or "none"),
        Check("writer backends", ", ".join(video.writer_backends) or "none"),
        *(
            Check(label, "yes" if name in present else "no")
            for label, name in (("ffmpeg", "FFMPEG"), ("gstreamer", "GSTREAMER"), ("v4l2", "V4L2"))
        ),
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


def model_check(config: Config) -> Check:
    """The bundle or weight file the model loads from is there and readable."""
    model = config.model
    if model.bundle is not None:
        from streamcls.errors import BundleError
        from streamcls.model.bundle import read_manifest

        try:
            manifest = read_manifest(model.bundle)
        except BundleError as error:
            what, _, fix = str(error).partition("; ")  # streamcls errors: "what happened; the fix"
            return Check("bundle", what, Status.PROBLEM, fix)
        classes = len(manifest.get("model", {}).get("classes", []))
        return Check("bundle", f"{model.bundle} ({classes} classes)", Status.OK)
    if model.weights.lower() == "none":
        return Check("weights", "none (random initialisation)", Status.OK)
    if model.weights.lower() == "imagenet":
        from streamcls.model.load import DEFAULT_ALPHA, DEFAULT_INPUT_SIZE

        return _imagenet_check(
            model.alpha or DEFAULT_ALPHA,
            model.input_size or DEFAULT_INPUT_SIZE,
            include_top=model.head.kind == "imagenet",
        )
    path = Path(model.weights).expanduser()
    if not path.is_file():
        return Check(
            "weights",
            f"weight file {path} does not exist",
            Status.PROBLEM,
            "set model.weights to an existing .h5 or .weights.h5 file, imagenet, or none",
        )
    damage = _hdf5_damage(path)
    if damage:
        return Check("weights", f"{path} {damage}", Status.PROBLEM, "save or copy the weight file again")
    return Check("weights", str(path), Status.OK)


def imagenet_candidates(alpha: float, input_size: InputSize, include_top: bool) -> list[str]:
    """The cache file names a run would use, best first (the loader's own list)."""
    from streamcls.model.imagenet import weight_candidates

    return [name for _, names in weight_candidates(alpha, input_size, include_top) for name in names]


def _imagenet_check(alpha: float, input_size: InputSize, include_top: bool) -> Check:
    from streamcls.model.imagenet import BASE_URL, models_cache_dir

    folder = models_cache_dir()
    candidates = imagenet_candidates(alpha, input_size, include_top)
    cached = [name for name in candidates if (folder / name).is_file()]
    if cached:
        damage = _hdf5_damage(folder / cached[0])
        if damage:
            return Check(
                "weights",
                f"{cached[0]} in {folder} {damage}",
                Status.PROBLEM,
                f"delete {folder / cached[0]} and download it again from {BASE_URL}{cached[0]}",
            )
        return Check("weights", f"imagenet: {cached[0]} cached in {folder}", Status.OK)
    wanted = candidates[0]
    also = f" (nor {', '.join(candidates[1:])})" if len(candidates) > 1 else ""
    return Check(
        "weights",
        f"imagenet: {wanted} is not in the Keras cache {folder}{also}",
        Status.PROBLEM,
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


def device_check(device: str, runtime: Runtime) -> Check:
    """``inference.device`` against the devices TensorFlow sees."""
    if runtime.tensorflow is None:  # already a problem of its own, above
        return Check("device", f"{device}: unknown, TensorFlow did not import")
    has_gpu = bool(runtime.gpus)
    if device == "gpu" and not has_gpu:
        return Check(
            "device",
            "gpu requested, but TensorFlow sees no GPU",
            Status.PROBLEM,
            "set inference.device: cpu (or auto; --device cpu), or install a CUDA-enabled "
            "TensorFlow: pip install 'tensorflow[and-cuda]'",
        )
    chosen = "GPU:0" if has_gpu and device != "cpu" else "CPU:0"
    return Check("device", f"{device}: runs on {chosen}", Status.OK)


def backend_check(config: Config, uri: str | None, runtime: Runtime) -> Check:
    """``inference.backend``, asked of its registry entry and of its module's ``missing_runtime()``."""
    from streamcls.sources import describe_source

    name = config.inference.backend
    entry = names.backend(name)
    if entry.cpu_only and config.inference.device == "gpu":
        on_gpu = " or ".join(other.name for other in names.BACKENDS.values() if not other.cpu_only)
        return Check(
            "backend",
            f"{name} runs on the CPU only, but inference.device is gpu",
            Status.PROBLEM,
            f"set inference.device: cpu or auto, or inference.backend: {on_gpu} for the GPU",
        )
    missing = missing_runtime(entry)
    if missing:
        what, _, fix = missing.rpartition("; ")  # "what is missing; the fix", the fix last
        return Check("backend", f"{name} {what or fix}", Status.PROBLEM, fix if what else "")
    calibration = config.inference.calibration or uri  # the run calibrates on its own file
    if entry.needs_calibration and (calibration is None or describe_source(calibration).live):
        return Check(
            "backend",
            f"{name} needs calibration frames, and the source is live",
            Status.PROBLEM,
            "set inference.calibration to a video file or image folder with frames like the camera's",
        )
    if entry.target.partition(":")[0] != LITERT_MODULE:
        return Check("backend", name, Status.OK)
    runtime_name = f"LiteRT {runtime.litert}" if runtime.litert else "tf.lite"
    return Check("backend", f"{name} via {runtime_name}", Status.OK)


def missing_runtime(entry: names.Backend) -> str | None:
    """What the backend's module says is missing (its ``missing_runtime()``), or None.

    A module without that function is taken as usable; one that does not import is
    itself what is missing.
    """
    module_name = entry.target.partition(":")[0]
    try:
        module = importlib.import_module(module_name)
    except Exception as error:  # noqa: BLE001  a broken install fails in many ways: report it
        return (
            f"needs module {module_name}, which does not import ({first_line(error)}); "
            f"install it, or check the spelling"
        )
    ask = getattr(module, "missing_runtime", None)
    return ask() if callable(ask) else None


def display_check(wanted: bool, video: Video) -> Check:
    """``output.display`` against the window sink's own answer (collected in the facts)."""
    if video.display:
        return Check("display", "yes", Status.OK if wanted else Status.INFO)
    if not wanted:
        return Check("display", f"no ({video.display_reason}); output.display is false")
    return Check(
        "display",
        f"none ({video.display_reason}); the run goes on without a window",
        Status.WARNING,
        "set output.display: false (or --no-display), or run where a display answers",
    )


def source_check(uri: str, video: Video, probe_timeout_s: float) -> Check:
    """Whether the source ``uri`` names is there: the kind is :func:`describe_source`'s."""
    from streamcls.redact import mask_uri
    from streamcls.sources import describe_source

    spec = describe_source(uri)
    shown = mask_uri(spec.uri)
    if spec.kind == "camera":
        return _camera_check(int(spec.uri), video, probe_timeout_s)
    if spec.kind == "stream":
        if "FFMPEG" not in video.stream_backends:
            return Check(
                "source",
                f"stream {shown}: OpenCV has no FFmpeg backend to open it",
                Status.PROBLEM,
                "pip install opencv-python (its wheels include FFmpeg; a distribution's or conda's OpenCV may not)",
            )
        return _stream_check(spec.uri, shown, probe_timeout_s)
    if video.opencv is None:  # the sources read through OpenCV; its own line is the problem
        return Check("source", f"{spec.kind} {shown}: not checked, OpenCV did not import")
    if spec.kind == "images":
        return _images_check(spec.uri, shown)
    from streamcls.sources.video import file_problem

    problem = file_problem(spec.uri)
    if problem is not None:
        return Check(
            "source",
            f"video file {shown} {problem.value}",
            Status.PROBLEM,
            "check the path, or pass a camera index, an rtsp:// URL or an image folder",
        )
    return Check("source", f"video file {shown}", Status.OK)


def _images_check(uri: str, shown: str) -> Check:
    from streamcls.sources.images import list_pictures

    pictures, skipped = list_pictures(uri)  # decoded as the source decodes them
    files = len(pictures) + len(skipped)
    if not pictures:
        return Check(
            "source",
            f"image source {shown}: {files} files, no image OpenCV reads",
            Status.PROBLEM,
            "pass a folder of .jpg/.png/.bmp images or a glob such as 'frames/*.jpg'",
        )
    return Check("source", f"image source {shown}: {len(pictures)} images of {files} files", Status.OK)


def _camera_check(index: int, video: Video, probe_timeout_s: float) -> Check:
    known = {probe.index: probe for probe in video.cameras}
    probe = known.get(index) or probe_cameras([index], probe_timeout_s)[0]
    if probe.state == "opened":
        return Check("source", f"camera {index} opens", Status.OK)
    reasons = {
        "no device": f"no /dev/video{index} on this machine",
        "failed": "busy or not a capture device",
        "timed out": f"opening it did not finish within {probe_timeout_s:g} s",
    }
    opened = [str(other.index) for other in video.cameras if other.state == "opened"]
    return Check(
        "source",
        f"camera {index} cannot be opened: {reasons[probe.state]}",
        Status.PROBLEM,
        f"connect the camera or close the program holding it, or pass another source "
        f"(cameras that open: {', '.join(opened) or 'none'})",
    )


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
        failure = first_line(result) if isinstance(result, Exception) else result
    if failure:
        return Check(
            "source",
            f"stream {shown}: {failure}",
            Status.PROBLEM,
            "check the URL, that the camera or server is on, and the network between",
        )
    return Check("source", f"stream {shown}: {address} accepts connections", Status.OK)


def output_checks(config: Config) -> list[Check]:
    """Each configured output whose module can tell whether it will work (a broker, a receiver).

    Asks the sink's own module: ``preflight(settings) -> list[str]``, each problem one
    line that reads "what is wrong; the fix" (``outputs/mqtt.py``, ``outputs/webhook.py``).
    """
    from streamcls.outputs.sink import SinkSettings
    from streamcls.redact import redact

    entries = [(entry, ("every source",)) for entry in config.output.sinks]
    for source in config.sources or (config.source,):
        entries += [(entry, (source.id or source.uri,)) for entry in source.output.sinks]
    checks = []
    for entry, served in entries:
        target = names.sink_kind(entry.kind).target
        preflight = getattr(importlib.import_module(target.partition(":")[0]), "preflight", None)
        if preflight is None:
            continue
        settings = SinkSettings(
            entry.kind, entry.path, dict(entry.options), served, None, config.output, config.postprocess
        )
        problems = preflight(settings)
        where = redact(str(entry.options.get("url") or entry.path or entry.kind))
        if not problems:
            checks.append(Check(f"output {entry.kind}", f"{where} answers", Status.OK))
        for problem in problems:
            what, _, fix = redact(problem).rpartition("; ")
            checks.append(Check(f"output {entry.kind}", what or fix, Status.PROBLEM, fix if what else ""))
    return checks


def service_check(config: Config) -> Check:
    """Whether ``streamcls serve`` could start with this config: its port, its token, its web stack.

    Asks the service's own ``preflight`` (``service/run.py``): the same binding and token
    rules it applies at start.
    """
    from streamcls.service.run import preflight

    address = f"{config.service.host}:{config.service.port}"
    problems = preflight(config)
    if not problems:
        return Check("serve", f"{address} free, token rules met", Status.OK)
    what, _, fix = problems[0].rpartition("; ")
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return Check("serve", (what or fix) + more, Status.PROBLEM, fix if what else "")
