"""What a remote caller may add (``POST /sources``): checked like a config entry, then against the service's rules.

The body is one entry of ``sources:`` as JSON, read by the same code as the
config file (every key and type checked, one-line reasons). Then the rules of
``service:``: a URL's scheme must be allowed; a file or folder must lie under
an allowed folder once every link and ``..`` is resolved; a camera needs
``allow_devices``. Outputs are the service's (the run's ``output:`` with
``{source}`` in a path gives each added source its own files): a caller may
not name files to write or code to load, so ``output`` is refused.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

from streamcls.config import ServiceConfig, SourceConfig
from streamcls.config.coerce import from_mapping
from streamcls.errors import ConfigError
from streamcls.sources import describe_source

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")
REFUSED_KEYS = ("output",)


class Refused(ConfigError):
    """A request the service will not carry out; ``status`` is its HTTP status."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def admit_source(body: object, rules: ServiceConfig) -> SourceConfig:
    """The source config a ``POST /sources`` body asks for, if the service allows it.

    Raises:
        Refused: a body that is not a valid entry, or asks for what is not allowed (400 or 403).
    """
    if isinstance(body, dict):
        for key in REFUSED_KEYS:
            if key in body:
                raise Refused(
                    f"sources[+].{key}: not accepted over the API; an added source writes the outputs the "
                    f"service's config names (use {{source}} in an output path for one file per source)",
                    403,
                )
    try:
        source = from_mapping(SourceConfig, body, "sources[+]")
    except ConfigError as error:
        raise Refused(str(error)) from error
    if isinstance(body, dict) and "uri" not in body:  # not the config's default, camera 0
        raise Refused("sources[+].uri: missing; expected a URL, a file or folder path, or a camera index")
    if source.id is not None and not ID_PATTERN.fullmatch(source.id):
        raise Refused(
            f"sources[+].id: received {source.id[:80]!r}; expected 1-64 of letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit"
        )
    _check_uri(source.uri, rules)
    return source


def _check_uri(uri: str, rules: ServiceConfig) -> None:
    spec = describe_source(uri)
    text = spec.uri
    if "\x00" in text or any(ord(character) < 32 for character in text):
        raise Refused("sources[+].uri: holds control characters; expected a URL, a camera index or a path")
    # Any 'scheme://' but a file's is a URL (FFmpeg opens gopher://, ftp://, ...), not a relative path.
    url = URL_SCHEME.match(text)
    if spec.kind == "stream" or (url is not None and url.group(1).lower() != "file"):
        scheme = text.split("://", 1)[0].lower()
        if scheme not in rules.allowed_schemes:
            raise Refused(
                f"sources[+].uri: scheme {scheme!r} is not allowed here; expected one of "
                f"{', '.join(rules.allowed_schemes) or '(none)'} (service.allowed_schemes)",
                403,
            )
        return
    if spec.kind == "camera" or text.startswith("/dev/"):
        if not rules.allow_devices:
            raise Refused(
                f"sources[+].uri: {text!r} is a camera on the service's machine; cameras may be added over the "
                f"API only with service.allow_devices: true",
                403,
            )
        return
    _check_path(text, rules)


def _check_path(text: str, rules: ServiceConfig) -> None:
    if text.lower().startswith("file:"):
        raise Refused(f"sources[+].uri: received {text[:80]!r}; give a file's path without 'file:'")
    if not rules.allowed_folders:
        raise Refused(
            "sources[+].uri: files and folders may not be added over the API here; list the folders "
            "they may come from in service.allowed_folders",
            403,
        )
    # A glob's fixed part names the folder it reads; every link and '..' resolved.
    fixed = text[: min((text.find(mark) for mark in "*?[" if mark in text), default=len(text))]
    resolved = Path(os.path.realpath(fixed if glob.has_magic(text) else text))
    allowed = [Path(os.path.realpath(folder)) for folder in rules.allowed_folders]
    if not any(resolved == folder or folder in resolved.parents for folder in allowed):
        raise Refused(
            f"sources[+].uri: {text[:120]!r} is outside the folders sources may come from "
            f"({', '.join(rules.allowed_folders)}: service.allowed_folders)",
            403,
        )
    if not glob.has_magic(text) and not resolved.exists():
        raise Refused(f"sources[+].uri: {text[:120]!r} does not exist; give an existing file or folder", 404)
