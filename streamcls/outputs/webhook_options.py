"""The webhook sink's options: the URL, the secret, the outbox and the retry bounds, each checked."""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamcls.errors import ConfigError
from streamcls.redact import mask_uri

logger = logging.getLogger(__name__)

SECRET_VARIABLE = "STREAMCLS_WEBHOOK_SECRET"
_KEY = "output.sinks[].options"
_RESERVED_HEADERS = ("content-type", "x-streamcls-timestamp", "x-streamcls-event-id", "x-streamcls-signature")


def default_outbox() -> Path:
    """``$STREAMCLS_CACHE/outbox.sqlite``, or ``~/.cache/streamcls/outbox.sqlite``."""
    root = os.environ.get("STREAMCLS_CACHE") or Path.home() / ".cache" / "streamcls"
    return Path(root) / "outbox.sqlite"


def _number(options: Mapping[str, Any], key: str, default: float, low: float, high: float, fix: str) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ConfigError(f"{_KEY}.{key}: received {value!r}; expected a number from {low:g} to {high:g}; {fix}")
    return float(value)


@dataclass(frozen=True)
class WebhookOptions:
    """A webhook's options, validated (see the module's docstring). ``repr`` shows no secret."""

    url: str = field(repr=False)
    secret: bytes | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    outbox: Path = field(default_factory=default_outbox)
    timeout_s: float = 5.0
    max_attempts: int | None = None
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
    max_messages: int = 100_000
    max_age_s: float = 7 * 86_400.0
    snapshot: bool = False
    drain_s: float = 3.0

    @property
    def destination(self) -> str:
        """The URL with its credentials masked: what logs, reports and the outbox name it by."""
        return mask_uri(self.url)

    @classmethod
    def parse(cls, options: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> WebhookOptions:
        """Check ``options`` (a sink entry's), each beside its rule.

        Raises:
            ConfigError: one line naming ``output.sinks[].options.KEY``, what was received,
                what was expected and the fix; never the secret.
        """
        environ = os.environ if environ is None else environ
        known = {name for name in cls.__dataclass_fields__} | {"secret_env"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ConfigError(
                f"{_KEY}: received unknown key {unknown[0]!r} for kind webhook; "
                f"expected any of {', '.join(sorted(known))}"
            )
        url = options.get("url")
        url = check_url(url)
        secret = _secret(options, environ)
        headers = options.get("headers") or {}
        if not isinstance(headers, Mapping) or not all(
            isinstance(name, str) and isinstance(value, (str, int, float)) for name, value in headers.items()
        ):
            raise ConfigError(
                f"{_KEY}.headers: received a {type(headers).__name__}; expected a mapping of header names to "
                f"values, e.g. {{X-Api-Key: ...}}"
            )
        clash = [name for name in headers if name.lower() in _RESERVED_HEADERS]
        if clash:
            raise ConfigError(
                f"{_KEY}.headers: received {clash[0]!r}; expected none of streamcls's own headers; remove it"
            )
        attempts = options.get("max_attempts")
        if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1):
            raise ConfigError(
                f"{_KEY}.max_attempts: received {attempts!r}; expected a whole number of at least 1, or leave it "
                f"out to retry until max_age_s"
            )
        messages = options.get("max_messages", 100_000)
        if isinstance(messages, bool) or not isinstance(messages, int) or messages < 1:
            raise ConfigError(f"{_KEY}.max_messages: received {messages!r}; expected a whole number of at least 1")
        outbox = options.get("outbox")
        if outbox is not None and (not isinstance(outbox, (str, Path)) or not str(outbox).strip()):
            raise ConfigError(f"{_KEY}.outbox: received {outbox!r}; expected the path of an SQLite file")
        initial = _number(options, "backoff_initial_s", 0.5, 0.001, 3600, "e.g. 0.5")
        return cls(
            url=url,
            secret=secret,
            headers={name: str(value) for name, value in headers.items()},
            outbox=Path(outbox).expanduser() if outbox else default_outbox(),
            timeout_s=_number(options, "timeout_s", 5.0, 0.01, 600, "e.g. 5"),
            max_attempts=attempts,
            backoff_initial_s=initial,
            backoff_max_s=_number(options, "backoff_max_s", 60.0, initial, 86_400, "at least backoff_initial_s"),
            max_messages=messages,
            max_age_s=_number(options, "max_age_s", 7 * 86_400.0, 1, 365 * 86_400, "e.g. 604800 (7 days)"),
            snapshot=bool(options.get("snapshot", False)),
            drain_s=_number(options, "drain_s", 3.0, 0, 600, "e.g. 3"),
        )


def check_url(url: object) -> str:
    """``url`` stripped, when it is an http:// or https:// URL with a host.

    Raises:
        ConfigError: one line, the URL masked.
    """
    shown = repr(mask_uri(url)) if isinstance(url, str) else repr(url)
    fix = "e.g. --webhook https://host/path"
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{_KEY}.url: received {shown}; expected an http:// or https:// URL; {fix}")
    try:
        parts = urllib.parse.urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ConfigError(
            f"{_KEY}.url: received {shown}, which is not a URL; expected http(s)://host[:port]/path; {fix}"
        ) from None
    if parts.scheme.lower() not in ("http", "https"):
        received = f"scheme {parts.scheme + '://'!r}" if parts.scheme else f"{shown}, which has no scheme"
        raise ConfigError(f"{_KEY}.url: received {received}; expected an http:// or https:// URL; {fix}")
    if not parts.hostname:
        raise ConfigError(f"{_KEY}.url: received {shown}, which names no host; expected http(s)://host/path; {fix}")
    return url.strip()


def _secret(options: Mapping[str, Any], environ: Mapping[str, str]) -> bytes | None:
    secret, variable = options.get("secret"), options.get("secret_env")
    if secret is not None and variable is not None:
        raise ConfigError(f"{_KEY}: received both secret and secret_env; expected one of them; remove the other")
    if secret is not None:
        if not isinstance(secret, str) or not secret:
            raise ConfigError(f"{_KEY}.secret: received an empty or non-text value; expected the shared secret")
        return secret.encode()
    if variable is not None:
        if not isinstance(variable, str) or not environ.get(variable):
            raise ConfigError(
                f"{_KEY}.secret_env: received {variable!r}, an environment variable that is not set or empty; "
                f"expected the name of one holding the secret; set it (export {variable}=...)"
            )
        return environ[variable].encode()
    value = environ.get(SECRET_VARIABLE)
    return value.encode() if value else None


# -- the request and its answer --------------------------------------------------------------
