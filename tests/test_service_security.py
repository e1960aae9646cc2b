"""``streamcls serve``: who may use it, what it refuses, and what it never shows (a camera's password).

A service in this process with an API token and a metrics token runs a 20 fps file in real time
("door"); every hostile request is refused with the right status and a one-line error while
door keeps its rate. A password planted in source URLs never appears in any answer, the page,
/metrics or the logs. The command itself: refused without a token beyond loopback, warned with
--insecure-no-auth, stopped cleanly by SIGTERM.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import re
import signal
import threading
import time
from urllib.parse import quote

import httpx
import pytest
from cli import offline_environment, run_cli, start_cli
from rtsp import RtspServer, free_port, needs_server
from service import CLASSES, mjpeg_parts, processed, runs_video, samples, serving, wait_for

from streamcls.config import Config, ReconnectConfig, ServiceConfig, SourceConfig
from streamcls.errors import ConfigError
from streamcls.redact import RedactFilter
from streamcls.service import auth
from streamcls.service.auth import Tokens, load_tokens

FPS = 20
TOKEN = "api-token-for-the-tests-0123456789"
METRICS_TOKEN = "metrics-token-for-the-scraper-42"
PLANTED = "PLANTED-s3cret"
TINY = ("--weights", "none", "--alpha", "0.25", "--input-size", "32x48")
API = {"Authorization": f"Bearer {TOKEN}"}
NEEDS_TOKEN = "a valid token is needed: send 'Authorization: Bearer <token>'"
# Every read the token guards, and what its answer holds once the token is right.
GUARDED_GETS = {
    "/ready": b'"ready":true',
    "/sources": b'"id":"door"',
    "/sources/door": b'"id":"door"',
    "/sources/door/latest": b'"source":"door"',
    "/sources/door/segments": b'"label":"c',
    "/sources/door/events": b"[",
    "/sources/door/snapshot.jpg": b"\xff\xd8\xff",
    "/sources/door/stream.mjpg": b"--streamcls-frame\r\nContent-Type: image/jpeg",
    "/events": b"[",
    "/metrics": b'streamcls_frames_processed_total{source="door"}',
}
PUBLIC = ("/", "/dashboard.js", "/health", "/openapi.json")


def closed_port() -> int:
    """A loopback port nothing listens on (connections to it are refused at once)."""
    return free_port()


@pytest.fixture(autouse=True)
def no_token_in_the_environment(monkeypatch):
    monkeypatch.delenv(auth.TOKEN_VARIABLE, raising=False)
    monkeypatch.delenv(auth.METRICS_TOKEN_VARIABLE, raising=False)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("service_security")


@pytest.fixture(scope="module")
def clip(folder):
    return runs_video(folder / "door.avi", 2400, run_length=10, fps=FPS)


@pytest.fixture(scope="module")
def outside(folder, tmp_path_factory):
    """A clip outside the allowed folder, and a link inside it that points to that clip."""
    elsewhere = tmp_path_factory.mktemp("not_allowed")
    secret = runs_video(elsewhere / "secret.avi", 20)
    (folder / "link.avi").symlink_to(secret)
    (folder / "linked_folder").symlink_to(elsewhere, target_is_directory=True)
    return secret


@pytest.fixture(scope="module")
def guarded(folder, clip, tmp_path_factory):
    """(service, client without a token): the API token and the metrics token in force."""
    files = tmp_path_factory.mktemp("tokens")
    (files / "api").write_text(TOKEN + "\n")
    (files / "metrics").write_text(METRICS_TOKEN + "\n")
    tokens = load_tokens(str(files / "api"), str(files / "metrics"), "127.0.0.1", False)
    config = Config(
        sources=(SourceConfig(uri=str(clip), id="door", realtime=True),),
        service=ServiceConfig(port=0, allowed_folders=(str(folder),), max_sources=3),
    )
    with serving(config, tokens) as (service, client):
        wait_for(lambda: client.get("/sources/door", headers=API).json()["frames_processed"] >= 20, 20,
                 "door classifies")
        yield service, client


@pytest.fixture
def client(guarded):
    return guarded[1]


def fetch(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """(status, body) of a GET; a live view's body is its first part only (it never ends)."""
    with client.stream("GET", path, headers=headers) as response:
        if response.status_code != 200 or not path.endswith(".mjpg"):
            return response.status_code, response.read()
        body = b""
        for chunk in response.iter_bytes():
            body += chunk
            if body.count(b"\xff\xd9"):
                break
        return response.status_code, body


def assert_refused(response: httpx.Response, status: int, fragment: str) -> str:
    """The status, and a JSON body that is one line of error naming ``fragment``."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert fragment in error and "\n" not in error and len(error) < 400, error
    return error


def source_ids(client: httpx.Client) -> list[str]:
    return [record["id"] for record in client.get("/sources", headers=API).json()]


# -- tokens ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GUARDED_GETS)
def test_every_guarded_read_needs_the_token(client, path):
    status, body = fetch(client, path)
    assert status == 401, body
    message = "a valid token is needed for /metrics" if path == "/metrics" else NEEDS_TOKEN
    assert httpx.Response(401, content=body).json() == {"error": message}
    for wrong in (TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "x" * len(TOKEN), f"{TOKEN} {TOKEN}", METRICS_TOKEN):
        assert fetch(client, path, {"Authorization": f"Bearer {wrong}"})[0] == (
            200 if path == "/metrics" and wrong == METRICS_TOKEN else 401), wrong
    for header in ("Bearer", f"Basic {TOKEN}", TOKEN):
        assert fetch(client, path, {"Authorization": header})[0] == 401, header
    assert fetch(client, f"{path}?token={TOKEN}")[0] == 401
    if path.endswith("snapshot.jpg"):  # the first look starts the drawing: a picture within a moment
        wait_for(lambda: fetch(client, path, API)[0] == 200, 5, "a snapshot")
    status, body = fetch(client, path, API)
    assert status == 200 and GUARDED_GETS[path] in body, body[:200]


def test_a_refusal_says_nothing_of_what_exists(client):
    for path in ("/sources/door", "/sources/nope", "/sources/nope/latest"):
        response = client.get(path)
        assert response.status_code == 401 and response.json() == {"error": NEEDS_TOKEN}, path
        assert response.headers["www-authenticate"] == "Bearer"
    assert client.delete("/sources/nope").status_code == 401
    assert client.delete("/sources/door").status_code == 401
    assert source_ids(client) == ["door"]


def test_the_cookie_opens_reads_but_never_changes(client, clip):
    cookie = {"Cookie": f"{auth.COOKIE}={TOKEN}"}
    records = client.get("/sources", headers=cookie)
    assert records.status_code == 200 and [record["id"] for record in records.json()] == ["door"]
    assert client.get("/sources/door/latest", headers=cookie).json()["label"] in CLASSES
    assert client.get("/metrics", headers=cookie).status_code == 200
    assert client.get("/sources", headers={"Cookie": f"{auth.COOKIE}={TOKEN[:-1]}"}).status_code == 401

    assert_refused(client.post("/sources", json={"uri": str(clip), "id": "visitor"}, headers=cookie), 401,
                   NEEDS_TOKEN)
    assert_refused(client.delete("/sources/door", headers=cookie), 401, NEEDS_TOKEN)
    assert source_ids(client) == ["door"]
    assert client.get("/sources/door", headers=API).json()["state"] == "running"

    added = client.post("/sources", json={"uri": str(clip), "id": "visitor"}, headers={**cookie, **API})
    assert added.status_code == 201 and added.json()["id"] == "visitor"
    assert source_ids(client) == ["door", "visitor"]
    removed = client.delete("/sources/visitor", headers=API)
    assert removed.status_code == 200 and removed.json()["state"] == "removed"
    assert source_ids(client) == ["door"]


def test_the_metrics_token_opens_metrics_alone(client, clip):
    metrics_only = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    scraped = client.get("/metrics", headers=metrics_only)
    assert scraped.status_code == 200
    assert samples(scraped.text)[("streamcls_frames_processed_total", (("source", "door"),))] > 0
    assert client.get("/metrics", headers=API).status_code == 200  # the API token opens it too
    assert client.get("/metrics", headers={"Cookie": f"{auth.COOKIE}={METRICS_TOKEN}"}).status_code == 200
    for path in list(GUARDED_GETS)[:-1]:
        assert fetch(client, path, metrics_only)[0] == 401, path
    assert_refused(client.post("/sources", json={"uri": str(clip), "id": "scraper"}, headers=metrics_only), 401,
                   NEEDS_TOKEN)
    assert_refused(client.delete("/sources/door", headers=metrics_only), 401, NEEDS_TOKEN)
    assert source_ids(client) == ["door"]


def test_public_routes_hold_no_data(client, folder):
    answers = {}
    for path in PUBLIC:
        response = client.get(path)
        assert response.status_code == 200, path
        answers[path] = response.text
    assert client.get("/health").json() == {"status": "up"}
    page = client.get("/")
    assert page.headers["x-frame-options"] == "DENY" and "script-src 'self';" in page.headers["content-security-policy"]
    for path, text in answers.items():
        for data in ("door", str(folder), TOKEN, METRICS_TOKEN, "frames_processed\":"):
            assert data not in text, (path, data)


def test_tokens_are_compared_as_digests_of_equal_length(monkeypatch):
    compared: list[tuple[int, int]] = []
    real = auth.hmac.compare_digest

    def spy(given, expected):
        compared.append((len(given), len(expected)))
        return real(given, expected)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    monkeypatch.setenv(auth.TOKEN_VARIABLE, TOKEN)
    monkeypatch.setenv(auth.METRICS_TOKEN_VARIABLE, METRICS_TOKEN)
    tokens = load_tokens(None, None, "127.0.0.1", False)
    assert tokens == Tokens(hashlib.sha256(TOKEN.encode()).digest(), hashlib.sha256(METRICS_TOKEN.encode()).digest())
    assert tokens.required and tokens.allows(TOKEN) and tokens.allows(TOKEN, metrics=True)
    assert tokens.allows(METRICS_TOKEN, metrics=True) and not tokens.allows(METRICS_TOKEN)
    for wrong in (None, "", "x", TOKEN[:-1], TOKEN + "x", TOKEN * 40, TOKEN.upper(), "\udcff" * 3):
        assert not tokens.allows(wrong) and not tokens.allows(wrong, metrics=True), wrong
    assert compared and set(compared) == {(32, 32)}  # every comparison: two SHA-256 digests, whatever was sent
    assert Tokens().allows(None) and Tokens().allows("anything")  # no token in force: open (loopback)
    scraper_only = Tokens(metrics=hashlib.sha256(METRICS_TOKEN.encode()).digest())
    assert scraper_only.allows(None) and not scraper_only.allows(None, metrics=True)
    assert scraper_only.allows(METRICS_TOKEN, metrics=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.7", "camera-server.example"])
def test_load_tokens_refuses_an_open_host_without_a_token(host):
    with pytest.raises(ConfigError) as refused:
        load_tokens(None, None, host, False)
    assert str(refused.value).startswith(f"--host {host} reaches beyond this machine but no API token is set")
    assert not load_tokens(None, None, host, True).required  # --insecure-no-auth: told so


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_load_tokens_needs_no_token_on_loopback(host):
    assert load_tokens(None, None, host, False) == Tokens()


def test_load_tokens_refuses_bad_token_files(tmp_path, monkeypatch):
    short, empty, good = tmp_path / "short", tmp_path / "empty", tmp_path / "good"
    short.write_text("only-11-chr\n")
    empty.write_text("\n  \n")
    good.write_text(TOKEN)
    cases = [
        ((str(short), None), "the API token has 11 characters; expected at least 16"),
        ((str(good), str(short)), "the metrics token has 11 characters; expected at least 16"),
        ((str(empty), None), f"--token-file '{empty}' is empty; put the token in it on one line"),
        ((str(tmp_path / "missing"), None),
         f"--token-file '{tmp_path / 'missing'}' cannot be read (No such file or directory)"),
        ((str(tmp_path), None), f"--token-file '{tmp_path}' cannot be read (Is a directory)"),
        ((str(good), str(tmp_path / "gone")), "--metrics-token-file"),
    ]
    for (token_file, metrics_file), message in cases:
        with pytest.raises(ConfigError) as refused:
            load_tokens(token_file, metrics_file, "0.0.0.0", False)
        assert str(refused.value).startswith(message), (token_file, str(refused.value))
    monkeypatch.setenv(auth.TOKEN_VARIABLE, "short")
    with pytest.raises(ConfigError, match="the API token has 5 characters"):
        load_tokens(None, None, "127.0.0.1", False)
    assert load_tokens(str(good), None, "0.0.0.0", False).required  # the file wins over the variable


# -- hostile requests ----------------------------------------------------------------------------


def hostile(folder, clip, outside) -> list[tuple[str, str, dict, int, str]]:
    """(method, path, request arguments, status, what the error says) of requests the service refuses."""
    limit = ServiceConfig().max_body_bytes

    def chunked():
        for _ in range(limit // 1000 + 5):
            yield b" " * 1000

    post = [
        (dict(content=b'{"uri": '), 400, "the body is not JSON"),
        (dict(content=b"\xff\xfe{"), 400, "the body is not JSON"),
        (dict(content=b""), 400, "the body is not JSON"),
        (dict(json=[str(clip)]), 400, "sources[+]: received"),
        (dict(json="door"), 400, "expected a mapping of keys"),
        (dict(json={"uri": str(clip), "idd": "x"}), 400, "sources[+].idd: unknown key; did you mean 'id'?"),
        (dict(json={"id": "nouri"}), 400, "sources[+].uri: missing"),
        (dict(json={"uri": 5}), 400, "sources[+].uri: received 5 (int); expected text"),
        (dict(json={"uri": ""}), 400, "sources[+].uri: is empty"),
        (dict(json={"uri": str(clip), "realtime": "yes"}), 400, "sources[+].realtime: received 'yes' (str)"),
        (dict(json={"uri": str(clip), "open_timeout_s": -1}), 400, "sources[+].open_timeout_s: received -1.0"),
        (dict(json={"uri": str(clip), "policy": "fast"}), 400, "sources[+].policy: received 'fast'"),
        (dict(json={"uri": str(clip), "reconnect": 5}), 400, "sources[+].reconnect: received 5 (int)"),
        (dict(json={"uri": str(clip), "events": {"min_score": 2}}), 400, "sources[+].events.min_score"),
        (dict(json={"uri": str(clip), "output": {"sinks": []}}), 403, "sources[+].output: not accepted over the API"),
        (dict(content=b" " * (limit + 1)), 413, f"the body has {limit + 1} bytes; at most {limit} are accepted"),
        (dict(content=chunked()), 413, f"at most {limit} are accepted (service.max_body_bytes)"),
        (dict(json={"uri": "file:///etc/passwd"}), 400, "give a file's path without 'file:'"),
        (dict(json={"uri": f"file:{clip}"}), 400, "give a file's path without 'file:'"),
        (dict(json={"uri": "gopher://127.0.0.1:70/x"}), 403, "scheme 'gopher' is not allowed here"),
        (dict(json={"uri": "ftp://127.0.0.1/x.avi"}), 403, "scheme 'ftp' is not allowed here"),
        (dict(json={"uri": "udp://127.0.0.1:9"}), 403, "scheme 'udp' is not allowed here"),
        (dict(json={"uri": "rtmp://127.0.0.1/live"}), 403, "scheme 'rtmp' is not allowed here"),
        (dict(json={"uri": "/etc/passwd"}), 403, "is outside the folders sources may come from"),
        (dict(json={"uri": f"{folder}/../{outside.parent.name}/{outside.name}"}), 403, "is outside the folders"),
        (dict(json={"uri": f"{folder}/../*.avi"}), 403, "is outside the folders"),
        (dict(json={"uri": str(folder / "link.avi")}), 403, "is outside the folders"),
        (dict(json={"uri": str(folder / "linked_folder")}), 403, "is outside the folders"),
        (dict(json={"uri": str(folder / "linked_folder" / "*.avi")}), 403, "is outside the folders"),
        (dict(json={"uri": str(folder / "nothing.avi")}), 404, "does not exist; give an existing file or folder"),
        (dict(json={"uri": "/dev/video0"}), 403, "'/dev/video0' is a camera on the service's machine"),
        (dict(json={"uri": "0"}), 403, "'0' is a camera on the service's machine"),
        (dict(json={"uri": f"{clip}\x1b[2J"}), 400, "holds control characters"),
        (dict(json={"uri": str(clip), "id": "door"}), 409, "source id 'door' is taken already"),
    ]
    for bad_id in ("../door", "a/b", "door\n", "é", "💥", "-door", ".door", "", "a" * 65, "a" * 5000):
        post.append((dict(json={"uri": str(clip), "id": bad_id}), 400,
                     f"sources[+].id: received {bad_id[:80]!r}; expected 1-64 of letters"))
    requests = [("POST", "/sources", {**arguments, "headers": API}, status, message)
                for arguments, status, message in post]
    # An id is one percent-encoded segment: an unencoded '/' ends it, and what follows names no route.
    for path, shown in (("..%2F..%2Fetc%2Fpasswd", "../../etc/passwd"), ("%2e%2e/%2e%2e/etc/passwd", None),
                        ("%C3%A9%F0%9F%92%A5", "é💥"), ("door%00", "door\\x00"), ("a" * 5000, "a" * 80),
                        ("door%2F..%2Fdoor", "door/../door")):
        message = "Not Found" if shown is None else f"no source '{shown}'; GET /sources lists them"
        requests += [("GET", f"/sources/{path}", {"headers": API}, 404, message),
                     ("GET", f"/sources/{path}/latest", {"headers": API}, 404, message),
                     ("DELETE", f"/sources/{path}", {"headers": API}, 404, message)]
    requests += [
        ("GET", "/events?limit=all", {"headers": API}, 422, "query.limit: "),
        ("GET", "/sources/door/segments?limit=1e9", {"headers": API}, 422, "query.limit: "),
        ("PUT", "/sources", {"headers": API}, 405, "Method Not Allowed"),
        ("DELETE", "/sources", {"headers": API}, 405, "Method Not Allowed"),
        ("GET", "/nothing/here", {"headers": API}, 404, "Not Found"),
    ]
    return requests


def test_hostile_requests_are_refused_in_one_line_while_the_source_keeps_its_rate(guarded, folder, clip, outside):
    _service, client = guarded
    counts = [(time.monotonic(), processed(client, "door", API))]
    passes = 0
    while passes < 2 or time.monotonic() - counts[0][0] < 6:  # bounded: at most 6 s past the second pass
        for method, path, arguments, status, message in hostile(folder, clip, outside):  # a fresh chunked body
            assert_refused(client.request(method, path, **arguments), status, message)
        passes += 1
        counts.append((time.monotonic(), processed(client, "door", API)))
    assert passes >= 2 and source_ids(client) == ["door"]
    assert client.get("/sources/door", headers=API).json()["state"] == "running"
    assert (counts[-1][1] - counts[0][1]) / (counts[-1][0] - counts[0][0]) == pytest.approx(FPS, rel=0.1)
    # no second with nothing classified: each pass' share grows at the native rate too
    for (start, first), (end, last) in zip(counts, counts[1:]):
        if end - start > 1.0:
            assert (last - first) / (end - start) == pytest.approx(FPS, rel=0.25), counts


def test_the_source_limit_and_a_source_that_cannot_open(client, clip):
    for number in (1, 2):
        assert client.post("/sources", json={"uri": str(clip), "id": f"extra{number}"}, headers=API).status_code == 201
    assert_refused(client.post("/sources", json={"uri": str(clip), "id": "extra3"}, headers=API), 409,
                   "the service runs 3 sources already (service.max_sources); remove one first")
    for number in (1, 2):
        assert client.delete(f"/sources/extra{number}", headers=API).json()["state"] == "removed"
    port = closed_port()
    error = assert_refused(
        client.post("/sources", json={"uri": f"rtsp://127.0.0.1:{port}/x", "id": "nowhere", "open_timeout_s": 1},
                    headers=API),
        422, "source 'nowhere' cannot be opened: ")
    assert "nowhere" in error and source_ids(client) == ["door"]  # nothing stays of it


def test_a_thousand_adds_and_removes_leave_the_running_source_at_its_rate(guarded, clip):
    service, client = guarded
    start = time.monotonic()
    counts = [(start, processed(client, "door", API))]
    calls = cycles = 0
    while calls < 1000 and time.monotonic() - start < 20:
        added = client.post("/sources", json={"uri": str(clip), "id": f"churn-{cycles}", "realtime": True},
                            headers=API)
        assert added.status_code == 201 and added.json()["id"] == f"churn-{cycles}", added.text
        removed = client.delete(f"/sources/churn-{cycles}", headers=API)
        assert removed.status_code == 200 and removed.json()["state"] == "removed", removed.text
        calls += 2
        cycles += 1
        if time.monotonic() - counts[-1][0] >= 2:
            counts.append((time.monotonic(), processed(client, "door", API)))
    elapsed = time.monotonic() - start
    assert calls == 2 * cycles and (calls == 1000 or elapsed >= 20), (calls, elapsed)
    assert cycles >= 100, f"only {cycles} add/remove cycles in {elapsed:.1f} s"
    assert source_ids(client) == ["door"]
    assert client.get("/sources/door", headers=API).json()["state"] == "running"
    for (begin, first), (end, last) in zip(counts, counts[1:]):
        assert (last - first) / (end - begin) == pytest.approx(FPS, rel=0.15), counts
    series = samples(client.get("/metrics", headers=API).text)
    assert not [key for key in series if any(value.startswith("churn-") for _, value in key[1])]
    assert series[("streamcls_sources", ())] == 1
    assert all(service.board.latest(f"churn-{number}") is None for number in range(cycles))


# -- a planted password ----------------------------------------------------------------------------


def everything_shown(client: httpx.Client, headers: dict[str, str] | None = None) -> dict[str, bytes]:
    """Every route's answer for every source: {path: body}."""
    shown = {}
    for path in (*PUBLIC, "/ready", "/sources", "/events", "/metrics"):
        shown[path] = fetch(client, path, headers)[1]
    for record in client.get("/sources", headers=headers).json():
        base = f"/sources/{quote(record['id'], safe='')}"
        for suffix in ("", "/latest", "/segments", "/events", "/snapshot.jpg"):
            shown[base + suffix] = fetch(client, base + suffix, headers)[1]
        if record["frames_processed"]:  # a view of a source with no picture waits for one
            shown[base + "/stream.mjpg"] = fetch(client, base + "/stream.mjpg", headers)[1]
    return shown


def assert_never_shown(shown: dict[str, bytes], caplog, capfd) -> None:
    for path, body in shown.items():
        assert PLANTED.encode() not in body, path
        assert quote(PLANTED).encode() not in body, path
    assert PLANTED not in caplog.text
    out, err = capfd.readouterr()
    assert PLANTED not in out and PLANTED not in err


@pytest.fixture
def redacted_logs(caplog):
    """Every record at DEBUG, through the filter the command puts on its handlers."""
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RedactFilter())
    return caplog


def test_a_planted_password_is_never_shown(folder, clip, redacted_logs, capfd):
    port = closed_port()
    vault = f"rtsp://admin:{PLANTED}@127.0.0.1:{port}/cam"
    keep_trying = ReconnectConfig(attempts=1_000_000, initial_delay_s=0.2, max_delay_s=0.5)
    config = Config(
        sources=(SourceConfig(uri=str(clip), id="door", realtime=True),
                 SourceConfig(uri=vault, id="vault", open_timeout_s=1, reconnect=keep_trying),
                 SourceConfig(uri=f"http://127.0.0.1:{port}/live.m3u8?token={PLANTED}", open_timeout_s=1,
                              reconnect=keep_trying)),
        service=ServiceConfig(port=0, allowed_folders=(str(folder),)),
    )
    with serving(config) as (_service, client):
        def unreachable_say_why():
            found = client.get("/sources").json()
            return all(record["last_error"] for record in found[1:]) and found

        records = wait_for(unreachable_say_why, 10, "both unreachable sources say why")
        assert [record["id"] for record in records] == [
            "door", "vault", f"http://127.0.0.1:{port}/live.m3u8?token=***"]
        assert records[1]["uri"] == f"rtsp://admin:***@127.0.0.1:{port}/cam"
        assert records[2]["uri"] == records[2]["id"]
        assert all(record["state"] in ("opening", "reconnecting") for record in records[1:])
        assert all("cannot be opened within 1 s" in record["last_error"] for record in records[1:]), records
        for body, named in (
            ({"uri": f"rtsp://admin:{PLANTED}@127.0.0.1:{port}/x", "id": "intruder", "open_timeout_s": 1},
             "source 'intruder' cannot be opened: "),
            ({"uri": f"rtsp://admin:{PLANTED}@127.0.0.1:{port}/x", "open_timeout_s": 1},
             f"source 'rtsp://admin:***@127.0.0.1:{port}/x' cannot be opened: "),
            ({"uri": f"https://viewer:{PLANTED}@127.0.0.1:{port}/x?password={PLANTED}", "open_timeout_s": 1},
             "cannot be opened: "),
        ):
            assert_refused(client.post("/sources", json=body), 422, named)
        assert_refused(client.post("/sources", json={"uri": f"rtmp://admin:{PLANTED}@127.0.0.1/x"}), 403,
                       "scheme 'rtmp' is not allowed here")
        assert_refused(client.post("/sources", json={"uri": f"gopher://admin:{PLANTED}@127.0.0.1/x"}), 403,
                       "scheme 'gopher' is not allowed here")
        assert len(client.get("/sources").json()) == 3
        shown = everything_shown(client)
        assert b"vault" in shown["/metrics"] and b"rtsp://admin:***@" in shown["/sources"]
        removed = client.delete("/sources/vault")
        assert removed.status_code == 200 and PLANTED not in removed.text
    assert_never_shown(shown, redacted_logs, capfd)


@needs_server
def test_a_planted_password_of_a_live_camera_is_never_shown(folder, clip, redacted_logs, capfd):
    server = RtspServer(free_port(), fps=10, size=(64, 48), lifetime=60)
    try:
        gate = server.url.replace("rtsp://", f"rtsp://admin:{PLANTED}@")
        masked = server.url.replace("rtsp://", "rtsp://admin:***@")
        config = Config(sources=(SourceConfig(uri=gate, id="gate"),),
                        service=ServiceConfig(port=0, allowed_folders=(str(folder),)))
        with serving(config) as (_service, client):
            wait_for(lambda: client.get("/sources/gate").json()["frames_processed"] >= 10, 20, "the camera classifies")
            added = client.post("/sources", json={"uri": gate})
            assert added.status_code == 201, added.text
            assert added.json()["id"] == masked and added.json()["uri"] == masked
            path = f"/sources/{quote(masked, safe='')}"
            wait_for(lambda: client.get(path).json()["frames_processed"] >= 5, 10, "the added camera classifies")
            assert client.get("/sources/gate").json()["uri"] == masked
            assert client.get(f"{path}/latest").json()["source"] == masked
            wait_for(lambda: client.get(f"{path}/snapshot.jpg").status_code == 200, 5, "a snapshot")
            assert len(mjpeg_parts(client, "/sources/gate/stream.mjpg", 1.0)) >= 2
            shown = everything_shown(client)
            assert samples(shown["/metrics"].decode())[("streamcls_source_state", (("source", masked),
                                                                                  ("state", "running")))] == 1
            removed = client.delete(path)
            assert removed.status_code == 200 and removed.json()["id"] == masked
            assert [record["id"] for record in client.get("/sources").json()] == ["gate"]
    finally:
        server.stop()
    assert_never_shown(shown, redacted_logs, capfd)


# -- the command -------------------------------------------------------------------------------------


def environment_without_tokens() -> dict[str, str]:
    return {name: value for name, value in offline_environment().items()
            if name not in (auth.TOKEN_VARIABLE, auth.METRICS_TOKEN_VARIABLE)}


@pytest.mark.parametrize("flags, message", [
    (("--host", "0.0.0.0"), "--host 0.0.0.0 reaches beyond this machine but no API token is set; give --token-file"),
    (("--token-file", "short.txt"), "the API token has 11 characters; expected at least 16"),
    (("--token-file", "missing.txt"), "--token-file 'missing.txt' cannot be read (No such file or directory)"),
])
def test_serve_refuses_in_one_line(tmp_path, flags, message):
    (tmp_path / "short.txt").write_text("only-11-chr")
    result = run_cli("serve", *TINY, "--port", "0", *flags, env=environment_without_tokens(), cwd=tmp_path,
                     timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"streamcls: error: {message}"), lines
    assert result.stdout == ""


def test_serve_insecure_no_auth_warns_then_stops_cleanly_on_sigterm(tmp_path):
    # '127.1' is 127.0.0.1 to the socket but not an address the service can vouch for as loopback,
    # so it counts as beyond this machine: the warning prints, yet nothing listens outside.
    port = closed_port()
    with (tmp_path / "stderr.txt").open("w") as errors:
        process = start_cli("serve", *TINY, "--host", "127.1", "--port", "0", "--insecure-no-auth",
                            "--source", f"rtsp://admin:{PLANTED}@127.0.0.1:{port}/x",
                            env=environment_without_tokens(), cwd=tmp_path, stderr=errors)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 120
        serving_line = ""
        while not serving_line.startswith("serving") and time.monotonic() < deadline and process.poll() is None:
            try:
                serving_line = lines.get(timeout=1)
            except queue.Empty:
                continue
        assert serving_line.startswith("serving 1 source at http://127.0.0.1:"), serving_line
        url = re.search(r"at (http://127\.0\.0\.1:\d+/) ", serving_line).group(1)
        assert httpx.get(url + "health", timeout=10).json() == {"status": "up"}
        records = httpx.get(url + "sources", timeout=10).json()  # no token: it said so
        assert [record["id"] for record in records] == [f"rtsp://admin:***@127.0.0.1:{port}/x"]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    reader.join(10)
    process.stdout.close()
    stdout = serving_line + "".join(lines.get() for _ in range(lines.qsize()))
    stderr = (tmp_path / "stderr.txt").read_text()
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert warnings == ["warning: serving on 127.1 with no token (--insecure-no-auth): anyone who can reach it "
                        "can see every camera and add or remove sources"]
    assert "stopped by SIGTERM; every output closed" in stdout
    assert re.search(r"^frames +\d+ read, \d+ processed, \d+ dropped$", stdout, re.MULTILINE), stdout
    assert re.search(r"^throughput ", stdout, re.MULTILINE), stdout
    assert PLANTED not in stdout and PLANTED not in stderr


def test_doctor_says_what_would_stop_serve(tmp_path):
    import socket

    from streamcls.doctor.checks import service_check
    from streamcls.doctor.report import Status

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = service_check(Config(service=ServiceConfig(port=port)))
        assert busy.status is Status.PROBLEM and f"--port {port} on 127.0.0.1 cannot be used" in busy.value
    # 127.1 is loopback, but not spelled as such: it is held to the rules of an open address.
    open_host = service_check(Config(service=ServiceConfig(host="127.1", port=0)))
    assert open_host.status is Status.PROBLEM and "no API token is set" in open_host.value
    assert "--token-file" in open_host.fix
    token_file = tmp_path / "token"
    token_file.write_text("a-long-enough-test-token-0123456789")
    fine = service_check(Config(service=ServiceConfig(host="127.1", port=0, token_file=str(token_file))))
    assert fine.status is Status.OK and fine.value == "127.1:0 free, token rules met"
