"""Keep credentials out of everything streamcls writes.

Camera and stream URLs carry passwords (``rtsp://admin:PASSWORD@camera/stream``) and
tokens (``https://host/live.m3u8?token=...``). Four pieces keep them out of the
console, logs, files and error messages:

* :func:`mask_uri` masks one URI whose boundaries are known; a source's id (what the
  predictions, segments, summary and window title show) is the masked URI;
* :func:`redact` finds every URL in free text (an error message, a log line, an
  OpenCV or FFmpeg message) and masks each, plus ``Authorization:`` header values;
* :class:`RedactFilter` runs :func:`redact` on every record a logging handler emits;
* :func:`limit_native_logging` turns off the OpenCV/FFmpeg debug switches under which
  native code prints URLs with their passwords (it writes to the process's stderr
  directly, where no Python code sees it).

What is masked: the password of ``scheme://user:password@host`` (the user name stays:
it tells which account was used), the whole user part when it has no password (it is
then a token: ``https://TOKEN@host``), and the values of query or path parameters
whose name says secret (``?token=***&user=bob``).

Passwords are written raw, so ``@``, ``:``, ``/``, ``?`` and ``#`` may all be in them.
The user part ends at the last ``@`` before the first ``/``, ``?`` or ``#`` that
follows the first ``@``: FFmpeg's rule (last ``@`` of the authority) extended so that
a raw ``/`` in a password is hidden too. When in doubt more is hidden, never less: an
``@`` in a path or query (``rtsp://cam/a?mail=x@y.org``) hides the text before it.
In free text a URL ends at whitespace or where another URL starts, so a password with
a raw space is only masked whole by :func:`mask_uri`.

Example::

    >>> mask_uri("rtsp://admin:p@ss:w0rd@10.0.0.7:554/live?token=abc&channel=1")
    'rtsp://admin:***@10.0.0.7:554/live?token=***&channel=1'
"""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import Any

MASK = "***"

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
_URI = re.compile(rf"\s*(?:{_SCHEME})")
# A URL in free text: its scheme, then everything up to whitespace or the next URL.
_URL_IN_TEXT = re.compile(rf"({_SCHEME})((?:(?!{_SCHEME})\S)*)")
_AUTHORITY_END = re.compile(r"[/?#]")
_SECRET_NAME = r"[^=&;#/?\s]*?(?:pass|pwd|token|key|auth|sig|secret|credential|session)[^=&;#/?\s]*"
# The value runs to the next parameter; in free text also to a quote (a repr's end).
_SECRET_PARAMETER = re.compile(rf"([?&;]{_SECRET_NAME}=)[^&#]+", re.IGNORECASE)
_SECRET_PARAMETER_IN_TEXT = re.compile(rf"([?&;]{_SECRET_NAME}=)[^&#'\"]+", re.IGNORECASE)
# FFmpeg's trace log prints request headers; Basic is base64(user:password).
_AUTHORIZATION = re.compile(r"((?:proxy-)?authorization:[ \t]*)[^\r\n]+", re.IGNORECASE)

# AV_LOG_WARNING. From AV_LOG_INFO up FFmpeg prints URLs as given ("Opening
# 'http://user:password@...' for reading"), and request headers at debug and trace.
FFMPEG_MAX_LOG_LEVEL = 24
_OPENCV_FILENAME_SWITCHES = ("OPENCV_VIDEOIO_DEBUG", "OPENCV_VIDEOCAPTURE_DEBUG")
_FALSE = ("", "0", "false", "off", "no")


def mask_uri(uri: str) -> str:
    """``uri`` with its password, user token and secret parameters replaced by ``***``.

    The whole string is one URI, so a password may hold any character, spaces too.
    Text that is not a ``scheme://`` URI (a file path, a camera index) comes back as
    :func:`redact` leaves it.
    """
    match = _URI.match(uri)
    if match is None:
        return redact(uri)
    return uri[: match.end()] + _mask_after_scheme(uri[match.end() :], _SECRET_PARAMETER)


def redact(text: str) -> str:
    """``text`` with every URL in it masked (see :func:`mask_uri`) and the values of
    ``Authorization:`` headers replaced by ``***``. Pure; text without ``://`` or a
    header is returned as is, at the cost of two substring checks."""
    if "://" in text:
        text = _URL_IN_TEXT.sub(
            lambda match: match.group(1) + _mask_after_scheme(match.group(2), _SECRET_PARAMETER_IN_TEXT), text
        )
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTHORIZATION.sub(rf"\g<1>{MASK}", text)
    return text


def redact_data(value: Any) -> Any:
    """A copy of JSON-like ``value`` (dicts, lists, tuples) with :func:`redact` applied to
    every string in it, keys included; other values unchanged."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_data(key): redact_data(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_data(item) for item in value)
    return value


def _mask_after_scheme(rest: str, secret_parameter: re.Pattern[str]) -> str:
    first_at = rest.find("@")
    head = ""
    if first_at >= 0:
        end = _AUTHORITY_END.search(rest, first_at)
        at = rest.rfind("@", 0, end.start() if end else len(rest))
        head = _mask_userinfo(rest[:at]) + "@"
        rest = rest[at + 1 :]
    return head + secret_parameter.sub(rf"\g<1>{MASK}", rest)


def _mask_userinfo(userinfo: str) -> str:
    user, colon, password = userinfo.partition(":")
    if not userinfo or (colon and not password):
        return userinfo  # nothing secret: "rtsp://@host", "rtsp://user:@host"
    if colon and user and not any(character in user for character in "/?#"):
        return f"{user}:{MASK}"
    # A user part without a password is a token; one with "/?#" before its ':' may be a
    # path taken for a user name (see the module docstring): hide all of it.
    return MASK


class RedactFilter(logging.Filter):
    """Applies :func:`redact` to a record's message, traceback and stack.

    Install it on *handlers*, not loggers: a logger's filters see only the records
    logged on that very logger, while a handler's see every record it writes,
    whichever logger (``streamcls.sources.capture``, ``tensorflow``) made it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed call: the handler reports it, as logging always does
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatted here (as Formatter.format would) so the traceback is redacted too.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add a :class:`RedactFilter` to every handler of ``logger`` (default: the root)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(existing, RedactFilter) for existing in handler.filters):
            handler.addFilter(RedactFilter())


def limit_native_logging(environ: MutableMapping[str, str]) -> list[str]:
    """Turn off the debug switches under which OpenCV or FFmpeg print stream URLs whole.

    ``OPENCV_VIDEOIO_DEBUG``/``OPENCV_VIDEOCAPTURE_DEBUG`` make OpenCV print "trying
    capture filename='rtsp://user:password@...'"; ``OPENCV_FFMPEG_LOGLEVEL`` above
    warnings (or ``OPENCV_FFMPEG_DEBUG`` alone, which means verbose) makes FFmpeg print
    "Opening 'http://user:password@...'" and ``Authorization: Basic`` headers. Both
    write to the native stderr, past any Python logging, so they are capped before
    OpenCV reads them: call this before the first ``import cv2``.

    Returns:
        One line per switch changed, saying what was received and what it became.
    """
    changed = []
    for name in _OPENCV_FILENAME_SWITCHES:
        if environ.get(name, "").strip().lower() not in _FALSE:
            changed.append(f"{name}={environ[name]} set to 0: it prints stream URLs with their passwords")
            environ[name] = "0"
    level = environ.get("OPENCV_FFMPEG_LOGLEVEL", "").strip()
    debug = environ.get("OPENCV_FFMPEG_DEBUG", "").strip().lower() not in _FALSE
    try:
        too_verbose = int(level) > FFMPEG_MAX_LOG_LEVEL if level else debug
    except ValueError:
        too_verbose = True
    if too_verbose:
        received = f"OPENCV_FFMPEG_LOGLEVEL={level}" if level else "OPENCV_FFMPEG_DEBUG"
        changed.append(
            f"{received} capped at FFmpeg level {FFMPEG_MAX_LOG_LEVEL} (warnings): "
            f"above it FFmpeg prints stream URLs and Authorization headers"
        )
        environ["OPENCV_FFMPEG_LOGLEVEL"] = str(FFMPEG_MAX_LOG_LEVEL)
    return changed


__all__ = ["MASK", "RedactFilter", "install_log_redaction", "limit_native_logging", "mask_uri", "redact", "redact_data"]
