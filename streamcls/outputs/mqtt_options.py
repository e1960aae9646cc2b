"""The MQTT sink's options (``output.sinks[].options``), each checked beside its field.

Every message is one line: the key (``output.sinks[].options.KEY``), what was
received, what was expected and how to fix it. The password never appears in
one: the URL is shown through :func:`streamcls.redact.mask_uri`, a password as
``***``.

Example::

    options = MqttOptions.parse({"url": "mqtts://cam:secret@broker.lan/plant", "qos": 1})
    options.host, options.port, options.prefix, options.tls is not None
    # ('broker.lan', 8883, 'plant', True)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from streamcls.errors import ConfigError, SinkError
from streamcls.outputs.open import file_safe
from streamcls.redact import MASK, mask_uri

KEY = "output.sinks[].options"
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


def topic_safe(text: str) -> str:
    """``rtsp://cam:***@10.0.0.5/s1`` -> ``rtsp_cam_10.0.0.5_s1``: one topic level (no ``/``, ``+``, ``#``), no secret.

    The rule of file names (``outputs.open.file_safe``), so a source's files and topics carry one name.
    """
    return file_safe(text)


@dataclass(frozen=True)
class TlsOptions:
    """``tls: {ca_file, cert_file, key_file, insecure}``; the files are checked at open (:meth:`check_files`)."""

    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool = False  # no check of the broker's host name (a test broker's certificate)

    def check_files(self) -> None:
        """Raises: SinkError, one line per missing file (the first found)."""
        for name in ("ca_file", "cert_file", "key_file"):
            value = getattr(self, name)
            if value is not None and not Path(value).is_file():
                raise SinkError(
                    f"{KEY}.tls.{name}: received {value!r}, which is not a file; give the path of the PEM file"
                )
        if self.key_file and not self.cert_file:
            raise SinkError(f"{KEY}.tls.key_file: given without tls.cert_file; give both (the client certificate)")


@dataclass(frozen=True)
class MqttOptions:
    """Everything the MQTT sink is told, validated. See :meth:`parse` for the keys."""

    host: str
    port: int = 1883
    prefix: str = "streamcls"
    client_id: str = ""
    qos: int = 1
    keepalive_s: int = 30
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: TlsOptions | None = None
    queue_max: int = 10000
    discovery: bool = False
    discovery_prefix: str = "homeassistant"
    wait_for_broker: bool = True
    connect_timeout_s: float = 3.0
    flush_timeout_s: float = 5.0
    url: str = ""  # masked: safe to print

    def __repr__(self) -> str:  # the password stays out, even of a debugger's view
        return f"MqttOptions(url={self.url!r}, client_id={self.client_id!r}, qos={self.qos})"

    @classmethod
    def parse(cls, options: Mapping[str, object]) -> MqttOptions:
        """Validate ``options``.

        Keys: ``url`` (``mqtt[s]://[user:pass@]host[:port]/prefix``; required),
        ``client_id``, ``qos`` (0, 1, 2), ``keepalive_s``, ``username``,
        ``password``, ``password_env`` (the name of an environment variable
        holding the password), ``tls`` (``{ca_file, cert_file, key_file,
        insecure}``; ``mqtts://`` alone means TLS with the system's CAs),
        ``queue_max``, ``discovery``, ``discovery_prefix``, ``wait_for_broker``
        (the first connection must succeed at open; false: connect in the
        background, queueing meanwhile), ``connect_timeout_s``, ``flush_timeout_s``.

        Raises:
            ConfigError: one line naming the key, what was received and what was expected.
        """
        unknown = sorted(set(options) - _KNOWN)
        if unknown:
            raise ConfigError(
                f"{KEY}.{unknown[0]}: unknown option for kind mqtt; expected one of {', '.join(sorted(_KNOWN))}"
            )
        url = options.get("url")
        if not isinstance(url, str) or not url.strip():
            raise ConfigError(
                f"{KEY}.url: received {_shown(url)}; expected mqtt[s]://[user:pass@]host[:port]/prefix, "
                f"e.g. mqtt://127.0.0.1:1883/streamcls"
            )
        host, port, prefix, url_user, url_password, secure = _parse_url(url.strip())
        username = _text(options, "username", url_user)
        password = _text(options, "password", url_password, secret=True)
        password_env = _text(options, "password_env", None)
        if password_env is not None:
            if password_env not in os.environ:
                raise ConfigError(
                    f"{KEY}.password_env: the environment variable {password_env} is not set; "
                    f"export it with the broker's password, or remove password_env"
                )
            password = os.environ[password_env]
        if password is not None and username is None:
            raise ConfigError(f"{KEY}.password: given without a user name; add username (or user:pass@ in the url)")
        tls = _tls(options.get("tls"), secure)
        return cls(
            host=host,
            port=port,
            prefix=prefix,
            client_id=_client_id(options.get("client_id")),
            qos=_choice(options, "qos", 1, (0, 1, 2)),
            keepalive_s=int(_number(options, "keepalive_s", 30, 5, 3600, whole=True)),
            username=username,
            password=password,
            tls=tls,
            queue_max=int(_number(options, "queue_max", 10000, 1, 10**7, whole=True)),
            discovery=_flag(options, "discovery", False),
            discovery_prefix=_topic(options, "discovery_prefix", "homeassistant"),
            wait_for_broker=_flag(options, "wait_for_broker", True),
            connect_timeout_s=_number(options, "connect_timeout_s", 3.0, 0.1, 60),
            flush_timeout_s=_number(options, "flush_timeout_s", 5.0, 0.0, 300),
            url=mask_uri(url.strip()),
        )


_KNOWN = frozenset(
    (
        "url client_id qos keepalive_s username password password_env tls queue_max discovery "
        "discovery_prefix wait_for_broker connect_timeout_s flush_timeout_s"
    ).split()
)


def _shown(value: object) -> str:
    return "nothing" if value is None else repr(value)


def _parse_url(url: str) -> tuple[str, int, str, str | None, str | None, bool]:
    masked = mask_uri(url)
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in DEFAULT_PORTS:
        raise ConfigError(
            f"{KEY}.url: received {masked!r}; expected a mqtt:// or mqtts:// URL "
            f"(mqtt[s]://[user:pass@]host[:port]/prefix)"
        )
    # The user part ends at the last "@" of the authority, so a raw "@" or ":" may be in a password.
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    try:
        parts = urlsplit(f"//{hostport}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
        if hostport.rpartition(":")[2]:
            raise ConfigError(f"{KEY}.url: received {masked!r}; the port is not a number from 1 to 65535") from None
    if not host:
        raise ConfigError(f"{KEY}.url: received {masked!r}; expected a host, e.g. mqtt://127.0.0.1:1883/streamcls")
    user = password = None
    if at:
        name, colon, secret = userinfo.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    prefix = path.strip("/") or "streamcls"
    if any(character in prefix for character in "+#") or "//" in prefix or "?" in slash + path:
        raise ConfigError(
            f"{KEY}.url: received prefix {prefix!r}; expected topic levels without +, # or ?, e.g. /plant/line1"
        )
    return host, port or DEFAULT_PORTS[scheme.lower()], prefix, user, password, scheme.lower() == "mqtts"


def _text(
    options: Mapping[str, object], key: str, default: str | None, secret: bool = False, within: str = ""
) -> str | None:
    value = options.get(key, default)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        shown = MASK if secret else repr(value)
        raise ConfigError(f"{KEY}.{within}{key}: received {shown}; expected a non-empty string")
    return value


def _topic(options: Mapping[str, object], key: str, default: str) -> str:
    value = options.get(key, default)
    if not isinstance(value, str) or not value.strip("/") or any(character in value for character in "+# "):
        raise ConfigError(f"{KEY}.{key}: received {value!r}; expected topic levels without +, # or spaces")
    return value.strip("/")


def _client_id(value: object) -> str:
    if value is None:
        return f"streamcls-{topic_safe(socket.gethostname())}-{os.getpid()}"
    if not isinstance(value, str) or not value or len(value.encode()) > 65535:
        raise ConfigError(f"{KEY}.client_id: received {value!r}; expected a non-empty string")
    return value


def _choice(options: Mapping[str, object], key: str, default: int, choices: tuple[int, ...]) -> int:
    value = options.get(key, default)
    if isinstance(value, bool) or value not in choices:
        raise ConfigError(f"{KEY}.{key}: received {value!r}; expected one of {', '.join(map(str, choices))}")
    return int(value)


def _number(
    options: Mapping[str, object], key: str, default: float, low: float, high: float, whole: bool = False
) -> float:
    value = options.get(key, default)
    kind = int if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not low <= value <= high:
        expected = "a whole number" if whole else "a number"
        raise ConfigError(f"{KEY}.{key}: received {value!r}; expected {expected} from {low:g} to {high:g}")
    return float(value)


def _flag(options: Mapping[str, object], key: str, default: bool) -> bool:
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{KEY}.{key}: received {value!r}; expected true or false")
    return value


def _tls(value: object, secure: bool) -> TlsOptions | None:
    if value is None:
        return TlsOptions() if secure else None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{KEY}.tls: received {value!r}; expected a mapping such as {{ca_file: ca.pem}}")
    unknown = sorted(set(value) - {"ca_file", "cert_file", "key_file", "insecure"})
    if unknown:
        raise ConfigError(f"{KEY}.tls.{unknown[0]}: unknown; expected ca_file, cert_file, key_file or insecure")
    files = {name: _text(value, name, None, within="tls.") for name in ("ca_file", "cert_file", "key_file")}
    if not secure:
        raise ConfigError(f"{KEY}.tls: given with a mqtt:// URL; use mqtts:// for TLS (default port 8883)")
    return TlsOptions(**files, insecure=_flag(value, "insecure", False))
