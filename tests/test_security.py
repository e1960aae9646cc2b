"""Security: credentials never leave the process, and nothing in a config or bundle runs code.

The credential tests run the real ``streamcls`` command against a real RTSP server on
127.0.0.1 (it accepts any credentials) with a password no output may contain, and
read back every byte written: stdout, stderr, predictions, segments, summary, video.
"""

from __future__ import annotations

import ast
import base64
import io
import json
import logging
import re
import shutil
import subprocess
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from cli import offline_environment, run_cli, start_cli
from rtsp import RtspServer, free_port, needs_server

from streamcls.errors import BundleError, ConfigError, WeightsError
from streamcls.redact import RedactFilter, limit_native_logging, mask_uri, redact, redact_data

ROOT = Path(__file__).resolve().parents[1]
DEMO_BUNDLE = ROOT / "samples" / "demo-bundle"
USER = "camuser"
PASSWORD = "s3cr3t-p@ss:word"  # '@' and ':' raw, as users write them
TOKEN = "s3cr3t-t0ken"
# Every piece of the secret an output could hold, including FFmpeg's Basic auth header.
LEAKS = ("s3cr3t", "p@ss:word", "ss:word", base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())
DEADLINE_S = 150  # generous: the machine may be busy; only a hang should reach it


def assert_no_secret(text: str | bytes, where: str) -> None:
    for leak in LEAKS:
        found = leak.encode() in text if isinstance(text, bytes) else leak in text
        assert not found, f"{leak!r} written to {where}"


def assert_folder_clean(folder: Path) -> list[Path]:
    """Read every file under ``folder`` as bytes (videos too); return them."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    for path in files:
        assert_no_secret(path.read_bytes(), str(path))
    return files


# -- mask_uri and redact: pure functions ---------------------------------------

@pytest.mark.parametrize("uri, expected", [
    (f"rtsp://{USER}:{PASSWORD}@10.0.0.7:554/live", f"rtsp://{USER}:***@10.0.0.7:554/live"),
    ("rtsp://admin:pa/ss?w#rd@cam/stream", "rtsp://admin:***@cam/stream"),  # raw '/', '?', '#'
    ("rtsp://admin:my pass@cam/stream", "rtsp://admin:***@cam/stream"),  # a raw space: one URI
    ("rtsp://admin:p%40ss@[::1]:8554/x", "rtsp://admin:***@[::1]:8554/x"),
    ("rtsp://admin:pw@cam/path@2", "rtsp://admin:***@cam/path@2"),  # '@' in the path stays
    ("rtsp://me@example.com:pw@cam/s", "rtsp://me@example.com:***@cam/s"),
    ("https://ghp_abc123@host/live.m3u8", "https://***@host/live.m3u8"),  # user-only: a token
    ("http://cam/live?token=abc&channel=1&Password=x", "http://cam/live?token=***&channel=1&Password=***"),
    ("http://cam/a?X-Amz-Signature=ab&X-Amz-Credential=K/2024&key=1&apikey=2",
     "http://cam/a?X-Amz-Signature=***&X-Amz-Credential=***&key=***&apikey=***"),
    ("rtsp://cam/live;auth=abc", "rtsp://cam/live;auth=***"),
    ("RTSP://Admin:PW@CAM/", "RTSP://Admin:***@CAM/"),
    ("rtsp://cam:554/live", "rtsp://cam:554/live"),  # nothing to hide
    ("rtsp://@cam/live", "rtsp://@cam/live"),
    ("rtsp://admin:***@cam/live", "rtsp://admin:***@cam/live"),  # masking twice changes nothing
    ("clips/run@2x.mp4", "clips/run@2x.mp4"),
    ("0", "0"),
])
def test_mask_uri(uri, expected):
    assert mask_uri(uri) == expected


@pytest.mark.parametrize("text, expected", [
    (f"stream 'rtsp://{USER}:{PASSWORD}@h:1/x' and \"http://a:b@c/d\", rtsp://tok@h",
     f"stream 'rtsp://{USER}:***@h:1/x' and \"http://a:***@c/d\", rtsp://***@h"),
    ('["rtsp://u:p1@h/x","rtsp://u2:p2@h2/y"]', '["rtsp://u:***@h/x","rtsp://u2:***@h2/y"]'),
    ("video file 'srt://u:it's@h:9000' does not exist", "video file 'srt://u:***@h:9000' does not exist"),
    ("GET http://h/x?auth_token=zzz' failed", "GET http://h/x?auth_token=***' failed"),
    ("Sending:\nAuthorization: Basic dXNlcjpwYXNz\r\nCSeq: 2", "Sending:\nAuthorization: ***\r\nCSeq: 2"),
    ("frame 12: ok, mail me@example.com, key=value", "frame 12: ok, mail me@example.com, key=value"),
])
def test_redact_free_text(text, expected):
    assert redact(text) == expected


def test_redact_data_reaches_every_string():
    data = {"source_id": "rtsp://u:pw@h/x", "gaps": ({"source_id": "rtsp://u:pw@h/x", "at": 1.5},),
            "notes": ["http://t@h/"], "frames": 3}
    assert redact_data(data) == {"source_id": "rtsp://u:***@h/x", "gaps": ({"source_id": "rtsp://u:***@h/x", "at": 1.5},),
                                 "notes": ["http://***@h/"], "frames": 3}


def test_log_filter_redacts_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactFilter())
    logger = logging.getLogger("streamcls.test_security.child")  # a child: the handler still sees it
    logger.addHandler(handler)
    try:
        logger.warning("%s: stream lost", f"rtsp://{USER}:{PASSWORD}@h/x")
        try:
            raise RuntimeError(f"cannot open http://{USER}:{PASSWORD}@h/x?token={TOKEN}")
        except RuntimeError:
            logger.exception("capture failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert_no_secret(written, "the log")
    assert f"rtsp://{USER}:***@h/x: stream lost" in written
    assert "RuntimeError: cannot open http://camuser:***@h/x?token=***" in written


@pytest.mark.parametrize("environ, changed, expected", [
    ({}, 0, {}),
    ({"OPENCV_FFMPEG_LOGLEVEL": "16"}, 0, {"OPENCV_FFMPEG_LOGLEVEL": "16"}),
    ({"OPENCV_FFMPEG_LOGLEVEL": "48"}, 1, {"OPENCV_FFMPEG_LOGLEVEL": "24"}),
    ({"OPENCV_FFMPEG_LOGLEVEL": "debug"}, 1, {"OPENCV_FFMPEG_LOGLEVEL": "24"}),
    ({"OPENCV_FFMPEG_DEBUG": "1"}, 1, {"OPENCV_FFMPEG_DEBUG": "1", "OPENCV_FFMPEG_LOGLEVEL": "24"}),
    ({"OPENCV_FFMPEG_DEBUG": "0"}, 0, {"OPENCV_FFMPEG_DEBUG": "0"}),
    ({"OPENCV_VIDEOIO_DEBUG": "1", "OPENCV_VIDEOCAPTURE_DEBUG": "ON"}, 2,
     {"OPENCV_VIDEOIO_DEBUG": "0", "OPENCV_VIDEOCAPTURE_DEBUG": "0"}),
])
def test_native_debug_switches_that_print_urls_are_capped(environ, changed, expected):
    notes = limit_native_logging(environ)
    assert environ == expected
    assert len(notes) == changed


@pytest.mark.parametrize("arguments", [
    ["run", f"rtsp://{USER}:{PASSWORD}@h/x"],  # --source forgotten: argparse quotes what it did not expect
    ["run", "--device", f"rtsp://{USER}:{PASSWORD}@h/x"],
])
def test_usage_errors_mask_what_they_quote(arguments, capsys):
    from streamcls.cli import _parser

    with pytest.raises(SystemExit) as exited:
        _parser().parse_args(arguments)
    assert exited.value.code == 2
    stderr = capsys.readouterr().err
    assert_no_secret(stderr, "a usage error")
    assert f"rtsp://{USER}:***@h/x" in stderr


def test_overlay_never_draws_the_source_id():
    from streamcls.frames import Prediction
    from streamcls.outputs.overlay import render

    frame = np.full((240, 320, 3), 90, np.uint8)

    def drawn(source_id):
        prediction = Prediction(source_id, 7, None, (("square", 0.9), ("circle", 0.1)), "square", 0.9,
                                None, None, 12.0)
        return render(frame, prediction, fps=25.0)

    np.testing.assert_array_equal(drawn(f"rtsp://{USER}:{PASSWORD}@h/x"), drawn("x"))


def test_bench_report_masks_a_credentialed_source(tmp_path):
    from streamcls.benchmark.points import BenchPoint
    from streamcls.benchmark.report import write_csv, write_json

    point = BenchPoint("keras", 96, 96, 1, "end_to_end", 20.0)
    meta = {"plan": {"source": f"rtsp://{USER}:{PASSWORD}@h/x?token={TOKEN}"}}
    write_json(tmp_path / "report.json", [point], [], None, meta)
    write_csv(tmp_path / "report.csv", [point], [])
    assert_folder_clean(tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["meta"]["plan"]["source"] == f"rtsp://{USER}:***@h/x?token=***"


# -- the real command against a real RTSP server ------------------------------------

def _streamcls(arguments, folder: Path, name: str, extra_env=None) -> subprocess.Popen:
    """Start ``python -m streamcls ARGUMENTS`` with stdout and stderr in ``folder``."""
    with (folder / f"{name}.stdout").open("wb") as stdout, (folder / f"{name}.stderr").open("wb") as stderr:
        process = start_cli(*arguments, stdout=stdout, stderr=stderr, cwd=folder,
                            env=offline_environment(**(extra_env or {})))
    process.name = name  # type: ignore[attr-defined]
    return process


def _finish(processes, deadline_s=DEADLINE_S) -> dict[str, int]:
    """Wait for every process until one shared deadline; kill what is left (and fail)."""
    deadline = time.monotonic() + deadline_s
    codes = {}
    try:
        for process in processes:
            codes[process.name] = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
    return codes


def _output(folder: Path, name: str) -> tuple[str, str]:
    return ((folder / f"{name}.stdout").read_text(errors="replace"),
            (folder / f"{name}.stderr").read_text(errors="replace"))


@pytest.fixture
def rtsp_server():
    server = RtspServer(free_port())
    yield server
    server.stop()


def credentialed(url: str) -> str:
    return url.replace("://", f"://{USER}:{PASSWORD}@", 1)


@needs_server
def test_no_command_output_holds_the_password(rtsp_server, tmp_path):
    url = credentialed(rtsp_server.url)
    shown = rtsp_server.url.replace("://", f"://{USER}:***@")
    out = tmp_path / "out"
    out.mkdir()
    config = tmp_path / "run.yaml"  # the input holds the password; outputs go to out/
    config.write_text(yaml.safe_dump({
        "model": {"bundle": str(DEMO_BUNDLE)},
        "source": {"uri": url},
        "output": {"display": False, "max_frames": 20, "predictions": "b.csv", "segments": "b-segments.json",
                   "video": "b.avi"},
    }))
    # Switches under which OpenCV and FFmpeg themselves print the URL whole (checked by hand:
    # "trying capture filename='rtsp://user:password@...'", "Opening 'http://user:password@...'").
    native_debug = {"OPENCV_VIDEOIO_DEBUG": "1", "OPENCV_FFMPEG_LOGLEVEL": "56"}
    model = ["--model", DEMO_BUNDLE]
    processes = [
        _streamcls(["run", *model, "--source", url, "--no-display", "--max-frames", 20, "--predictions", "a.jsonl",
                    "--segments", "a-segments.csv", "--output-video", "a.mp4", "--json-summary", "a-summary.json",
                    "--verbose"], out, "run-verbose", native_debug),
        _streamcls(["run", "--config", config, "--json-summary", "b-summary.json"], out, "run-config"),
        _streamcls(["run", *model, "--source", credentialed(f"rtsp://127.0.0.1:{free_port()}/test"),
                    "--no-display"], out, "unreachable"),
        _streamcls(["run", *model, "--no-display", "--verbose", "--source",
                    credentialed(f"http://127.0.0.1:{free_port()}/live.m3u8?token={TOKEN}")],
                   out, "unreachable-http", native_debug),
        _streamcls(["doctor", "--source", url], out, "doctor"),
        _streamcls(["bench", "--source", url, "--sizes", "96", "--backends", "keras"], out, "bench"),
    ]
    codes = _finish(processes)
    files = assert_folder_clean(out)  # every stdout, stderr and file written, read as bytes

    assert codes["run-verbose"] == 0, _output(out, "run-verbose")[1][-2000:]
    assert codes["run-config"] == 0, _output(out, "run-config")[1][-2000:]
    assert {path.name for path in files} >= {"a.jsonl", "a-segments.csv", "a.mp4", "a-summary.json",
                                             "b.csv", "b-segments.json", "b.avi", "b-summary.json"}
    assert all(path.stat().st_size > 0 for path in files if path.suffix in (".mp4", ".avi", ".jsonl", ".csv"))
    stdout, stderr = _output(out, "run-verbose")
    assert f"source      {shown} (latest policy" in stdout
    assert "OPENCV_VIDEOIO_DEBUG=1 set to 0" in stderr and "OPENCV_FFMPEG_LOGLEVEL=56 capped" in stderr
    assert json.loads((out / "a.jsonl").read_text().splitlines()[0])["source"] == shown
    assert json.loads((out / "a-summary.json").read_text())["source_id"] == shown
    assert (out / "b.csv").read_text().splitlines()[1].startswith(f"{shown},0,")
    assert json.loads((out / "b-segments.json").read_text())["segments"][0]["source"] == shown

    for name, scheme in (("unreachable", "rtsp"), ("unreachable-http", "http")):
        assert codes[name] == 5, _output(out, name)
        error = [line for line in _output(out, name)[1].splitlines() if line.startswith("streamcls: error:")]
        assert len(error) == 1 and f"stream {scheme}://{USER}:***@127.0.0.1:" in error[0], error
    assert "live.m3u8?token=*** cannot be opened" in _output(out, "unreachable-http")[1]
    assert codes["doctor"] in (0, 1)
    assert f"stream {shown}: 127.0.0.1:{rtsp_server.port} accepts connections" in _output(out, "doctor")[0]
    assert codes["bench"] == 2
    assert f"--source: '{shown}' does not exist" in _output(out, "bench")[1]


@needs_server
def test_reconnect_warnings_hold_no_password(rtsp_server, tmp_path):
    shown = rtsp_server.url.replace("://", f"://{USER}:***@")
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump({
        "model": {"bundle": str(DEMO_BUNDLE)},
        "source": {"uri": credentialed(rtsp_server.url), "open_timeout_s": 2, "read_timeout_s": 1,
                   "reconnect": {"attempts": 2, "initial_delay_s": 0.2, "max_delay_s": 0.4}},
        "output": {"display": False, "predictions": "live.jsonl"},
    }))
    out = tmp_path / "out"
    out.mkdir()
    process = _streamcls(["run", "--config", config, "--json-summary", "summary.json"], out, "live")
    try:
        deadline = time.monotonic() + DEADLINE_S
        predictions = out / "live.jsonl"
        while time.monotonic() < deadline and process.poll() is None:
            if predictions.exists() and len(predictions.read_text().splitlines()) >= 10:
                break
            time.sleep(0.2)
        assert process.poll() is None, _output(out, "live")[1][-2000:]
        assert time.monotonic() < deadline, "no predictions within the deadline"
        rtsp_server.stop()  # the server goes away mid-run
        code = _finish([process], deadline_s=45)["live"]
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    stderr = _output(out, "live")[1]
    assert code == 5, stderr[-2000:]
    assert any(f"{shown}: stream lost" in line and "reconnect attempt 1/2" in line for line in stderr.splitlines())
    assert f"stream {shown} dropped and did not come back after 2 reconnect attempts" in stderr
    assert json.loads((out / "summary.json").read_text())["gaps"][0]["source_id"] == shown
    assert_folder_clean(out)


# -- nothing in a config or bundle runs code ----------------------------------------------

def test_yaml_python_tags_are_refused_and_never_run(tmp_path):
    from streamcls.config import load_config

    marker = tmp_path / "ran"
    config = tmp_path / "evil.yaml"
    config.write_text(f'model: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError) as refused:
        load_config(config)
    message = str(refused.value)
    assert "\n" not in message and "python/object/apply:os.system" in message and str(config) in message
    result = run_cli("model", "info", "--config", config, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("streamcls: error: config file")
    assert not marker.exists()


FORBIDDEN_IMPORTS = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "marshal", "shelve", "torch"}
FORBIDDEN_CALLS = {"eval", "exec", "unsafe_load", "full_load", "model_from_json", "model_from_yaml",
                   "deserialize_keras_object"}


def _problems(tree: ast.AST, path: str) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
            if any(name.split(".")[0] in FORBIDDEN_IMPORTS for name in names):
                found.append(f"{path}:{node.lineno} imports {names}")
            if isinstance(node, ast.ImportFrom) and "load_model" in names and not (node.module or "").startswith("streamcls"):
                found.append(f"{path}:{node.lineno} imports load_model from {node.module}")
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        keywords = {keyword.arg: keyword.value for keyword in node.keywords}
        owner = ast.unparse(node.func.value) if isinstance(node.func, ast.Attribute) else ""
        if name in FORBIDDEN_CALLS:
            found.append(f"{path}:{node.lineno} calls {ast.unparse(node.func)}")
        if name == "load" and owner == "yaml":  # only with a loader of its own (SafeLoader-based: see below)
            loader = ast.unparse(keywords["Loader"]) if "Loader" in keywords else "the default"
            if loader in ("the default", "yaml.Loader", "yaml.UnsafeLoader", "yaml.FullLoader"):
                found.append(f"{path}:{node.lineno} calls yaml.load with {loader} loader")
        if name == "load_model" and isinstance(node.func, ast.Attribute):  # keras'; ours is a plain name
            safe = keywords.get("safe_mode")
            if not (isinstance(safe, ast.Constant) and safe.value is True):
                found.append(f"{path}:{node.lineno} calls {owner}.load_model without safe_mode=True")
        if "allow_pickle" in keywords and not (isinstance(keywords["allow_pickle"], ast.Constant)
                                                 and keywords["allow_pickle"].value is False):
            found.append(f"{path}:{node.lineno} passes allow_pickle")
        if name in ("asstr", "vlen_dtype", "string_dtype", "ref_dtype"):
            found.append(f"{path}:{node.lineno} reads h5py objects ({name})")
    return found


def test_no_code_path_can_unpickle_or_load_keras_code():
    """The source itself: no pickle, no unsafe YAML, no Keras model loading without safe_mode."""
    problems = []
    for path in sorted((ROOT / "streamcls").rglob("*.py")):
        problems += _problems(ast.parse(path.read_text(encoding="utf-8")), str(path.relative_to(ROOT)))
    assert problems == []
    caught = _problems(ast.parse("import pickle\nkeras.models.load_model('m.keras')\nnp.load(f, allow_pickle=True)\n"
                                 "yaml.load(text, Loader=yaml.Loader)\nkeras.saving.load_model(p, safe_mode=True)"), "probe")
    assert len(caught) == 4, caught  # the scan itself finds what it looks for


def _bundle_copy(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DEMO_BUNDLE, tmp_path / "bundle"))


@pytest.mark.parametrize("name", ["weights.h5", "streamcls-bundle.json"])
def test_bundle_file_linking_out_of_the_folder_is_refused(tmp_path, name):
    from streamcls.model.bundle import read_manifest

    bundle = _bundle_copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (bundle / name).rename(elsewhere / name)
    (bundle / name).symlink_to(elsewhere / name)
    with pytest.raises(BundleError, match=re.escape(f"{name} is a link to '{elsewhere / name}', outside the "
                                                    f"bundle folder, and is not followed; put the file itself")):
        read_manifest(bundle)
    # A link that stays inside the folder is fine: the bundle owns what it points at.
    (bundle / name).unlink()
    (elsewhere / name).rename(bundle / f"real-{name}")
    (bundle / name).symlink_to(f"real-{name}")
    assert read_manifest(bundle)["format"] == "streamcls-bundle"


@pytest.mark.parametrize("change, message", [
    (lambda manifest: manifest.update(custom_objects={"Lambda": "os.system"}), r"\(custom_objects\)"),
    (lambda manifest: manifest["model"].update(class_name="Lambda", config={"function": "exec"}),
     r"\(model.class_name, model.config\)"),
    (lambda manifest: manifest["model"].update(head="__import__('os').system"), r"head: received"),
])
def test_bundle_manifest_with_keys_it_does_not_read_is_refused(tmp_path, change, message):
    from streamcls.model.bundle import MANIFEST, load_bundle

    bundle = _bundle_copy(tmp_path)
    manifest = json.loads((bundle / MANIFEST).read_text())
    change(manifest)
    (bundle / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=message) as refused:
        load_bundle(bundle)  # refused before any network is built
    assert "\n" not in str(refused.value)


def _legacy_file(path: Path, make_dataset) -> Path:
    """A one-layer file in the Keras 2 layout whose only weight ``make_dataset`` writes."""
    with h5py.File(path, "w") as handle:
        handle.attrs["layer_names"] = [b"conv1"]
        group = handle.create_group("conv1")
        group.attrs["weight_names"] = [b"conv1/kernel:0"]
        make_dataset(group, "conv1/kernel:0", path)
    return path


def _external_link(group, name, path):
    with h5py.File(path.with_name("other.h5"), "w") as other:
        other["kernel"] = np.zeros((3, 3, 3, 8), "float32")
    group[name] = h5py.ExternalLink("other.h5", "/kernel")


def _external_storage(group, name, path):
    raw = path.with_name("raw.bin")
    raw.write_bytes(np.zeros(9, "float32").tobytes())
    group.create_dataset(name, shape=(9,), dtype="float32", external=[(str(raw), 0, h5py.h5f.UNLIMITED)])


@pytest.mark.parametrize("make_dataset, message", [
    (lambda group, name, path: group.create_dataset(name, data=np.array(["x = 1"], dtype=h5py.string_dtype())),
     r"is a dataset of object \(objects or variable-length values\); expected numeric arrays only"),
    (lambda group, name, path: group.create_dataset(name, shape=(2,), dtype=h5py.vlen_dtype(np.float32)),
     r"is a dataset of object \(objects or variable-length values\)"),
    (lambda group, name, path: group.create_dataset(name, data=np.array([group.ref]), dtype=h5py.ref_dtype),
     r"is a dataset of object"),
    (lambda group, name, path: group.create_dataset(name, data=np.zeros(2, [("a", "f4"), ("b", "S4")])),
     r"\(compound or opaque values\)"),
    (lambda group, name, path: group.create_dataset(name, data=np.void(b"\x80\x04code")),
     r"\(compound or opaque values\)"),
    (_external_link, r"is an external link to 'other.h5'; weights are read only from the file given"),
    (_external_storage, r"is a dataset whose data is stored in other files"),
    (lambda group, name, path: group.create_dataset(name, data=np.zeros(64, "float32"), chunks=(64,),
                                                    compression=32001, allow_unknown_filter=True),
     r"compressed with plugin filter\(s\) \[32001\]; HDF5 would load native code"),
])
def test_weight_file_with_objects_or_outside_data_is_refused(tmp_path, make_dataset, message):
    from streamcls.model.weights import read_weight_file

    path = _legacy_file(tmp_path / "weights.h5", make_dataset)
    with pytest.raises(WeightsError, match=message) as refused:
        read_weight_file(path)
    assert "\n" not in str(refused.value) and "/conv1/conv1/kernel:0" in str(refused.value)


def test_a_keras_archive_is_never_loaded_as_a_model(tmp_path):
    """A .keras file (a zip whose config can name Lambda code) given as weights is refused, unread."""
    from streamcls.model.weights import read_weight_file

    archive = tmp_path / "model.keras"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("config.json", json.dumps({"class_name": "Lambda", "config": {"function": "exec"}}))
    with pytest.raises(WeightsError, match="cannot be read as HDF5"):
        read_weight_file(archive)
    bundle = _bundle_copy(tmp_path)
    shutil.copy(archive, bundle / "weights.h5")
    from streamcls.model.bundle import load_bundle

    with pytest.raises(WeightsError, match="cannot be read as HDF5"):
        load_bundle(bundle)


# -- event outputs: broker password, receiver password and HMAC secret stay in the process ------------

def test_event_outputs_keep_every_secret(tmp_path):
    """A run with MQTT (password in the URL), a webhook (password in the URL, HMAC secret from the
    environment), an events file and clips: every byte written, printed, published or POSTed is read."""
    from broker import Broker, Subscriber, require_mosquitto
    from receiver import Receiver

    require_mosquitto()
    hmac_secret = "s3cr3t-hmac-key"
    out = tmp_path / "out"
    (out / "clips").mkdir(parents=True)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "postprocess": {"smoothing": "ema", "ema_alpha": 0.5, "hysteresis": {"margin": 0.2, "frames": 3}},
        "events": {"min_duration_s": 0.4, "snapshot": True},
        "output": {"sinks": [{"kind": "webhook", "options": {
            "url": f"http://{USER}:{PASSWORD}@127.0.0.1:{{port}}/hook", "secret_env": "HOOK_SECRET",
            "outbox": str(out / "outbox.sqlite")}}]},
    }))
    broker = Broker(tmp_path, users={USER: PASSWORD}).start()
    receiver = Receiver()
    config.write_text(config.read_text().replace("{port}", str(receiver.port)))
    try:
        with Subscriber(broker.port, user=USER, password=PASSWORD) as subscriber:
            result = run_cli(
                "run", "--source", ROOT / "samples" / "demo-clip.mp4", "--model", DEMO_BUNDLE, "--no-display",
                "--config", config, "--mqtt", broker.url("plant", USER, PASSWORD), "--events", out / "events.jsonl",
                "--clips", out / "clips", "--predictions", out / "p.jsonl", "--json-summary", out / "summary.json",
                env=offline_environment(HOOK_SECRET=hmac_secret), cwd=tmp_path)
            assert result.returncode == 0, result.stderr
            published = subscriber.wait_for(
                lambda messages: sum(m.topic.endswith("/events") for m in messages) >= 6, 20, "six events")
            doctor = run_cli("doctor", "--config", config, env=offline_environment(HOOK_SECRET=hmac_secret))
    finally:
        receiver.stop()
        broker.stop()
    requests = list(receiver.requests)
    assert len({request.event_id for request in requests}) == 6
    secrets = (*LEAKS, hmac_secret)
    texts = {"stdout": result.stdout, "stderr": result.stderr, "doctor": doctor.stdout + doctor.stderr}
    texts.update({f"mqtt {m.topic}": m.payload.decode("latin-1") + m.topic for m in published})
    texts.update({f"POST {r.event_id}": r.body.decode() + json.dumps({k: v for k, v in r.headers.items()
                                                                     if k.lower() != "authorization"})
                  for r in requests})  # the receiver is given its own password, in the Authorization header only
    for where, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret!r} in {where}"
    for path in sorted(p for p in out.rglob("*") if p.is_file()):  # the outbox and the clips included
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret!r} in {path}"
    assert len(list((out / "clips").glob("*.mp4"))) >= 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["events"]["emitted"] == 6 and len(summary["outputs"]) == 2
