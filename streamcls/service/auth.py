"""Who may use the service: a bearer token (and an optional one for ``/metrics`` alone).

Tokens are compared with ``hmac.compare_digest`` over their SHA-256 digests, so
neither a wrong token's length nor its first differing byte changes the time
a refusal takes. The page's live views are ``<img>`` elements, which cannot
send a header: a ``GET`` may carry the token in the ``streamcls_token`` cookie
instead (the page sets it, ``SameSite=Strict``); anything that changes
something needs the header, so another site cannot make a browser do it.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from streamcls.errors import ConfigError

TOKEN_VARIABLE = "STREAMCLS_TOKEN"
METRICS_TOKEN_VARIABLE = "STREAMCLS_METRICS_TOKEN"
COOKIE = "streamcls_token"
MIN_TOKEN_LENGTH = 16


@dataclass(frozen=True)
class Tokens:
    """The digests of the tokens in force; an empty ``api`` means no token (loopback, or told so)."""

    api: bytes = b""
    metrics: bytes = b""

    @property
    def required(self) -> bool:
        return bool(self.api)

    def allows(self, presented: str | None, metrics: bool = False) -> bool:
        """Whether ``presented`` opens the API (``metrics``: or ``/metrics``, with either token)."""
        if not self.api:
            return not (metrics and self.metrics) or _matches(presented, self.metrics)
        opens_api = _matches(presented, self.api)
        opens_metrics = metrics and bool(self.metrics) and _matches(presented, self.metrics)
        return opens_api or opens_metrics


def _matches(presented: str | None, digest: bytes) -> bool:
    return hmac.compare_digest(_digest(presented or ""), digest) and presented is not None


def load_tokens(token_file: str | None, metrics_token_file: str | None, host: str, insecure_no_auth: bool) -> Tokens:
    """The tokens from their files, else ``STREAMCLS_TOKEN`` / ``STREAMCLS_METRICS_TOKEN``.

    Raises:
        ConfigError: a host other than loopback with no token and no ``--insecure-no-auth``;
            a token file that cannot be read, is empty or is shorter than 16 characters.
    """
    api = _read(token_file, "--token-file") if token_file else os.environ.get(TOKEN_VARIABLE, "").strip()
    metrics = (
        _read(metrics_token_file, "--metrics-token-file")
        if metrics_token_file
        else os.environ.get(METRICS_TOKEN_VARIABLE, "").strip()
    )
    for value, name in ((api, "the API token"), (metrics, "the metrics token")):
        if value and len(value) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"{name} has {len(value)} characters; expected at least {MIN_TOKEN_LENGTH} "
                f"(make one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
            )
    if not api and not is_loopback(host) and not insecure_no_auth:
        raise ConfigError(
            f"--host {host} reaches beyond this machine but no API token is set; give --token-file FILE "
            f"(or {TOKEN_VARIABLE}), or --insecure-no-auth to let anyone who can reach it in"
        )
    return Tokens(_digest(api) if api else b"", _digest(metrics) if metrics else b"")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def _read(path: str, flag: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"{flag} {path!r} cannot be read ({error.strerror}); give a readable file") from error
    if not token:
        raise ConfigError(f"{flag} {path!r} is empty; put the token in it on one line")
    return token
