"""Webhooks: signed POSTs through a durable outbox, checked on what a real receiver got.

The receiver (tests/receiver.py) is a real HTTP server on 127.0.0.1; every wait is
bounded. The verification recipe is taken from the module's docstring and from
docs/architecture.md and run as written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import signal
import sqlite3
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from cli import offline_environment, run_cli, start_cli
from fakes import FakeClassifier, FakeSource, frame_with_index
from receiver import Receiver

import streamcls.outputs.webhook as webhook_module
from streamcls.config import Config, InferenceConfig, OutputConfig, load_config
from streamcls.config.events import EventsConfig
from streamcls.errors import ConfigError
from streamcls.frames import Decoded, Event
from streamcls.outputs.outbox import Outbox
from streamcls.outputs.sink import SinkSettings
from streamcls.outputs.webhook import (
    WebhookOptions,
    WebhookSink,
    backoff_delay,
    parse_retry_after,
    preflight,
    sign,
)
from streamcls.pipeline import Pipeline

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLES = REPOSITORY / "samples"
SECRET = "s3cret-shared-value"
DEMO_LABELS = ["triangle", "circle", "square", "circle", "triangle", "square"]
DEMO_STARTS = [0, 43, 83, 123, 163, 203]
DEMO_RULES = {"postprocess": {"smoothing": "ema", "ema_alpha": 0.5, "hysteresis": {"margin": 0.2, "frames": 3}},
              "events": {"min_duration_s": 0.4}}


def recipe(text: str) -> dict:
    """The ``def verify`` code block of ``text``, executed: its namespace."""
    match = re.search(r"(?ms)^( *)import hashlib\n.*?def verify.*?(?=\n\S|\n```|\Z)", text)
    assert match, "no verification recipe found"
    namespace: dict = {}
    exec(textwrap.dedent(match.group(0)), namespace)
    return namespace


VERIFIERS = {
    "module docstring": recipe(webhook_module.__doc__)["verify"],
    "docs/architecture.md": recipe((REPOSITORY / "docs" / "architecture.md").read_text())["verify"],
}


def event(source: str, index: int, label: str = "cat") -> Event:
    return Event(event_id=f"{source}-{index}", source_id=source, label=label, score=0.9, start_frame=index * 10,
                 start_s=index * 0.4, start_time=None, previous_label=None, previous_start_frame=None,
                 previous_end_frame=None, previous_duration_s=None, created_at="2025-01-01T00:00:00Z")


def options(url: str, tmp_path: Path, **extra) -> WebhookOptions:
    return WebhookOptions.parse({"url": url, "secret": SECRET, "outbox": str(tmp_path / "outbox.sqlite"),
                                 "timeout_s": 0.5, "backoff_initial_s": 0.05, "backoff_max_s": 0.3,
                                 "drain_s": 1.0, **extra})


def settled(sink: WebhookSink, timeout: float = 5.0) -> dict:
    """The sink's report once its outbox is empty (the receiver answers before the sender records it)."""
    deadline = time.monotonic() + timeout
    while sink.outbox.pending(sink.destination) and time.monotonic() < deadline:
        time.sleep(0.02)
    return sink.report()


def assert_signed(request, started_wall: float) -> None:
    for name, verify in VERIFIERS.items():
        assert verify(SECRET.encode(), request.headers, request.body), name
    timestamp = int(request.headers["X-Streamcls-Timestamp"])
    assert started_wall - 1 <= timestamp <= time.time() + 1  # fresh
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("streamcls/")
    assert request.headers["X-Streamcls-Event-Id"] == request.record["event_id"]


# -- 1. the demo clip through the real pipeline --------------------------------------------


def test_the_demo_clip_makes_six_signed_events_in_order_at_the_receiver(tmp_path):
    started = time.time()
    with Receiver() as receiver:
        config = load_config(None, {"source.uri": str(SAMPLES / "demo-clip.mp4"),
                                    "model.bundle": str(SAMPLES / "demo-bundle"), "output.display": False,
                                    "output.progress": False, **DEMO_RULES,
                                    "output.sinks": [{"kind": "webhook", "options": {
                                        "url": receiver.url, "secret": SECRET,
                                        "outbox": str(tmp_path / "outbox.sqlite")}}]})
        with Pipeline(config) as pipeline:
            pipeline.run()
        accepted = receiver.wait_for(6, timeout=10)
    assert [r.record["label"] for r in accepted] == DEMO_LABELS
    assert [r.record["start_frame"] for r in accepted] == DEMO_STARTS
    assert len(receiver.requests) == 6  # nothing sent twice
    for request in accepted:
        assert_signed(request, started)
        assert "snapshot_jpeg" not in request.record


# -- the verification recipe ---------------------------------------------------------------


@pytest.mark.parametrize("where", list(VERIFIERS))
def test_the_documented_recipe_rejects_a_changed_body_a_wrong_secret_and_a_replay(where):
    verify = VERIFIERS[where]
    body = b'{"event_id":"x"}'
    now = int(time.time())
    headers = {"X-Streamcls-Timestamp": str(now), "X-Streamcls-Signature": sign(SECRET.encode(), now, body)}
    assert verify(SECRET.encode(), headers, body)
    assert not verify(SECRET.encode(), headers, body + b" ")
    assert not verify(b"another secret", headers, body)
    old = now - 3600
    replayed = {"X-Streamcls-Timestamp": str(old), "X-Streamcls-Signature": sign(SECRET.encode(), old, body)}
    assert not verify(SECRET.encode(), replayed, body)
    expected = "sha256=" + hmac.new(SECRET.encode(), f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["X-Streamcls-Signature"] == expected


# -- 2. a receiver that is down for a while -------------------------------------------------


def test_events_made_while_the_receiver_is_down_all_arrive_in_order_once_it_is_up(tmp_path):
    receiver = Receiver(start=False)
    try:
        with WebhookSink(options(receiver.url, tmp_path)) as sink:
            timings = []
            for index in range(8):
                for source in ("cam1", "cam2"):
                    began = time.perf_counter()
                    sink.write_event(event(source, index))
                    timings.append(time.perf_counter() - began)
                time.sleep(0.4)  # 3.2 s down, events coming in all along
            assert receiver.requests == [] and sink.outbox.pending(sink.destination) == 16
            receiver.start()
            accepted = receiver.wait_for(16, timeout=15)
            report = settled(sink)
        assert max(timings) < 0.2 and float(np.median(timings)) < 0.05  # write_event: a local commit, no network
        for source in ("cam1", "cam2"):
            assert [r.event_id for r in accepted if r.record["source"] == source] == [
                f"{source}-{index}" for index in range(8)]
        assert len(accepted) == 16 and report["pending"] == 0 and report["sent"] >= 16 and report["retries"] > 0
    finally:
        receiver.stop()


# -- 3. answers: 500, 429 with Retry-After, 400 ----------------------------------------------


def test_a_500_is_retried_and_then_delivered(tmp_path):
    with Receiver() as receiver:
        receiver.script = [500, 500]
        with WebhookSink(options(receiver.url, tmp_path)) as sink:
            sink.write_event(event("cam", 0))
            receiver.wait_for(1, timeout=10)
        assert [r.status for r in receiver.requests] == [500, 500, 200]
        assert {r.event_id for r in receiver.requests} == {"cam-0"}
        assert sink.retries == 2 and sink.sent == 1


def test_a_429_waits_at_least_its_retry_after(tmp_path):
    with Receiver(retry_after="1") as receiver:
        receiver.script = [429]
        with WebhookSink(options(receiver.url, tmp_path)) as sink:
            sink.write_event(event("cam", 0))
            sink.write_event(event("cam", 1))
            receiver.wait_for(2, timeout=10)
        statuses = [r.status for r in receiver.requests]
        assert statuses == [429, 200, 200]
        assert receiver.requests[1].at - receiver.requests[0].at >= 1.0
        assert [r.event_id for r in receiver.accepted()] == ["cam-0", "cam-1"]  # the second waited behind the first


class ChangingSource(FakeSource):
    """A fake source whose picture (so its label) changes every ``every`` frames."""

    def __init__(self, *arguments, every: int = 10, **keywords):
        super().__init__(*arguments, **keywords)
        self.every = every

    def read(self):
        decoded = super().read()
        index = self._next - 1
        return Decoded(frame_with_index((index // self.every) % 200, tag=self.tag), decoded.position_ms)


def fake_config(min_duration_s: float = 0.1) -> Config:
    return Config(inference=InferenceConfig(batch_size=4, max_batch_wait_ms=5.0),
                  output=OutputConfig(display=False, progress=False),
                  events=EventsConfig(min_duration_s=min_duration_s))


def test_a_400_is_not_retried_is_counted_and_the_run_completes(tmp_path, caplog):
    with Receiver(mode="reject") as receiver:
        sink = WebhookSink(options(receiver.url, tmp_path))
        source = ChangingSource(60, every=10)
        with Pipeline(fake_config(min_duration_s=0.0), classifier=FakeClassifier(), sources=[source],
                      sinks=[sink]) as pipeline:
            predictions = list(pipeline)
        assert len(predictions) == 60  # classification went on
    assert sink.accepted == 6 and sink.rejected == 6 and sink.retries == 0
    assert len(receiver.requests) == 6 and {r.status for r in receiver.requests} == {400}  # each sent once
    with Outbox(tmp_path / "outbox.sqlite") as outbox:
        assert outbox.drops(sink.destination) == {"rejected": 6} and outbox.pending(sink.destination) == 0
    assert caplog.text.count("refused by the receiver (HTTP 400") == 6


# -- 4. SIGTERM with undelivered events, then the next run ---------------------------------


def outbox_rows(path: Path) -> list[tuple[str, str]]:
    """(label, event id) of every message in the outbox file, oldest first."""
    if not path.exists():
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as connection:
        try:
            rows = connection.execute("SELECT body, event_id FROM messages ORDER BY id").fetchall()
            return [(json.loads(body)["label"], event_id) for body, event_id in rows]
        except sqlite3.OperationalError:
            return []  # the schema is being made


def test_sigterm_keeps_undelivered_events_and_the_next_run_sends_them_first(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("postprocess: {smoothing: ema, ema_alpha: 0.5, hysteresis: {margin: 0.2, frames: 3}}\n"
                      "events: {min_duration_s: 0.4}\noutput: {progress: false}\n")
    outbox = tmp_path / "outbox.sqlite"  # $STREAMCLS_CACHE/outbox.sqlite: the default
    env = offline_environment(STREAMCLS_CACHE=str(tmp_path), STREAMCLS_WEBHOOK_SECRET=SECRET)
    arguments = ["run", "--config", config, "--model", SAMPLES / "demo-bundle", "--source",
                 SAMPLES / "demo-clip.mp4", "--no-display"]
    receiver = Receiver(start=False)
    try:
        process = start_cli(*arguments, "--realtime", "--webhook", receiver.url, env=env)
        try:
            deadline = time.monotonic() + 120
            while len(outbox_rows(outbox)) < 2 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.1)
            process.send_signal(signal.SIGTERM)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
                process.communicate(timeout=10)
        assert process.returncode == 130, stderr
        kept = outbox_rows(outbox)
        assert 2 <= len(kept) < 6
        assert [label for label, _ in kept] == DEMO_LABELS[: len(kept)]  # in order
        assert f"{len(kept)} event(s) kept in the outbox for the next run" in stderr
        assert SECRET not in stderr

        receiver.start()
        result = run_cli(*arguments, "--webhook", receiver.url, env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        receiver.wait_requests(len(kept) + 6, timeout=10)
        received = [(r.record["label"], r.event_id) for r in receiver.requests]
    finally:
        receiver.stop()
    # The kept ones first, in their order, then the new run's six (the same clip: the same ids).
    assert [event_id for _, event_id in received[: len(kept)]] == [event_id for _, event_id in kept]
    assert [label for label, _ in received[len(kept):]] == DEMO_LABELS
    assert len(received) == len(kept) + 6
    for request in receiver.requests:
        assert VERIFIERS["module docstring"](SECRET.encode(), request.headers, request.body)
    assert outbox_rows(outbox) == []


# -- 5. a stalling receiver does not stall classification -----------------------------------


def processed_rate(sinks) -> tuple[float, int]:
    source = ChangingSource(120, live=True, fps=40, every=8)
    with Pipeline(fake_config(min_duration_s=0.1), classifier=FakeClassifier(), sources=[source],
                  sinks=sinks) as pipeline:
        began = time.monotonic()
        count = sum(1 for _ in pipeline)
        elapsed = time.monotonic() - began
    return count / elapsed, count


def test_a_stalling_receiver_costs_the_classification_nothing(tmp_path):
    baseline, _ = processed_rate([])
    with Receiver(mode="stall", stall_s=3.0) as receiver:
        sink = WebhookSink(options(receiver.url, tmp_path, timeout_s=2.0, drain_s=0.5))
        with_webhook, count = processed_rate([sink])
    assert count >= 100
    assert sink.accepted >= 10  # events were made and handed over all along
    assert sink.sent == 0 and sink.retries >= 1  # while the sender was stuck on the receiver
    assert with_webhook >= 0.9 * baseline, (with_webhook, baseline)


# -- 6. bad URLs, an unreachable receiver ----------------------------------------------------


@pytest.mark.parametrize("url, expected", [
    ("ftp://x", "received scheme 'ftp://'; expected an http:// or https:// URL"),
    ("notaurl", "received 'notaurl', which has no scheme"),
    ("http://:80/hook", "which names no host"),
])
def test_a_bad_webhook_url_fails_at_once_with_one_line(url, expected, tmp_path):
    result = run_cli("run", "--source", SAMPLES / "demo-clip.mp4", "--model", SAMPLES / "demo-bundle",
                     "--no-display", "--webhook", url, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "output.sinks[].options.url" in lines[0] and expected in lines[0], result.stderr


def test_an_unreachable_receiver_does_not_fail_the_run_and_no_credential_is_printed(tmp_path):
    url = "http://hook-user:pa55word@127.0.0.1:1/hook"
    env = offline_environment(STREAMCLS_CACHE=str(tmp_path), STREAMCLS_WEBHOOK_SECRET=SECRET)
    result = run_cli("run", "--source", SAMPLES / "demo-clip.mp4", "--model", SAMPLES / "demo-bundle",
                     "--no-display", "--max-frames", "100", "--webhook", url, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "kept in the outbox for the next run" in result.stderr
    assert "http://hook-user:***@127.0.0.1:1/hook" in result.stderr
    output = result.stdout + result.stderr
    assert "pa55word" not in output and SECRET not in output
    rows = outbox_rows(tmp_path / "outbox.sqlite")
    assert len(rows) >= 2
    with sqlite3.connect(tmp_path / "outbox.sqlite") as connection:
        stored = " ".join(str(value) for row in connection.execute("SELECT * FROM messages") for value in row)
    assert "pa55word" not in stored and SECRET not in stored


def test_credentials_in_the_url_go_as_basic_authorization_and_header_values_are_never_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with Receiver() as receiver:
        url = receiver.url.replace("http://", "http://user:pa55word@")
        sink = WebhookSink(options(url, tmp_path, headers={"X-Api-Key": "key-value-123"}))
        with sink:
            sink.write_event(event("cam", 0))
            [request] = receiver.wait_for(1, timeout=10)
        assert request.headers["Authorization"] == "Basic dXNlcjpwYTU1d29yZA=="  # user:pa55word
        assert request.headers["X-Api-Key"] == "key-value-123" and request.path == "/hook"
        receiver.stop()
        sink = WebhookSink(options(url, tmp_path, headers={"X-Api-Key": "key-value-123"}))
        with sink:
            sink.write_event(event("cam", 1))
            time.sleep(0.3)
        report = sink.report() if not sink.outbox.closed else {}
    text = caplog.text + repr(sink.options) + repr(report)
    assert "pa55word" not in text and "key-value-123" not in text and SECRET not in text
    assert "user:***@" in caplog.text


# -- 7. outbox bounds -----------------------------------------------------------------------


def test_a_full_outbox_drops_the_oldest_counts_and_reports_them(tmp_path, caplog):
    receiver = Receiver(start=False)
    try:
        with WebhookSink(options(receiver.url, tmp_path, max_messages=3)) as sink:
            for index in range(6):
                sink.write_event(event("cam", index))
            report = sink.report()
        assert report["dropped"] == {"full": 3} and report["dropped_in_outbox_lifetime"] == {"full": 3}
        assert report["pending"] == 3
        assert "dropped 1 event(s)" in caplog.text and "3 event(s) kept in the outbox" in caplog.text
        assert "dropped by the outbox's bounds" in caplog.text
        receiver.start()
        with WebhookSink(options(receiver.url, tmp_path, max_messages=3)) as sink:
            accepted = receiver.wait_for(3, timeout=10)
            report = settled(sink)
        assert [r.event_id for r in accepted] == ["cam-3", "cam-4", "cam-5"]  # the newest three, in order
        assert report["dropped"] == {} and report["dropped_in_outbox_lifetime"] == {"full": 3}
    finally:
        receiver.stop()


# -- options, backoff, Retry-After, preflight -----------------------------------------------


@pytest.mark.parametrize("given, expected", [
    ({"url": "http://h/x", "timeout_s": 0}, "output.sinks[].options.timeout_s: received 0; expected a number"),
    ({"url": "http://h/x", "max_attempts": 0}, "output.sinks[].options.max_attempts: received 0"),
    ({"url": "http://h/x", "max_messages": "many"}, "output.sinks[].options.max_messages: received 'many'"),
    ({"url": "http://h/x", "secret_env": "NOT_SET_ANYWHERE"}, "secret_env: received 'NOT_SET_ANYWHERE'"),
    ({"url": "http://h/x", "secret": SECRET, "secret_env": "X"}, "received both secret and secret_env"),
    ({"url": "http://h/x", "headers": {"X-Streamcls-Signature": "x"}}, "headers: received 'X-Streamcls-Signature'"),
    ({"url": "http://h/x", "colour": 1}, "received unknown key 'colour'"),
    ({"url": "http://h/x", "backoff_initial_s": 5, "backoff_max_s": 1}, "backoff_max_s: received 1"),
    ({"url": "https://u:pa55word@h:port/x"}, "received 'https://u:***@h:port/x', which is not a URL"),
    ({}, "output.sinks[].options.url: received None"),
])
def test_options_are_checked_with_one_line_that_never_shows_a_secret(given, expected):
    with pytest.raises(ConfigError) as caught:
        WebhookOptions.parse(given, environ={})
    message = str(caught.value)
    assert expected in message and "\n" not in message
    assert "pa55word" not in message and SECRET not in message


def test_the_secret_comes_from_an_option_a_named_variable_or_the_default_variable():
    assert WebhookOptions.parse({"url": "http://h/", "secret": "a"}, environ={}).secret == b"a"
    assert WebhookOptions.parse({"url": "http://h/", "secret_env": "MINE"}, environ={"MINE": "b"}).secret == b"b"
    assert WebhookOptions.parse({"url": "http://h/"}, environ={"STREAMCLS_WEBHOOK_SECRET": "c"}).secret == b"c"
    assert WebhookOptions.parse({"url": "http://h/"}, environ={}).secret is None
    defaults = WebhookOptions.parse({"url": "https://h/"}, environ={})
    assert (defaults.timeout_s, defaults.max_attempts, defaults.backoff_initial_s, defaults.backoff_max_s,
            defaults.max_messages, defaults.max_age_s) == (5.0, None, 0.5, 60.0, 100_000, 7 * 86_400.0)
    assert defaults.outbox.name == "outbox.sqlite"


def test_backoff_is_exponential_full_jitter_capped():
    highest = lambda low, high: high  # noqa: E731
    assert [backoff_delay(n, 0.5, 60, highest) for n in (1, 2, 3, 4, 8, 9, 200)] == [0.5, 1, 2, 4, 60, 60, 60]
    delays = [backoff_delay(3, 0.5, 60) for _ in range(200)]
    assert 0 <= min(delays) and max(delays) <= 2 and len(set(delays)) > 100  # jittered over [0, 2]


def test_retry_after_in_seconds_or_as_an_http_date():
    now = 1_700_000_000.0
    assert parse_retry_after("1", now) == 1.0
    assert parse_retry_after(" 120 ", now) == 120.0
    from email.utils import formatdate
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None
    assert parse_retry_after("-5", now) is None


def test_max_attempts_gives_up_and_counts(tmp_path):
    with Receiver(mode="error") as receiver:
        with WebhookSink(options(receiver.url, tmp_path, max_attempts=2)) as sink:
            sink.write_event(event("cam", 0))
            receiver.wait_requests(2, timeout=10)
            deadline = time.monotonic() + 5
            while sink.exhausted == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            report = sink.report()
    assert len(receiver.requests) == 2 and report["dropped"] == {"attempts": 1} and report["pending"] == 0


def test_preflight_says_when_the_receiver_does_not_answer(tmp_path):
    with Receiver() as receiver:
        settings = SinkSettings("webhook", options={"url": receiver.url, "outbox": str(tmp_path / "o.sqlite")})
        assert preflight(settings) == []
        receiver.stop()
        [problem] = preflight(settings)
    assert problem == (f"receiver {receiver.url} does not answer (connection refused); "
                       f"check the URL or start the receiver")
    [bad] = preflight(replace(settings, options={"url": "ftp://x"}))
    assert "output.sinks[].options.url" in bad


def test_two_webhooks_over_several_sources_are_two_shared_sinks(tmp_path):
    from streamcls.config import SinkConfig, SourceConfig
    from streamcls.outputs.open import open_outputs

    entries = tuple(SinkConfig(kind="webhook", options={"url": f"http://127.0.0.1:1/{name}", "drain_s": 0,
                                                        "outbox": str(tmp_path / "o.sqlite")}) for name in "ab")
    config = Config(output=OutputConfig(display=False, sinks=entries))
    outputs = open_outputs(config, [("cam1", SourceConfig(), None), ("cam2", SourceConfig(), None)])
    try:
        assert sorted(sink.destination for sink in outputs.all_sinks) == ["http://127.0.0.1:1/a",
                                                                          "http://127.0.0.1:1/b"]
        assert all(len(mine.sinks) == 2 for mine in outputs.per_source.values())
    finally:
        assert outputs.close() == []
