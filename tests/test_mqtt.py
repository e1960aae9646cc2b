"""The MQTT sink against a real Mosquitto on 127.0.0.1: what a subscriber receives.

The demo clip through the real pipeline, a subscriber that comes late, a broker
killed mid-run and restarted, a broker away the whole run (the bounded queue),
credentials, and the CLI's --mqtt. Fake sources and the fake classifier (a new
label every frame, so an event every frame with ``min_duration_s: 0``) keep the
live runs short and their events known.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import pytest
from broker import Broker, Subscriber, free_port, require_mosquitto, self_signed
from cli import offline_environment, run_cli
from fakes import FakeClassifier, FakeSource

from streamcls.config import Config, OutputConfig, load_config
from streamcls.config.events import EventsConfig
from streamcls.errors import ConfigError, SinkError
from streamcls.frames import Prediction
from streamcls.outputs.mqtt import MqttOptions, MqttSink, preflight
from streamcls.outputs.sink import SinkSettings
from streamcls.pipeline import Pipeline

DEMO_SOURCE = "samples_demo-clip.mp4"  # "samples/demo-clip.mp4" made safe for a topic level
DEMO_LABELS = ["triangle", "circle", "square", "circle", "triangle", "square"]
DEMO_STARTS = [0, 43, 83, 123, 163, 203]
PASSWORD = "s3cret-Pa55"


@pytest.fixture
def broker(tmp_path):
    require_mosquitto()
    server = Broker(tmp_path).start()
    yield server
    server.kill()


def demo_config(url: str, **options) -> Config:
    return load_config(None, {
        "source.uri": "samples/demo-clip.mp4", "model.bundle": "samples/demo-bundle",
        "output.display": False, "output.progress": False,
        "postprocess": {"smoothing": "ema", "ema_alpha": 0.5, "hysteresis": {"margin": 0.2, "frames": 3}},
        "events": {"min_duration_s": 0.4},
        "output.sinks": [{"kind": "mqtt", "options": {"url": url, **options}}],
    })


def fake_config() -> Config:
    return Config(events=EventsConfig(min_duration_s=0.0), output=OutputConfig(display=False))


def sink(url: str, **options) -> MqttSink:
    return MqttSink(MqttOptions.parse({"url": url, **options}), ("fake",))


def payloads(messages, topic):
    return [message for message in messages if message.topic == topic]


# -- the demo clip through the real pipeline -----------------------------------------------


def test_demo_clip_events_state_availability_and_a_late_subscriber(broker):
    with Subscriber(broker.port) as early:
        seen = []
        with Pipeline(demo_config(broker.url("plant"), discovery=True), on_event=seen.append) as pipeline:
            pipeline.run()
        messages = early.wait_for(lambda got: any(m.topic == "plant/availability" and m.text == "offline"
                                                  for m in got), what="offline")
    events = [m.json() for m in payloads(messages, f"plant/{DEMO_SOURCE}/events")]
    assert [event["label"] for event in events] == DEMO_LABELS
    assert [event["start_frame"] for event in events] == DEMO_STARTS
    assert [event["event_id"] for event in events] == [event.event_id for event in seen]
    assert len({event["event_id"] for event in events}) == 6
    assert all(event["source"] == "samples/demo-clip.mp4" for event in events)
    assert not any(m.retain for m in payloads(messages, f"plant/{DEMO_SOURCE}/events"))
    states = [m.json() for m in payloads(messages, f"plant/{DEMO_SOURCE}/state")]
    # One state per change of the shown label, not one per frame.
    assert [state["label"] for state in states] == DEMO_LABELS
    assert [state["frame_index"] for state in states] == DEMO_STARTS
    assert set(states[-1]) == {"label", "score", "source", "frame_index", "time"}
    assert [m.text for m in payloads(messages, "plant/availability")] == ["online", "offline"]

    # A subscriber that connects after the run gets the retained messages at once.
    config_topic = f"homeassistant/sensor/plant/{DEMO_SOURCE}/config"
    with Subscriber(broker.port) as late:
        retained = late.wait_for(lambda got: {m.topic for m in got} >= {
            f"plant/{DEMO_SOURCE}/state", "plant/availability", config_topic}, timeout=5, what="retained")
    assert all(m.retain for m in retained)
    assert payloads(retained, f"plant/{DEMO_SOURCE}/state")[-1].json()["label"] == "square"
    assert payloads(retained, "plant/availability")[-1].text == "offline"
    assert not payloads(retained, f"plant/{DEMO_SOURCE}/events")
    discovery = payloads(retained, config_topic)[-1].json()
    assert discovery["state_topic"] == f"plant/{DEMO_SOURCE}/state"
    assert discovery["json_attributes_topic"] == f"plant/{DEMO_SOURCE}/state"
    assert discovery["value_template"] == "{{ value_json.label }}"
    assert discovery["availability_topic"] == "plant/availability"
    assert discovery["unique_id"] == f"streamcls_plant_{DEMO_SOURCE}"


# -- the broker goes away and comes back ----------------------------------------------------


def test_broker_killed_mid_run_every_event_delivered_after_it_returns(tmp_path, caplog):
    require_mosquitto()
    caplog.set_level(logging.WARNING, logger="streamcls.outputs.mqtt")
    # Persistence keeps the subscriber's session across the crash, so what the
    # sink sends right after its reconnection is queued for the subscriber too.
    server = Broker(tmp_path, persistent=True).start()
    try:
        subscriber = Subscriber(server.port, client_id="watcher", clean_session=False)
        time.sleep(1.2)  # past the broker's autosave: the session is on disk
        mqtt = sink(server.url("live"))
        seen = []
        source = FakeSource(150, live=True, fps=25)
        pipeline = Pipeline(fake_config(), classifier=FakeClassifier(), source=source, sinks=[mqtt],
                            on_event=seen.append)
        runner = threading.Thread(target=lambda: pipeline.__enter__().run())
        runner.start()
        try:
            subscriber.wait_for(lambda got: len(payloads(got, "live/fake/events")) >= 5, what="first events")
            server.kill()
            time.sleep(1.5)
            server.start()
            runner.join(30)
            assert not runner.is_alive()
        finally:
            pipeline.close()
            runner.join(10)
        ids = [event.event_id for event in seen]
        assert len(ids) >= 140
        messages = subscriber.wait_for(
            lambda got: {m.json()["event_id"] for m in payloads(got, "live/fake/events")} >= set(ids),
            timeout=20, what="every event")
        subscriber.close()
    finally:
        server.kill()
    received = [m.json()["event_id"] for m in payloads(messages, "live/fake/events")]
    assert set(received) == set(ids)
    # QoS 1 may repeat a message whose acknowledgement the crash lost; the order of first arrivals holds.
    assert list(dict.fromkeys(received)) == ids
    # Sent live by the sink (retain flag clear), not replayed from the broker's retained store.
    live = [m for m in messages if not m.retain]
    availability = [m.text for m in payloads(live, "live/availability")]
    assert availability.count("online") >= 2  # first connection, after the restart (QoS 1: repeats allowed)
    assert availability[-1] == "offline"
    after_restart = live[max(i for i, m in enumerate(live) if m.text == "online"):]
    assert payloads(after_restart, "live/fake/state")  # the state is republished
    assert any("connection lost" in record.getMessage() for record in caplog.records)
    counts = mqtt.counts
    assert counts["dropped"] == 0 and counts["waiting"] == 0
    assert counts["events_published"] == len(ids)


def test_a_restarted_broker_that_lost_its_retained_messages_gets_the_state_again(broker):
    mqtt = sink(broker.url("keep"))
    prediction = Prediction("fake", 7, None, (("circle", 0.9),), "circle", 0.9, "circle", 0.8, 1.0)
    with mqtt:
        mqtt.write(None, prediction)
        mqtt.write(None, replace(prediction, frame_index=8))  # the same label: no new state
        deadline = time.monotonic() + 5
        while mqtt.counts["published"] < 2 and time.monotonic() < deadline:  # online, the state
            time.sleep(0.05)
        broker.kill()
        broker.start()  # no persistence: the retained state is gone
        with Subscriber(broker.port, "keep/#") as late:
            retained = late.wait_for(lambda got: any(m.topic == "keep/fake/state" for m in got), timeout=15,
                                     what="the state, republished after the reconnection")
    state = payloads(retained, "keep/fake/state")[-1]
    assert state.json()["label"] == "circle" and state.json()["frame_index"] == 7
    assert mqtt.counts["queued"] == 1


def test_broker_away_the_whole_run_bounded_queue_counts_the_overflow(caplog):
    require_mosquitto()
    mqtt = sink(f"mqtt://127.0.0.1:{free_port()}/gone", queue_max=5, wait_for_broker=False, flush_timeout_s=0.5)
    seen = []
    with caplog.at_level(logging.WARNING, logger="streamcls.outputs.mqtt"):
        with Pipeline(fake_config(), classifier=FakeClassifier(), source=FakeSource(40), sinks=[mqtt],
                      on_event=seen.append) as pipeline:
            pipeline.run()
    assert len(seen) == 40
    counts = mqtt.counts
    assert counts["dropped"] == len(seen) - 5
    assert counts["published"] == 0
    assert counts["waiting"] == 5 + 1  # the 5 newest events and the latest state
    warning = [record.getMessage() for record in caplog.records if "dropped" in record.getMessage()]
    assert warning == [f"mqtt mqtt://127.0.0.1:{mqtt.options.port}/gone: 35 events dropped while the broker was "
                       f"away (queue_max 5), 6 messages unsent at close"]


# -- credentials -----------------------------------------------------------------------------


@pytest.fixture
def locked_broker(tmp_path):
    require_mosquitto()
    server = Broker(tmp_path, users={"cam": PASSWORD}).start()
    yield server
    server.kill()


def test_right_credentials_publish_from_the_url_and_from_an_environment_variable(locked_broker, monkeypatch):
    monkeypatch.setenv("MQTT_TEST_PASSWORD", PASSWORD)
    with Subscriber(locked_broker.port, user="cam", password=PASSWORD) as subscriber:
        for options in ({"url": locked_broker.url("a", "cam", PASSWORD)},
                        {"url": locked_broker.url("b"), "username": "cam", "password_env": "MQTT_TEST_PASSWORD"}):
            mqtt = MqttSink(MqttOptions.parse(options), ("fake",))
            with Pipeline(fake_config(), classifier=FakeClassifier(), source=FakeSource(5), sinks=[mqtt]) as pipeline:
                pipeline.run()
            assert mqtt.counts["events_published"] == 5
            assert PASSWORD not in repr(mqtt) + repr(mqtt.options)
        messages = subscriber.wait_for(lambda got: len(payloads(got, "a/fake/events")) == 5
                                       and len(payloads(got, "b/fake/events")) == 5)
    assert not any(PASSWORD.encode() in m.payload or PASSWORD in m.topic for m in messages)
    assert preflight(SinkSettings("mqtt", options={"url": locked_broker.url("x", "cam", PASSWORD)})) == []


def test_wrong_credentials_fail_at_open_with_one_line(locked_broker, caplog):
    url = locked_broker.url("x", "cam", "wrong-Pa55word")
    with pytest.raises(SinkError) as raised:
        sink(url).open()
    message = str(raised.value)
    assert message == (f"broker 127.0.0.1:{locked_broker.port} refused the connection: not authorized; "
                       f"check username/password")
    # Connecting in the background: the run goes on, the refusal is a warning.
    with caplog.at_level(logging.WARNING, logger="streamcls.outputs.mqtt"):
        with sink(url, wait_for_broker=False, flush_timeout_s=0.1):
            deadline = time.monotonic() + 5
            while message not in caplog.messages and time.monotonic() < deadline:
                time.sleep(0.05)
    assert message in caplog.messages
    assert not any("wrong-Pa55word" in line for line in caplog.messages)
    assert preflight(SinkSettings("mqtt", options={"url": url})) == [message]
    nobody = f"mqtt://127.0.0.1:{free_port()}/x"
    assert preflight(SinkSettings("mqtt", options={"url": nobody})) == [
        f"broker 127.0.0.1:{nobody.split(':')[2].split('/')[0]} refused the connection (nothing listens there); "
        f"start the broker or fix the port in url"]


def test_cli_wrong_credentials_and_unknown_scheme_exit_with_one_line(locked_broker, tmp_path):
    secret = "Wr0ng-s3cret"
    result = run_cli("run", "--source", "samples/demo-clip.mp4", "--model", "samples/demo-bundle", "--no-display",
                     "--mqtt", locked_broker.url("x", "cam", secret), timeout=120)
    assert result.returncode == 6, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "refused the connection: not authorized; check username/password" in lines[0]
    assert secret not in result.stdout + result.stderr

    result = run_cli("run", "--source", "samples/demo-clip.mp4", "--model", "samples/demo-bundle", "--no-display",
                     "--mqtt", f"http://cam:{secret}@127.0.0.1:1883/x", timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "expected a mqtt:// or mqtts:// URL" in lines[0]
    assert secret not in result.stdout + result.stderr


def test_tls_with_the_broker_ca_publishes_and_a_wrong_ca_fails_at_open(tmp_path):
    require_mosquitto()
    certificate, key = self_signed(tmp_path)
    stranger, _ = self_signed(tmp_path, "stranger")
    server = Broker(tmp_path, tls=(certificate, key)).start()
    try:
        with Subscriber(server.port, ca_file=certificate) as subscriber:
            mqtt = sink(server.url("secure"), tls={"ca_file": str(certificate)})
            with Pipeline(fake_config(), classifier=FakeClassifier(), source=FakeSource(3), sinks=[mqtt]) as pipeline:
                pipeline.run()
            subscriber.wait_for(lambda got: len(payloads(got, "secure/fake/events")) == 3)
        with pytest.raises(SinkError) as raised:
            sink(server.url("secure"), tls={"ca_file": str(stranger)}).open()
        assert preflight(SinkSettings("mqtt", options={"url": server.url("x"), "tls": {"ca_file": str(stranger)}})) \
            == [str(raised.value)]
    finally:
        server.kill()
    assert str(raised.value) == (f"broker 127.0.0.1:{server.port}: TLS handshake failed (CERTIFICATE_VERIFY_FAILED); "
                                 f"check tls.ca_file and the broker's certificate")


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_mqtt_flag_publishes_the_events(broker, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("postprocess: {smoothing: ema, ema_alpha: 0.5, hysteresis: {margin: 0.2, frames: 3}}\n"
                      "events: {min_duration_s: 0.4}\n")
    with Subscriber(broker.port, "plant/#") as subscriber:
        result = run_cli("run", "--source", "samples/demo-clip.mp4", "--model", "samples/demo-bundle", "--no-display",
                         "--mqtt", broker.url("plant"), "--config", config, env=offline_environment(), timeout=300)
        assert result.returncode == 0, result.stderr
        messages = subscriber.wait_for(lambda got: len(payloads(got, f"plant/{DEMO_SOURCE}/events")) == 6)
    assert [m.json()["label"] for m in payloads(messages, f"plant/{DEMO_SOURCE}/events")] == DEMO_LABELS


# -- options ---------------------------------------------------------------------------------

KEY = "output.sinks[].options"


@pytest.mark.parametrize("options, message", [
    ({}, f"{KEY}.url: received nothing; expected mqtt[s]://[user:pass@]host[:port]/prefix, "
         f"e.g. mqtt://127.0.0.1:1883/streamcls"),
    ({"url": "http://u:pw@host/x"}, f"{KEY}.url: received 'http://u:***@host/x'; expected a mqtt:// or mqtts:// "
                                    f"URL (mqtt[s]://[user:pass@]host[:port]/prefix)"),
    ({"url": "mqtt://host:99999/x"}, f"{KEY}.url: received 'mqtt://host:99999/x'; the port is not a number "
                                     f"from 1 to 65535"),
    ({"url": "mqtt:///x"}, f"{KEY}.url: received 'mqtt:///x'; expected a host, e.g. mqtt://127.0.0.1:1883/streamcls"),
    ({"url": "mqtt://host/a/#"}, f"{KEY}.url: received prefix 'a/#'; expected topic levels without +, # or ?, "
                                 f"e.g. /plant/line1"),
    ({"url": "mqtt://h", "qos": 3}, f"{KEY}.qos: received 3; expected one of 0, 1, 2"),
    ({"url": "mqtt://h", "qos": True}, f"{KEY}.qos: received True; expected one of 0, 1, 2"),
    ({"url": "mqtt://h", "keepalive_s": 1}, f"{KEY}.keepalive_s: received 1; expected a whole number from 5 to 3600"),
    ({"url": "mqtt://h", "queue_max": 0}, f"{KEY}.queue_max: received 0; expected a whole number from 1 to 1e+07"),
    ({"url": "mqtt://h", "discovery": "yes"}, f"{KEY}.discovery: received 'yes'; expected true or false"),
    ({"url": "mqtt://h", "discovery_prefix": "ha/+"}, f"{KEY}.discovery_prefix: received 'ha/+'; expected topic "
                                                      f"levels without +, # or spaces"),
    ({"url": "mqtt://h", "topic": "x"}, f"{KEY}.topic: unknown option for kind mqtt; expected one of client_id, "
                                        f"connect_timeout_s, discovery, discovery_prefix, flush_timeout_s, "
                                        f"keepalive_s, password, password_env, qos, queue_max, tls, url, username, "
                                        f"wait_for_broker"),
    ({"url": "mqtt://h", "password": "pw"}, f"{KEY}.password: given without a user name; add username (or "
                                            f"user:pass@ in the url)"),
    ({"url": "mqtt://u@h", "password": 12345}, f"{KEY}.password: received ***; expected a non-empty string"),
    ({"url": "mqtt://u@h", "password_env": "STREAMCLS_NO_SUCH_VARIABLE"},
     f"{KEY}.password_env: the environment variable STREAMCLS_NO_SUCH_VARIABLE is not set; export it with the "
     f"broker's password, or remove password_env"),
    ({"url": "mqtt://h", "tls": {"ca_file": "ca.pem"}}, f"{KEY}.tls: given with a mqtt:// URL; use mqtts:// for "
                                                        f"TLS (default port 8883)"),
    ({"url": "mqtts://h", "tls": {"ca": "ca.pem"}}, f"{KEY}.tls.ca: unknown; expected ca_file, cert_file, key_file "
                                                    f"or insecure"),
    ({"url": "mqtts://h", "tls": "ca.pem"}, f"{KEY}.tls: received 'ca.pem'; expected a mapping such as "
                                            f"{{ca_file: ca.pem}}"),
])
def test_bad_options_are_one_line_each(options, message):
    with pytest.raises(ConfigError) as raised:
        MqttOptions.parse(options)
    assert str(raised.value) == message


def test_options_defaults_and_url_parts():
    options = MqttOptions.parse({"url": "mqtts://cam:p@ss:w0rd@broker.lan/plant/line1/"})
    assert (options.host, options.port, options.prefix) == ("broker.lan", 8883, "plant/line1")
    assert (options.username, options.password) == ("cam", "p@ss:w0rd")
    assert options.tls is not None and options.tls.ca_file is None
    assert (options.qos, options.keepalive_s, options.queue_max, options.discovery) == (1, 30, 10000, False)
    assert options.client_id.startswith("streamcls-") and options.client_id.endswith(f"-{__import__('os').getpid()}")
    assert "p@ss" not in repr(options) and "p@ss" not in options.url
    plain = MqttOptions.parse({"url": "mqtt://127.0.0.1"})
    assert (plain.port, plain.prefix, plain.tls, plain.username) == (1883, "streamcls", None, None)


def test_missing_tls_file_fails_at_open_with_one_line(tmp_path):
    missing = str(tmp_path / "ca.pem")
    with pytest.raises(SinkError) as raised:
        sink("mqtts://127.0.0.1/x", tls={"ca_file": missing}).open()
    assert str(raised.value) == f"{KEY}.tls.ca_file: received {missing!r}, which is not a file; give the path of " \
                                f"the PEM file"
