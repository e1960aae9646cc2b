"""streamcls doctor: the facts it collects and the problems it finds, with no camera or network.

Every test has an empty KERAS_HOME (conftest.py). Sources that would need hardware or a
network are the failing kind on purpose: camera indices without /dev/videoN, a stream on a
closed loopback port, a file that is not there.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli import help_entries, run_cli

from streamcls.config import InputSize, load_config
from streamcls.doctor import (
    Check,
    Status,
    add_doctor_arguments,
    collect,
    doctor_command,
    format_report,
    imagenet_candidates,
    probe_cameras,
    report_as_dict,
    run_bounded,
)
from streamcls.errors import ConfigError

SECRET_STREAM = "rtsp://user:secret@127.0.0.1:9/x"  # port 9 on loopback: refused at once


def config(tmp_path: Path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_config(path)


def by_name(report) -> dict[str, object]:
    return {check.name: check for check in report.checks}


def doctor(*flags: str) -> tuple[str, int]:
    parser = argparse.ArgumentParser()
    add_doctor_arguments(parser)
    return doctor_command(parser.parse_args(list(flags)))


def no_camera(index: int) -> None:
    if Path(f"/dev/video{index}").exists() or not sys.platform.startswith("linux"):
        pytest.skip(f"this test needs a Linux machine without /dev/video{index}")


def test_versions_are_those_of_the_imported_modules():
    import ai_edge_litert
    import cv2
    import keras
    import tensorflow

    report = collect()
    runtime, video = report.environment.runtime, report.environment.video
    assert report.environment.python == platform.python_version()
    assert report.environment.python_executable == sys.executable
    assert (runtime.tensorflow, runtime.keras) == (tensorflow.__version__, keras.__version__)
    assert runtime.litert == ai_edge_litert.__version__
    assert video.opencv == cv2.__version__
    checks = by_name(report)
    assert checks["tensorflow"].value == tensorflow.__version__
    assert checks["keras"].value == keras.__version__
    assert checks["opencv"].value == cv2.__version__
    assert checks["litert"].value == f"ai_edge_litert {ai_edge_litert.__version__}"


def test_devices_and_video_backends_match_what_the_libraries_say():
    import cv2
    import tensorflow

    report = collect()
    runtime, video = report.environment.runtime, report.environment.video
    assert "CPU:0" in runtime.devices
    assert len(runtime.gpus) == len(tensorflow.config.list_physical_devices("GPU"))
    registry = cv2.videoio_registry
    expected = {registry.getBackendName(b) for b in registry.getStreamBackends() if registry.hasBackend(b)}
    assert set(video.stream_backends) == expected
    checks = by_name(report)
    assert checks["ffmpeg"].value == ("yes" if "FFMPEG" in expected else "no")
    gui_line = next(line for line in cv2.getBuildInformation().splitlines() if line.strip().startswith("GUI:"))
    assert checks["gui"].value == gui_line.split(":", 1)[1].strip()
    cameras = {probe.index: probe.state for probe in video.cameras}
    assert sorted(cameras) == [0, 1, 2, 3, 4]
    for index, state in cameras.items():
        if sys.platform.startswith("linux") and not Path(f"/dev/video{index}").exists():
            assert state == "no device"


def test_without_a_config_only_tensorflow_and_opencv_are_required(keras_home):
    report = collect()
    assert report.problems == () and report.exit_code == 0
    weights = by_name(report)["weights"]  # the default imagenet file is not cached: a fact, not a failure
    assert weights.status is Status.INFO and "mobilenet_1_0_224_tf.h5" in weights.value
    assert str(keras_home / "models") in by_name(report)["keras cache"].value
    assert format_report(report).splitlines()[-1].startswith("doctor: everything this config needs is here")


def test_gpu_device_without_a_gpu_is_a_problem_with_the_fix(tmp_path):
    import tensorflow

    if tensorflow.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    (tmp_path / "gpu.yaml").write_text("model: {weights: none}\ninference: {device: gpu}\noutput: {display: false}\n")
    report = collect(load_config(tmp_path / "gpu.yaml"), "7")
    device = by_name(report)["device"]
    assert device.status is Status.PROBLEM and "no GPU" in device.value
    assert "inference.device: cpu" in device.fix and "--device cpu" in device.fix
    text, status = doctor("--config", str(tmp_path / "gpu.yaml"), "--source", str(tmp_path / "clip.mp4"))
    assert status == 1
    assert text.splitlines()[-1] == "doctor: 2 problem(s): device, source (each with its fix above)"


def test_missing_imagenet_file_is_named_and_found_once_cached(tmp_path, keras_home):
    import keras
    from weightfiles import save_legacy_h5

    settings = config(tmp_path, "model: {alpha: 0.25, input_size: 160}\noutput: {display: false}\n")
    before = collect(settings, "7")
    weights = by_name(before)["weights"]
    assert weights.status is Status.PROBLEM
    assert "mobilenet_2_5_160_tf.h5" in weights.value and str(keras_home / "models") in weights.value
    assert "--weights FILE" in weights.fix and "mobilenet_2_5_160_tf.h5" in weights.fix
    assert by_name(before)["cached weights"].value == "none"

    tiny = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="conv_preds")])
    save_legacy_h5(tiny, keras_home / "models" / "mobilenet_2_5_160_tf.h5")  # a real Keras 2 HDF5 layout
    after = collect(settings, "7")
    assert by_name(after)["weights"].status is Status.OK
    assert "mobilenet_2_5_160_tf.h5" in by_name(after)["weights"].value
    assert after.environment.cached_weights == ("mobilenet_2_5_160_tf.h5",)
    assert by_name(after)["cached weights"].value == "mobilenet_2_5_160_tf.h5"


def test_a_damaged_cached_file_is_a_problem(tmp_path, keras_home):
    (keras_home / "models").mkdir()
    (keras_home / "models" / "mobilenet_1_0_224_tf.h5").write_bytes(b"<html>quota exceeded</html>")
    weights = by_name(collect(config(tmp_path, "output: {display: false}\n"), "7"))["weights"]
    assert weights.status is Status.PROBLEM and "cannot be read as HDF5" in weights.value
    assert weights.fix.startswith(f"delete {keras_home / 'models' / 'mobilenet_1_0_224_tf.h5'}")


@pytest.mark.parametrize("alpha, size, include_top, expected", [
    (1.0, InputSize(224, 224), True, ["mobilenet_1_0_224_tf.h5"]),
    (0.25, InputSize(160, 160), False, ["mobilenet_2_5_160_tf_no_top.h5", "mobilenet_2_5_160_tf.h5",
                                        "mobilenet_2_5_224_tf_no_top.h5", "mobilenet_2_5_224_tf.h5"]),
    (0.5, InputSize(240, 320), True, ["mobilenet_5_0_224_tf.h5"]),  # no file for that size: 224 carried over
])
def test_imagenet_candidates_are_the_files_the_loader_accepts(alpha, size, include_top, expected, keras_home,
                                                              offline):
    from streamcls.model.imagenet import find_imagenet_weights

    assert imagenet_candidates(alpha, size, include_top) == expected
    models = keras_home / "models"
    models.mkdir()
    for name in expected:  # the loader takes any one of them alone (it checks presence only)
        (models / name).write_bytes(b"x")
        assert find_imagenet_weights(alpha, size, include_top).path.name == name
        (models / name).unlink()


def test_missing_weight_file_and_bundle_are_problems(tmp_path):
    weights = by_name(collect(config(tmp_path, f"model: {{weights: {tmp_path / 'no.h5'}}}\n")))["weights"]
    assert weights.status is Status.PROBLEM and str(tmp_path / "no.h5") in weights.value
    bundle = by_name(collect(config(tmp_path, f"model: {{bundle: {tmp_path / 'gone'}}}\n")))["bundle"]
    assert bundle.status is Status.PROBLEM and "does not exist" in bundle.value
    assert "streamcls train" in bundle.fix


def test_camera_index_without_a_camera_is_a_problem():
    no_camera(7)
    report = collect(None, "7")
    source = by_name(report)["source"]
    assert source.status is Status.PROBLEM and source.value.startswith("camera 7 cannot be opened")
    assert "/dev/video7" in source.value and report.exit_code == 1


def test_stream_credentials_are_never_printed():
    text, status = doctor("--source", SECRET_STREAM)
    json_text, _ = doctor("--source", SECRET_STREAM, "--json")
    assert status == 1
    assert "secret" not in text and "secret" not in json_text
    source_line = next(line for line in text.splitlines() if line.startswith("source "))
    assert "rtsp://user:***@127.0.0.1:9/x" in source_line and "127.0.0.1:9" in source_line
    assert json.loads(json_text)["problems"][0]["name"] == "source"


def test_file_sources(tmp_path):
    from videos import write_video

    missing = by_name(collect(None, str(tmp_path / "missing.mp4")))["source"]
    assert missing.status is Status.PROBLEM and "does not exist" in missing.value
    present = by_name(collect(None, str(write_video(tmp_path / "clip.mp4", 3))))["source"]
    assert present.status is Status.OK


def test_no_display_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    wanted = collect(config(tmp_path, "model: {weights: none}\n"), str(tmp_path))  # the folder: images
    display = by_name(wanted)["display"]
    assert display.status is Status.WARNING and "output.display: false" in display.fix
    assert [check.name for check in wanted.problems] == ["source"]  # an empty folder; the display is not
    assert "1 warning" not in format_report(wanted).splitlines()[-1]  # problems lead the verdict
    not_wanted = collect(config(tmp_path, "model: {weights: none}\noutput: {display: false}\n"))
    assert by_name(not_wanted)["display"].status is Status.INFO


def test_json_holds_the_same_facts_and_problems(tmp_path):
    (tmp_path / "c.yaml").write_text("model: {weights: none}\ninference: {backend: tflite, device: gpu}\n")
    flags = ("--config", str(tmp_path / "c.yaml"), "--source", str(tmp_path / "missing.mp4"))
    data = json.loads(doctor(*flags, "--json")[0])
    report = collect(load_config(tmp_path / "c.yaml", {"source.uri": flags[3]}), flags[3],
                     config_path=flags[1])
    assert data == json.loads(json.dumps(report_as_dict(report)))
    names = [problem["name"] for problem in data["problems"]]
    assert "backend" in names and "source" in names and data["ok"] is False
    for problem, check in zip(data["problems"], report.problems, strict=True):
        assert (problem["missing"], problem["fix"]) == (check.value, check.fix) and problem["fix"]
    assert data["environment"]["runtime"]["devices"] == list(report.environment.runtime.devices)


def test_text_is_aligned_one_fact_per_line():
    report = collect()
    lines = format_report(report).splitlines()
    width = max(len(check.name) for check in report.checks) + 2
    names = []
    for line in lines[:-1]:  # every value starts in the same column; fix lines leave the name blank
        name, value = line[:width].rstrip(), line[width:]
        assert value and not value.startswith(" ") and len(name) <= width - 2
        names += [name] if name else []
        assert name or value.startswith(("fix: ", "hint: "))
    assert names == [check.name for check in report.checks]


def test_config_errors_propagate(tmp_path):
    (tmp_path / "bad.yaml").write_text("inference: {device: tpu}\n")
    with pytest.raises(ConfigError, match="inference.device"):
        doctor("--config", str(tmp_path / "bad.yaml"))


def test_probes_are_bounded_in_time(tmp_path):
    (tmp_path / "video0").touch()
    (tmp_path / "video1").touch()
    opened: list[int] = []

    def fake_open(index: int) -> bool:
        opened.append(index)
        if index == 1:
            time.sleep(5)  # a driver that hangs
        return True

    started = time.monotonic()
    probes = probe_cameras(range(3), 0.3, fake_open, device_folder=tmp_path)
    assert time.monotonic() - started < 1.5
    assert [probe.state for probe in probes] == ["opened", "timed out", "no device"]
    assert sorted(opened) == [0, 1]  # index 2 has no device node: never opened

    def broken() -> bool:
        raise RuntimeError("driver says no")

    results = run_bounded({"fine": lambda: 3, "broken": broken}, 1.0)
    assert results["fine"] == 3 and isinstance(results["broken"], RuntimeError)


def test_importing_doctor_stays_light():
    code = "import sys, streamcls.doctor; print(sorted({'tensorflow', 'keras', 'cv2'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_cli_doctor_is_registered():
    """The command exists: its absence is the regression these tests are here to catch, never a skip."""
    commands = help_entries(run_cli("--help").stdout, indent=4)
    assert "doctor" in commands, f"streamcls --help lists no doctor command: {sorted(commands)}"
    assert "check this machine for a run" in commands["doctor"]
    result = run_cli("doctor", "--help")
    assert result.returncode == 0, result.stderr
    options = {entry.split(",")[0].split()[0]: text for entry, text in help_entries(result.stdout).items()}
    for flag in ("--config", "--source", "--json", "--verbose"):
        assert options.get(flag), f"doctor --help lacks {flag} or its help line:\n{result.stdout}"


def test_cli_doctor_json_status_and_masking(tmp_path):
    (tmp_path / "gpu.yaml").write_text("model: {weights: none}\ninference: {device: gpu}\n")
    result = run_cli("doctor", "--config", str(tmp_path / "gpu.yaml"), "--source", SECRET_STREAM, "--json")
    assert result.returncode == 1, result.stderr
    assert "secret" not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    problems = {problem["name"] for problem in data["problems"]}
    assert "source" in problems
    assert ("device" in problems) == (not data["environment"]["runtime"]["gpus"])


def test_cli_doctor_config_error_is_status_2(tmp_path):
    result = run_cli("doctor", "--config", str(tmp_path / "missing.yaml"))
    assert result.returncode == 2 and "does not exist" in result.stderr


# Doctor asks the module that owns each rule; these tests change the owner and watch doctor follow.

def fake_runtime(litert: str | None = "1.0"):
    from streamcls.doctor.facts import Runtime

    return Runtime("2.0", "3.0", "", ("CPU:0",), (), litert, True)


def with_backend(backend: str, device: str = "auto", calibration: str | None = None):
    from dataclasses import replace

    from streamcls.config import Config

    defaults = Config()
    return replace(defaults, inference=replace(defaults.inference, backend=backend, device=device,
                                               calibration=calibration))


def plugin(tmp_path: Path, monkeypatch, module: str, body: str = "") -> str:
    """A backend module of the test's own, importable as ``module``; returns ``module:build``."""
    (tmp_path / f"{module}.py").write_text(f"def build(*args, **kwargs):\n    raise NotImplementedError\n{body}")
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{module}:build"


def test_backend_needs_are_the_registry_entry_s(tmp_path, monkeypatch):
    from types import MappingProxyType

    from streamcls.config import names
    from streamcls.doctor.checks import backend_check

    target = plugin(tmp_path, monkeypatch, "doctor_edge_backend")
    edge = names.Backend("edge", target, "a CPU-only int8 runtime", cpu_only=True, needs_calibration=True)
    monkeypatch.setattr(names, "BACKENDS", MappingProxyType({**names.BACKENDS, "edge": edge}))

    on_gpu = backend_check(with_backend("edge", "gpu"), "7", fake_runtime())
    assert on_gpu.status is Status.PROBLEM
    assert on_gpu.value == "edge runs on the CPU only, but inference.device is gpu"
    gpu_backends = [entry.name for entry in names.BACKENDS.values() if not entry.cpu_only]
    assert on_gpu.fix.endswith(f"inference.backend: {' or '.join(gpu_backends)} for the GPU")
    live = backend_check(with_backend("edge", "cpu"), "7", fake_runtime())
    assert live.status is Status.PROBLEM and live.value == "edge needs calibration frames, and the source is live"
    calibrated = backend_check(with_backend("edge", "cpu", calibration=str(tmp_path)), "7", fake_runtime())
    assert (calibrated.status, calibrated.value) == (Status.OK, "edge")
    # The same entry without cpu_only runs on the GPU: the flag, not the name, decides.
    monkeypatch.setattr(names, "BACKENDS", MappingProxyType({**names.BACKENDS, "edge": names.Backend(
        "edge", target, "", needs_calibration=True)}))
    assert backend_check(with_backend("edge", "gpu", str(tmp_path)), "7", fake_runtime()).status is Status.OK


def test_doctor_compares_no_backend_name():
    """Backends are told apart by their registry entries; "keras" stays only as the library's fact line."""
    import re

    import streamcls.doctor
    from streamcls.config import names

    for path in Path(streamcls.doctor.__file__).parent.glob("*.py"):
        text = path.read_text()
        assert "tflite" not in text, path.name
        for name in names.BACKENDS:
            quoted = f"[\"']{re.escape(name)}[\"']"
            assert not re.search(rf"[=!]=\s*{quoted}|{quoted}\s*[=!]=|in \(?{quoted}", text), (path.name, name)


def test_a_plugin_backend_is_asked_what_it_misses(tmp_path, monkeypatch):
    from streamcls.doctor.checks import backend_check

    body = "\ndef missing_runtime():\n    return 'needs the Foo runtime; foo is not here; pip install foo'\n"
    missing = plugin(tmp_path, monkeypatch, "doctor_foo_backend", body)
    check = backend_check(with_backend(missing), None, fake_runtime())
    assert check.status is Status.PROBLEM
    assert (check.value, check.fix) == (f"{missing} needs the Foo runtime; foo is not here", "pip install foo")
    usable = plugin(tmp_path, monkeypatch, "doctor_plain_backend")  # no missing_runtime(): usable
    assert backend_check(with_backend(usable), None, fake_runtime()) == Check("backend", usable, Status.OK)
    report = collect(with_backend(missing), str(tmp_path))  # the whole report, as the CLI builds it
    assert "backend" in [problem.name for problem in report.problems]


def test_litert_backends_ask_the_litert_module(monkeypatch):
    from streamcls.config import names
    from streamcls.doctor.checks import backend_check
    from streamcls.model.backends import litert

    converted = next(entry.name for entry in names.BACKENDS.values() if entry.target.startswith(litert.__name__))
    assert backend_check(with_backend(converted), None, fake_runtime("1.2")).value == f"{converted} via LiteRT 1.2"
    monkeypatch.setattr(litert, "interpreter_class", lambda: (_ for _ in ()).throw(ImportError("none")))
    check = backend_check(with_backend(converted), None, fake_runtime())
    assert check.status is Status.PROBLEM
    assert check.value == f"{converted} needs LiteRT; neither ai_edge_litert nor tf.lite is here"
    assert check.fix == "pip install ai-edge-litert"


def test_images_check_counts_what_the_image_source_reads(tmp_path):
    import cv2
    import numpy as np

    from streamcls.errors import EndOfStream
    from streamcls.sources import describe_source
    from streamcls.sources.images import ImageFolderSource

    picture = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), picture)
    cv2.imwrite(str(tmp_path / "b.png"), picture)
    whole = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "c.jpg").write_bytes(whole[: len(whole) // 2])  # a copy cut short: a JPEG signature
    (tmp_path / "notes.txt").write_text("not a picture")

    read = 0
    with ImageFolderSource(describe_source(str(tmp_path))) as source:
        while True:
            try:
                source.read()
            except EndOfStream:
                break
            read += 1
    source_check = by_name(collect(None, str(tmp_path)))["source"]
    assert source_check.status is Status.OK
    assert source_check.value.endswith(f": {read} images of 4 files") and read == 2


@pytest.mark.parametrize("name, problem", [("missing.mp4", "does not exist"), ("empty.mp4", "is empty"),
                                           ("/dev/null", "is not a regular file")])
def test_video_file_problems_are_the_video_source_s(tmp_path, name, problem):
    from streamcls.errors import SourceOpenError
    from streamcls.sources import describe_source
    from streamcls.sources.video import VideoSource

    (tmp_path / "empty.mp4").touch()
    uri = str(tmp_path / name)
    if name.startswith("/dev/") and not Path(name).exists():
        pytest.skip(f"no {name} here")
    with pytest.raises(SourceOpenError, match=problem):
        VideoSource(describe_source(uri))
    check = by_name(collect(None, uri))["source"]
    assert check.status is Status.PROBLEM and problem in check.value


def test_stream_ports_are_for_schemes_the_sources_open():
    from streamcls.doctor import STREAM_PORTS
    from streamcls.sources.describe import STREAM_SCHEMES

    assert {f"{scheme}://" for scheme in STREAM_PORTS} <= set(STREAM_SCHEMES)
