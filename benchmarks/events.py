"""Event outputs: latency to a real MQTT subscriber and a real webhook receiver, the sustained rate, CPU per event.

    python benchmarks/events.py [--seconds 30] [--rates 25,50,100,200]

Everything runs on 127.0.0.1: Debian's mosquitto, an HTTP receiver in this
process, and (for the latency) GStreamer's RTSP server looping the demo clip,
classified live by the demo bundle.

1. Latency on a live RTSP source: for each event, from the capture of the first
   frame of the new label (``Event.captured_at``) and from the moment the rules
   let it through (``Event.confirmed_at``) to its arrival at the subscriber and
   at the receiver. The first includes the label's own settling time
   (hysteresis, ``events.min_duration_s``); the second is the outputs' own cost.
2. Rate: a live fake source whose label changes every frame, at several rates;
   every event must reach both the subscriber and the receiver.
3. CPU per event: process CPU time of the same run with and without the two
   outputs, the difference divided by the events.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]  # the real broker and receiver helpers the tests use

from broker import Broker, Subscriber  # noqa: E402
from fakes import FakeClassifier, FakeSource  # noqa: E402
from receiver import Receiver  # noqa: E402
from rtsp import SYSTEM_PYTHON, free_port  # noqa: E402

from streamcls.config import load_config  # noqa: E402
from streamcls.pipeline import Pipeline  # noqa: E402


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _arrivals(subscriber: Subscriber, receiver: Receiver, stamps: dict) -> tuple[dict, dict]:
    """event id -> monotonic arrival time, at the subscriber and at the receiver."""
    import json

    mqtt = {json.loads(m.payload)["event_id"]: stamps.get(("mqtt", m.payload), 0.0)
            for m in subscriber.messages if m.topic.endswith("/events")}
    web = {request.event_id: request.at for request in receiver.requests}
    return mqtt, web


class StampingSubscriber(Subscriber):
    """Notes the monotonic time each message arrives (paho's own thread)."""

    def __init__(self, *arguments, stamps: dict, **options):
        self.stamps = stamps
        super().__init__(*arguments, **options)

    def _on_message(self, client, userdata, message) -> None:
        self.stamps[("mqtt", bytes(message.payload))] = time.monotonic()
        super()._on_message(client, userdata, message)


def latency(seconds: float, folder: Path) -> None:
    port = free_port()
    server = subprocess.Popen([SYSTEM_PYTHON, str(ROOT / "tests" / "servers" / "rtsp_server.py"), "--port", str(port),
                               "--video", str(ROOT / "samples" / "demo-clip.mp4"), "--width", "320", "--height", "240",
                               "--lifetime", str(seconds + 60)], stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().startswith("ready")
    broker, receiver, stamps = Broker(folder).start(), Receiver(), {}
    events = []
    try:
        with StampingSubscriber(broker.port, stamps=stamps) as subscriber:
            config = load_config(None, {
                "source.uri": f"rtsp://127.0.0.1:{port}/test", "model.bundle": str(ROOT / "samples" / "demo-bundle"),
                "postprocess.smoothing": "ema", "postprocess.ema_alpha": 0.5,
                "postprocess.hysteresis": {"margin": 0.2, "frames": 3}, "events.min_duration_s": 0.4,
                "output.display": False, "output.progress": False, "output.sinks": [
                    {"kind": "mqtt", "options": {"url": broker.url("bench")}},
                    {"kind": "webhook", "options": {"url": receiver.url, "outbox": str(folder / "latency.sqlite")}}]})
            with Pipeline(config, on_event=events.append) as pipeline:
                stop = threading.Timer(seconds, pipeline.stop)
                stop.start()
                for _ in pipeline:
                    pass
                stop.cancel()
            time.sleep(2)
            mqtt, web = _arrivals(subscriber, receiver, stamps)
    finally:
        receiver.stop()
        broker.stop()
        server.kill()
    events = events[1:]  # the first "event" is the stream's first label: no change was captured
    print(f"latency on a live RTSP source ({len(events)} label changes in {seconds:.0f} s, demo clip looped at 25 fps):")
    for name, arrived in (("MQTT subscriber", mqtt), ("webhook receiver", web)):
        matched = [event for event in events if event.event_id in arrived]
        from_capture = [1000 * (arrived[event.event_id] - event.captured_at) for event in matched]
        from_rules = [1000 * (arrived[event.event_id] - event.confirmed_at) for event in matched]
        if not matched:
            print(f"  {name}: nothing arrived")
            continue
        print(f"  {name:<17} {len(matched)}/{len(events)} arrived; capture -> arrival p50 "
              f"{statistics.median(from_capture):.0f} ms, p95 {_percentile(from_capture, 0.95):.0f} ms; "
              f"rules -> arrival p50 {statistics.median(from_rules):.1f} ms, p95 {_percentile(from_rules, 0.95):.1f} ms")


def _rate_run(rate: float, seconds: float, folder: Path, outputs: bool, broker=None, receiver=None) -> tuple:
    frames = int(rate * seconds)
    sinks = [] if not outputs else [
        {"kind": "mqtt", "options": {"url": broker.url(f"rate{int(rate)}"), "queue_max": 100_000}},
        {"kind": "webhook", "options": {"url": receiver.url, "outbox": str(folder / f"rate{rate}.sqlite")}}]
    config = load_config(None, {"events.min_duration_s": 0, "events.max_per_minute": 1_000_000,
                                "output.display": False, "output.progress": False, "output.sinks": sinks})
    events = []
    started_cpu, started = time.process_time(), time.monotonic()
    source = FakeSource(frames, live=True, fps=rate, source_id="fast")
    with Pipeline(config, classifier=FakeClassifier(batch_size=4), source=source, on_event=events.append) as pipeline:
        for _ in pipeline:
            pass
        summary = pipeline.summary()
    return events, time.process_time() - started_cpu, time.monotonic() - started, summary


def rates(values: list[float], seconds: float, folder: Path) -> None:
    import json

    broker, receiver = Broker(folder).start(), Receiver()
    print(f"sustained rate (a live fake source whose label changes every frame, {seconds:.0f} s each):")
    try:
        for rate in values:
            with Subscriber(broker.port, topic=f"rate{int(rate)}/#") as subscriber:
                receiver.requests.clear()
                events, cpu, wall, summary = _rate_run(rate, seconds, folder, True, broker, receiver)
                ids = {event.event_id for event in events}
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    got_mqtt = {json.loads(m.payload)["event_id"] for m in subscriber.messages
                                if m.topic.endswith("/events")}
                    got_web = {request.event_id for request in receiver.requests}
                    if ids <= got_mqtt and ids <= got_web:
                        break
                    time.sleep(0.2)
            _, base_cpu, _, base = _rate_run(rate, seconds, folder, False)
            per_event = 1000 * (cpu - base_cpu) / max(1, len(events))
            print(f"  {rate:>5.0f} events/s offered: {len(events)} events in {wall:.1f} s "
                  f"({summary.frames_dropped} frames dropped by the live policy); "
                  f"MQTT {len(ids & got_mqtt)}/{len(ids)}, webhook {len(ids & got_web)}/{len(ids)} arrived; "
                  f"outputs' CPU {per_event:.2f} ms per event "
                  f"({cpu:.2f} s with them, {base_cpu:.2f} s without)")
    finally:
        receiver.stop()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the latency run")
    parser.add_argument("--rates", default="25,50,100,200", help="events per second to offer")
    parser.add_argument("--rate-seconds", type=float, default=10.0)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        latency(arguments.seconds, Path(folder))
        rates([float(rate) for rate in arguments.rates.split(",")], arguments.rate_seconds, Path(folder))


if __name__ == "__main__":
    main()
