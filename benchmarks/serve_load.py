"""``streamcls serve`` under load: live sources, then concurrent dashboard viewers on loopback.

    python benchmarks/serve_load.py [--seconds 60] [--viewers 10] [--sources 4] [--repeats 2]
    python benchmarks/serve_load.py --files a.avi,b.avi --model tiny --seconds 8   # the suite's short form

The service runs as the CLI does (a child process: its CPU, memory and threads
are its own, read from /proc). By default each source is GStreamer's RTSP
server looping the demo clip at 25 fps, classified by the demo bundle; with
``--files`` the files are played at their native rate (``--realtime``).

Phases alternate, ``--repeats`` times: no viewers, then ``--viewers`` clients
each reading a source's MJPEG view (round robin over the sources). Per phase:
the classification rate (frames the sources' counters added per second), the
p95 frame age (``/sources``: age of each frame when its result was published,
over each source's last 1000), the service's CPU (% of one core), its RSS and
thread count, and the pictures each viewer received per second. Printed: the
table, the viewers' ratios against the phases without viewers, and the CPU
cost per viewer; ``--json`` writes the same figures.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]  # the RTSP server the tests use

from rtsp import SYSTEM_PYTHON, free_port  # noqa: E402

TINY = ["--weights", "none", "--alpha", "0.25", "--input-size", "32x48"]
TICKS = os.sysconf("SC_CLK_TCK")


def _get(port: int, path: str) -> object:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def _process(pid: int) -> dict[str, float]:
    """CPU seconds, RSS (MB) and threads of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {
        "cpu_s": (int(fields[11]) + int(fields[12])) / TICKS,
        "rss_mb": int(status["VmRSS"].split()[0]) / 1024,
        "threads": int(status["Threads"]),
    }


class Viewer(threading.Thread):
    """Reads one MJPEG view as a browser would, counting the pictures."""

    def __init__(self, port: int, source_id: str, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.source_id, self.stop = port, source_id, stop
        self.pictures, self.bytes, self.error = 0, 0, None

    def run(self) -> None:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            connection.request("GET", f"/sources/{quote(self.source_id, safe='')}/stream.mjpg")
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]!r}")
            tail = b""
            while not self.stop.is_set():
                chunk = response.read1(65536)
                if not chunk:
                    break
                self.bytes += len(chunk)
                data = tail + chunk
                self.pictures += data.count(b"--streamcls-frame")
                tail = data[-20:]
                self.pictures -= tail.count(b"--streamcls-frame")  # counted again with the next chunk
            connection.close()
        except Exception as error:  # noqa: BLE001 - reported with the figures
            self.error = repr(error)


def _phase(port: int, pid: int, source_ids: list[str], viewers: int, seconds: float) -> dict[str, object]:
    stop = threading.Event()
    clients = [Viewer(port, source_ids[number % len(source_ids)], stop) for number in range(viewers)]
    for client in clients:
        client.start()
    time.sleep(min(2.0, seconds / 4))  # the viewers connected, the overlay drawing
    before, process_before, started = _get(port, "/sources"), _process(pid), time.monotonic()
    pictures_before = [client.pictures for client in clients]
    time.sleep(seconds)
    after, process_after, elapsed = _get(port, "/sources"), _process(pid), time.monotonic() - started
    pictures = [(client.pictures - first) / elapsed for client, first in zip(clients, pictures_before)]
    stop.set()
    for client in clients:
        client.join(5)
    processed = {record["id"]: record["frames_processed"] for record in before}  # type: ignore[index]
    rates = {record["id"]: (record["frames_processed"] - processed.get(record["id"], 0)) / elapsed for record in after}  # type: ignore[index]
    return {
        "viewers": viewers,
        "rate_fps": sum(rates.values()),
        "rates": rates,
        "frame_age_p95_ms": max(record["frame_age_p95_ms"] or 0.0 for record in after),  # type: ignore[index]
        "cpu_percent": 100 * (process_after["cpu_s"] - process_before["cpu_s"]) / elapsed,
        "rss_mb": process_after["rss_mb"],
        "threads": process_after["threads"],
        "pictures_per_viewer_s": pictures,
        "viewer_errors": [client.error for client in clients if client.error],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each phase")
    parser.add_argument("--viewers", type=int, default=10)
    parser.add_argument("--sources", type=int, default=4, help="RTSP servers looping the demo clip")
    parser.add_argument("--repeats", type=int, default=2, help="pairs of phases (no viewers, viewers)")
    parser.add_argument("--files", help="comma-separated video files played at native rate instead of RTSP servers")
    parser.add_argument("--model", default=str(ROOT / "samples" / "demo-bundle"), help="a bundle, or 'tiny'")
    parser.add_argument("--stream-fps", type=float, default=5.0)
    parser.add_argument("--json", help="write the figures here")
    arguments = parser.parse_args()

    servers: list[subprocess.Popen] = []
    if arguments.files:
        uris = arguments.files.split(",")
    else:
        ports = [free_port() for _ in range(arguments.sources)]
        lifetime = str(arguments.seconds * arguments.repeats * 2 + 300)
        for port in ports:
            servers.append(subprocess.Popen(
                [SYSTEM_PYTHON, str(ROOT / "tests" / "servers" / "rtsp_server.py"), "--port", str(port),
                 "--video", str(ROOT / "samples" / "demo-clip.mp4"), "--lifetime", lifetime],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        for server in servers:
            assert server.stdout is not None and server.stdout.readline().startswith("ready"), "RTSP server failed"
        uris = [f"rtsp://127.0.0.1:{port}/test" for port in ports]
    port = free_port()
    config = Path(os.environ.get("TMPDIR", "/tmp")) / f"serve-load-{os.getpid()}.yaml"
    config.write_text(f"service:\n  stream_fps: {arguments.stream_fps}\n")
    model = TINY if arguments.model == "tiny" else ["--model", arguments.model]
    command = [sys.executable, "-m", "streamcls", "serve", "--config", str(config), "--port", str(port), *model,
               *(["--realtime"] if arguments.files else [])]
    for uri in uris:
        command += ["--source", uri]
    service = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    phases: list[dict[str, object]] = []
    try:
        assert service.stdout is not None
        line = service.stdout.readline()
        if not line.startswith("serving"):
            raise SystemExit(f"the service did not start: {line}{service.stderr.read() if service.stderr else ''}")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            records = _get(port, "/sources")
            if all(record["state"] == "running" and record["frames_processed"] > 0 for record in records):  # type: ignore[index, union-attr]
                break
            time.sleep(0.5)
        source_ids = [record["id"] for record in records]  # type: ignore[index, union-attr]
        time.sleep(min(10.0, arguments.seconds / 2))  # warm-up: the model's first batches, the caches
        for _ in range(arguments.repeats):
            phases.append(_phase(port, service.pid, source_ids, 0, arguments.seconds))
            phases.append(_phase(port, service.pid, source_ids, arguments.viewers, arguments.seconds))
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(30)
        except subprocess.TimeoutExpired:
            service.kill()
        for server in servers:
            server.kill()
        config.unlink(missing_ok=True)
    _report(phases, arguments, len(uris))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({"phases": phases, "exit_code": service.returncode}, indent=2))
    return 0


def _report(phases: list[dict[str, object]], arguments: argparse.Namespace, sources: int) -> None:
    print(f"{sources} live sources, {arguments.viewers} viewers at {arguments.stream_fps:g} pictures/s, "
          f"{arguments.seconds:.0f} s phases, model {Path(arguments.model).name}")
    print(f"{'viewers':>7} {'rate fps':>9} {'p95 age ms':>11} {'CPU %':>7} {'RSS MB':>8} {'threads':>8} "
          f"{'pics/viewer/s':>14}")
    for phase in phases:
        pictures = phase["pictures_per_viewer_s"]
        shown = f"{min(pictures):.1f}-{max(pictures):.1f}" if pictures else "-"  # type: ignore[type-var, arg-type]
        print(f"{phase['viewers']:>7} {phase['rate_fps']:>9.1f} {phase['frame_age_p95_ms']:>11.1f} "
              f"{phase['cpu_percent']:>7.1f} {phase['rss_mb']:>8.1f} {phase['threads']:>8} {shown:>14}")
    quiet = [phase for phase in phases if phase["viewers"] == 0]
    watched = [phase for phase in phases if phase["viewers"]]
    rate = statistics.median(p["rate_fps"] for p in watched) / statistics.median(p["rate_fps"] for p in quiet)  # type: ignore[misc]
    age = statistics.median(p["frame_age_p95_ms"] for p in watched) / max(  # type: ignore[misc]
        1e-9, statistics.median(p["frame_age_p95_ms"] for p in quiet))  # type: ignore[misc]
    cpu = (statistics.median(p["cpu_percent"] for p in watched) - statistics.median(p["cpu_percent"] for p in quiet))  # type: ignore[misc]
    print(f"with viewers / without: classification rate x{rate:.3f}, p95 frame age x{age:.2f}; "
          f"CPU per viewer {cpu / max(1, arguments.viewers):.2f} % of a core")
    print(f"RSS {quiet[0]['rss_mb']:.0f} -> {phases[-1]['rss_mb']:.0f} MB, threads {quiet[0]['threads']} -> "
          f"{phases[-1]['threads']}; viewer errors: {sum(len(p['viewer_errors']) for p in phases)}")  # type: ignore[arg-type]


if __name__ == "__main__":
    raise SystemExit(main())
