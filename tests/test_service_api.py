"""``streamcls serve``'s HTTP API, endpoint by endpoint, against a service in this process.

One service runs for the module: a 20 fps file played in real time ("door"), FakeClassifier,
events on every label change (``min_duration_s: 0``). Its clip holds runs of 10 frames of one
colour, so FakeClassifier's label holds for 10 frames then changes: runs and events to check.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
from rtsp import free_port
from service import CLASSES, decode_jpeg, mjpeg_parts, processed, rate, runs_video, samples, serving, wait_for

from streamcls.config import Config, EventsConfig, ReconnectConfig, ServiceConfig, SourceConfig

FPS = 20
STREAM_FPS = 5.0
STREAM_WIDTH = 32  # the clip is 64x48: every picture served is shrunk to 32x24
RECORD_KEYS = {"id", "uri", "state", "policy", "frames_read", "frames_processed", "frames_dropped", "fps",
               "latency_p95_ms", "frame_age_p95_ms", "reconnects", "gaps", "last_error", "label", "score",
               "result_age_s"}
STATES = {"opening", "running", "reconnecting", "ended", "failed"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("service_api")


@pytest.fixture(scope="module")
def clip(folder):
    return runs_video(folder / "door.avi", 2400, run_length=10, fps=FPS)  # 2 minutes: longer than the module


@pytest.fixture(scope="module")
def api(folder, clip):
    config = Config(
        sources=(SourceConfig(uri=str(clip), id="door", realtime=True),),
        events=EventsConfig(min_duration_s=0),
        service=ServiceConfig(port=0, allowed_folders=(str(folder),), stream_fps=STREAM_FPS,
                              stream_width=STREAM_WIDTH, history=50),
    )
    with serving(config) as (service, client):
        wait_for(lambda: processed(client, "door") >= 40, 20, "door classifies its first 2 s")
        yield service, client


@pytest.fixture
def client(api):
    return api[1]


def test_health_and_the_api_description(client):
    assert client.get("/health").json() == {"status": "up"}
    description = client.get("/openapi.json").json()
    paths = {path: sorted(methods) for path, methods in description["paths"].items()}
    assert paths == {
        "/health": ["get"],
        "/ready": ["get"],
        "/sources": ["get", "post"],
        "/events": ["get"],
        "/sources/{source_id}": ["delete", "get"],
        "/sources/{source_id}/latest": ["get"],
        "/sources/{source_id}/segments": ["get"],
        "/sources/{source_id}/events": ["get"],
        "/sources/{source_id}/snapshot.jpg": ["get"],
        "/sources/{source_id}/stream.mjpg": ["get"],
        "/metrics": ["get"],
    }
    body = description["paths"]["/sources"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False and body["required"] == ["uri"]
    assert set(body["properties"]) == {"uri", "id", "policy", "realtime", "open_timeout_s", "read_timeout_s",
                                       "reconnect", "events"}
    assert description["info"]["title"] == "streamcls"


def test_sources_lists_each_source_with_its_counters_and_rate(client, clip):
    records = client.get("/sources").json()
    assert [record["id"] for record in records] == ["door"]
    first = records[0]
    assert set(first) == RECORD_KEYS
    assert first["uri"] == str(clip) and first["state"] == "running" and first["policy"] == "latest"
    assert first["last_error"] is None and first["reconnects"] == 0 and first["gaps"] == 0
    assert first["label"] in CLASSES and first["score"] == pytest.approx(0.9)
    time.sleep(1.5)
    later = client.get("/sources/door").json()
    assert set(later) == RECORD_KEYS and later["id"] == "door"
    # 1.5 s of a 20 fps file: about 30 more frames read and classified, none dropped (the model keeps up)
    assert later["frames_read"] - first["frames_read"] == pytest.approx(30, abs=8)
    assert later["frames_processed"] - first["frames_processed"] == pytest.approx(30, abs=8)
    assert later["frames_processed"] <= later["frames_read"] and later["frames_dropped"] == 0
    assert later["fps"] == pytest.approx(FPS, rel=0.15)
    assert 0 < later["latency_p95_ms"] < 1000 and 0 < later["frame_age_p95_ms"] < 1000
    assert 0 <= later["result_age_s"] < 1.0


def test_an_unknown_source_is_404_on_every_route(client):
    for path in ("/sources/nope", "/sources/nope/latest", "/sources/nope/segments", "/sources/nope/events",
                 "/sources/nope/snapshot.jpg", "/sources/nope/stream.mjpg"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {"error": "no source 'nope'; GET /sources lists them"}, path
    response = client.delete("/sources/nope")
    assert response.status_code == 404 and response.json()["error"] == "no source 'nope'; GET /sources lists them"
    assert [record["id"] for record in client.get("/sources").json()] == ["door"]


def test_latest_is_the_newest_prediction(client):
    first = client.get("/sources/door/latest").json()
    time.sleep(0.6)
    second = client.get("/sources/door/latest").json()
    for record in (first, second):
        assert record["source"] == "door" and record["label"] in CLASSES and record["shown_label"] == record["label"]
        assert record["score"] == pytest.approx(0.9) and record["top_k"][0] == [record["label"], record["score"]]
        assert len(record["top_k"]) == 3 and all(label in CLASSES for label, _ in record["top_k"])
        assert record["position_ms"] == pytest.approx(record["frame_index"] * 1000 / FPS)
        assert 0 <= record["age_s"] < 1.0
    assert second["frame_index"] - first["frame_index"] == pytest.approx(12, abs=5)  # 0.6 s at 20 fps


def test_segments_are_the_label_runs_in_order_the_last_one_open(client):
    wait_for(lambda: len(client.get("/sources/door/segments").json()) >= 7, 10, "seven runs")
    runs = client.get("/sources/door/segments", params={"limit": 6}).json()
    assert len(runs) == 6
    for run, following in zip(runs, runs[1:]):
        assert run["label"] in CLASSES and run["label"] != following["label"]
        assert run["start_frame"] < run["end_frame"] <= following["start_frame"]
        assert run["end_time"] == following["start_time"]  # a run ends where the next one starts
        # the clip changes colour every 10 frames: one run per colour
        assert run["end_frame"] - run["start_frame"] <= 10 and 1 <= run["frames"] <= 10
        assert run["duration_s"] == pytest.approx(0.5, abs=0.2) and run["mean_score"] == pytest.approx(0.9)
    complete = runs[1:-1]  # the first may have begun before the limit's window, the last goes on
    assert sum(run["frames"] for run in complete) >= 0.8 * 10 * len(complete)
    assert runs[-1]["end_frame"] is None and runs[-1]["end_time"] is None and runs[-1]["frames"] <= 10
    assert len(client.get("/sources/door/segments", params={"limit": 0}).json()) == 1
    everything = [run["start_frame"] for run in client.get("/sources/door/segments").json()]
    assert len(everything) >= 7 and everything == sorted(everything)  # every run kept, oldest first
    refused = client.get("/sources/door/segments", params={"limit": "many"})
    assert refused.status_code == 422 and set(refused.json()) == {"error"}
    assert refused.json()["error"].startswith("query.limit: ") and "\n" not in refused.json()["error"]


def test_events_are_the_label_changes_newest_last(client):
    events = wait_for(lambda: len(e := client.get("/events").json()) >= 8 and e, 10, "eight events (two a second)")
    for event in events:
        assert event["source"] == "door" and event["label"] in CLASSES and event["score"] == pytest.approx(0.9)
        assert "snapshot" not in event
    for previous, event in zip(events, events[1:]):
        assert event["start_frame"] > previous["start_frame"] and event["start_time"] >= previous["start_time"]
        assert event["previous_label"] == previous["label"] != event["label"]
        assert event["previous_start_frame"] == previous["start_frame"]
        assert event["previous_end_frame"] <= event["start_frame"]
        assert event["previous_duration_s"] == pytest.approx(0.5, abs=0.2)
    own = client.get("/sources/door/events", params={"limit": 5}).json()
    assert len(own) == 5
    newer = [event["event_id"] for event in client.get("/events").json()]
    start = newer.index(own[0]["event_id"])  # the last five then, in order, in what came after
    assert newer[start:start + 5] == [event["event_id"] for event in own]


def test_snapshot_is_a_jpeg_no_wider_than_stream_width(client):
    # the first request starts the drawing (nobody watched before): a picture within a moment
    response = wait_for(lambda: (r := client.get("/sources/door/snapshot.jpg")).status_code == 200 and r, 5,
                        "a snapshot")
    assert response.headers["content-type"] == "image/jpeg" and response.headers["cache-control"] == "no-store"
    image = decode_jpeg(response.content)
    assert image.shape == (24, STREAM_WIDTH, 3)  # 64x48 shrunk to 32 wide


def test_the_live_view_sends_distinct_pictures_at_stream_fps_and_no_faster(client):
    parts = mjpeg_parts(client, "/sources/door/stream.mjpg", seconds=2.5)
    times = [at for at, _ in parts]
    pictures = [jpeg for _, jpeg in parts]
    assert len(parts) >= 8, times  # 2.5 s at 5 a second (the first at once)
    assert len(set(pictures)) == len(pictures)  # each a new picture (the clip changes every frame)
    gaps = sorted(later - earlier for earlier, later in zip(times, times[1:]))
    # never faster than stream_fps (a client that reads late may get two parts at once, not more in all)
    assert len(parts) <= 2 + STREAM_FPS * times[-1], times
    assert gaps[len(gaps) // 2] >= 0.8 / STREAM_FPS, gaps
    assert (times[-1] - times[0]) / (len(times) - 1) == pytest.approx(1 / STREAM_FPS, rel=0.3), gaps
    for jpeg in pictures:
        assert decode_jpeg(jpeg).shape == (24, STREAM_WIDTH, 3)


def test_a_source_added_and_removed_while_the_other_keeps_its_rate(api, clip):
    service, client = api
    before = rate(client, "door", 3.0)
    added = client.post("/sources", json={"uri": str(clip), "id": "yard", "realtime": True})
    assert added.status_code == 201, added.text
    record = added.json()
    assert set(record) == RECORD_KEYS and record["id"] == "yard" and record["uri"] == str(clip)
    assert record["state"] in ("opening", "running") and record["last_error"] is None
    assert [record["id"] for record in client.get("/sources").json()] == ["door", "yard"]
    assert client.post("/sources", json={"uri": str(clip), "id": "yard"}).json() == {
        "error": "source id 'yard' is taken already; give another id, or remove that source first"}
    first = wait_for(lambda: client.get("/sources/yard/latest").json().get("frame_index"), 5, "yard's first result")
    during = rate(client, "door", 3.0)
    yard = client.get("/sources/yard").json()
    assert yard["state"] == "running" and yard["fps"] == pytest.approx(FPS, rel=0.15)
    latest = client.get("/sources/yard/latest").json()
    assert latest["source"] == "yard" and latest["label"] in CLASSES and latest["frame_index"] >= first + 40
    assert client.get("/sources/yard/segments").json()[-1]["end_frame"] is None
    assert "yard" in client.get("/metrics").text

    removed = client.delete("/sources/yard")
    assert removed.status_code == 200, removed.text
    last = removed.json()
    assert last["id"] == "yard" and last["state"] == "removed" and last["frames_processed"] >= latest["frame_index"]
    assert [record["id"] for record in client.get("/sources").json()] == ["door"]
    for path in ("/sources/yard", "/sources/yard/latest", "/sources/yard/segments", "/sources/yard/snapshot.jpg"):
        assert client.get(path).json() == {"error": "no source 'yard'; GET /sources lists them"}, path
    series = samples(client.get("/metrics").text)
    assert not [key for key in series if ("source", "yard") in key[1]]  # its series are gone
    assert service.board.latest("yard") is None and service.board.runs("yard") == []  # its picture and runs too
    after = rate(client, "door", 3.0)
    assert before == pytest.approx(FPS, rel=0.1)
    assert during == pytest.approx(before, rel=0.1) and after == pytest.approx(before, rel=0.1), (before, during, after)


def test_ready_says_whether_a_source_is_live(folder, clip):
    with serving(Config(service=ServiceConfig(port=0, allowed_folders=(str(folder),)))) as (_service, client):
        assert client.get("/sources").json() == []
        response = client.get("/ready")
        assert response.status_code == 503
        assert response.json() == {"ready": False, "reason": "model loaded; no source delivering frames (0 sources)"}
        assert client.post("/sources", json={"uri": str(clip), "id": "late", "realtime": True}).status_code == 201
        response = wait_for(lambda: (r := client.get("/ready")).status_code == 200 and r, 5, "ready")
        assert response.json() == {"ready": True, "reason": "model loaded; 1 of 1 sources live"}
        assert client.delete("/sources/late").status_code == 200
        response = client.get("/ready")
        assert response.status_code == 503 and response.json()["ready"] is False


def test_metrics_are_the_api_counters_in_prometheus_form(client):
    before = client.get("/sources/door").json()
    response = client.get("/metrics")
    after = client.get("/sources/door").json()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=")
    series = samples(response.text)
    door = (("source", "door"),)

    def value(name, labels=()):
        assert (name, labels) in series, f"{name}{dict(labels)} not in /metrics"
        return series[(name, labels)]

    for counter in ("frames_read", "frames_processed", "frames_dropped"):
        name = f"streamcls_{counter}_total"
        assert before[counter] <= value(name, door) <= after[counter], name
        assert {labels for found, labels in series if found == name} == {door}  # the one source, one label
    assert value("streamcls_reconnects_total", door) == 0 and value("streamcls_gaps_total", door) == 0
    states = {dict(labels)["state"]: found for (name, labels), found in series.items()
              if name == "streamcls_source_state"}
    assert set(states) == STATES and states["running"] == 1 and sum(states.values()) == 1
    assert value("streamcls_source_fps", door) == pytest.approx(FPS, rel=0.15)
    assert value("streamcls_sources") == 1
    for histogram, labels in (("streamcls_frame_age_seconds", door), ("streamcls_latency_seconds", door),
                              ("streamcls_batch_size", ()), ("streamcls_inference_seconds", ())):
        count = value(f"{histogram}_count", labels)
        assert count > 0 and value(f"{histogram}_sum", labels) > 0, histogram
        assert value(f"{histogram}_bucket", tuple(sorted((*labels, ("le", "+Inf"))))) == count, histogram
    # every frame door classified went through a batch before the scrape
    assert value("streamcls_frame_age_seconds_count", door) >= before["frames_processed"] - 4
    assert value("streamcls_batch_size_sum") >= before["frames_processed"]
    assert value("streamcls_batches_total") == pytest.approx(value("streamcls_batch_size_count"), abs=5)
    queues = {dict(labels)["queue"]: found for (name, labels), found in series.items()
              if name == "streamcls_queue_depth"}
    assert set(queues) == {"capture", "prepared", "results"} and all(depth >= 0 for depth in queues.values())
    assert value("streamcls_events_total") >= len(client.get("/events").json()) > 0
    assert value("process_resident_memory_bytes") > 10_000_000


def test_a_source_whose_id_ends_like_a_route_has_its_record(folder):
    port = free_port()  # nothing listens: the source keeps trying, and stays
    uri = f"http://127.0.0.1:{port}/stream.mjpg"
    keep_trying = ReconnectConfig(attempts=1_000_000, initial_delay_s=0.2, max_delay_s=0.5)
    config = Config(sources=(SourceConfig(uri=uri, open_timeout_s=1, reconnect=keep_trying),),
                    service=ServiceConfig(port=0))
    with serving(config) as (_service, client):
        assert [record["id"] for record in client.get("/sources").json()] == [uri]
        assert client.get(f"/sources/{quote(uri, safe='')}/segments").json() == []
        record = client.get(f"/sources/{quote(uri, safe='')}")
        assert record.status_code == 200 and record.json()["id"] == uri, record.text
