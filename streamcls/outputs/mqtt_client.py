"""The paho side of the MQTT sink: a client set up from the options, the first connection, the stop.

The first connection is made while the caller waits, so that every way it can
fail (nothing listening, a host that does not resolve or answer, a TLS
handshake, refused credentials) becomes one line the user can act on; the sink
raises it at open and ``preflight`` returns it to ``doctor``.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import Any

from streamcls.errors import SinkError
from streamcls.outputs.mqtt_options import MqttOptions


def make_client(options: MqttOptions, availability_topic: str, will: bool = True) -> Any:
    """A paho client set up from ``options`` (not connected)."""
    from paho.mqtt.client import CallbackAPIVersion, Client

    client = Client(CallbackAPIVersion.VERSION2, client_id=options.client_id)
    client.connect_timeout = options.connect_timeout_s
    if options.username is not None:
        client.username_pw_set(options.username, options.password)
    if options.tls is not None:
        tls = options.tls
        try:
            client.tls_set(ca_certs=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file)
        except (ssl.SSLError, OSError) as error:
            raise SinkError(
                f"mqtt {options.url}: the TLS files cannot be loaded ({error}); check tls.ca_file, cert_file, key_file"
            ) from None
        client.tls_insecure_set(tls.insecure)
    if will:
        client.will_set(availability_topic, b"offline", qos=1, retain=True)
    return client


def _where(options: MqttOptions) -> str:
    return f"broker {options.host}:{options.port}"


def refused(options: MqttOptions, reason: str) -> str:
    fix = "check username/password" if "auth" in reason.lower() or "password" in reason.lower() else "check client_id"
    return f"{_where(options)} refused the connection: {reason.lower()}; {fix}"


def first_connection(client: Any, options: MqttOptions, timeout_s: float, answer: threading.Event) -> str | None:
    """Connect (TCP, TLS, MQTT CONNECT) and wait for the broker's answer; a problem line, or None.

    Paho's network thread is running when this returns None; its ``on_connect`` must set ``answer``.
    """
    where = _where(options)
    client.connect_timeout = timeout_s
    try:
        client.connect(options.host, options.port, options.keepalive_s)
    except ssl.SSLError as error:
        reason = error.reason or error
        return f"{where}: TLS handshake failed ({reason}); check tls.ca_file and the broker's certificate"
    except TimeoutError:
        return f"{where} did not answer within {timeout_s:g} s; check the host and port, and that the broker runs"
    except ConnectionRefusedError:
        return f"{where} refused the connection (nothing listens there); start the broker or fix the port in url"
    except socket.gaierror:
        return f"{where}: the host name does not resolve; check the host in url"
    except OSError as error:
        return f"{where} cannot be reached ({error.strerror or error}); check the host and the network"
    client.loop_start()
    if not answer.wait(timeout_s):
        return f"{where} did not answer the MQTT CONNECT within {timeout_s:g} s; is it an MQTT broker (TLS: mqtts://)?"
    return None


def stop(client: Any) -> None:
    """Disconnect and stop paho's network thread (harmless when never connected)."""
    try:
        client.disconnect()
    except (OSError, ValueError):
        pass
    client.loop_stop()
