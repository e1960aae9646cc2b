"""The service's settings (``streamcls serve``): where it listens, who may use it, what may be added."""

from __future__ import annotations

from dataclasses import dataclass

from streamcls.config.fields import bounded, key_path
from streamcls.errors import ConfigError

SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")


@dataclass(frozen=True)
class ServiceConfig:
    """``service:`` in the config; the ``serve`` flags override ``host``, ``port`` and the token files.

    ``host``: 127.0.0.1 by default; any other address needs ``token_file`` (or
    ``STREAMCLS_TOKEN``), or ``--insecure-no-auth``. ``metrics_token_file``: a
    second token that opens ``/metrics`` only (for a scraper). Sources added over
    the API (``POST /sources``): ``allowed_schemes`` of URL; ``file`` paths only
    under ``allowed_folders``; cameras (``0``, ``/dev/video0``) only with
    ``allow_devices``. ``stream_fps`` and ``stream_width`` cap what each viewer of
    a live view is sent; ``history`` is how many events and label runs each
    source keeps for the page and the API.
    """

    host: str = "127.0.0.1"
    port: int = bounded(8080, 0, 65_535)  # 0: any free port (printed at start)
    token_file: str | None = None
    metrics_token_file: str | None = None
    allowed_schemes: tuple[str, ...] = ("rtsp", "rtsps", "http", "https")
    allowed_folders: tuple[str, ...] = ()
    allow_devices: bool = False
    max_sources: int = bounded(64, 1, 4096)
    max_body_bytes: int = bounded(65_536, 1024, 16_777_216)
    stream_fps: float = bounded(5.0, 0.1, 60.0)
    stream_width: int = bounded(640, 16, 4096)
    history: int = bounded(100, 1, 100_000)

    def check(self, path: str) -> None:
        unknown = sorted(set(self.allowed_schemes) - set(SCHEMES))
        if unknown:
            raise ConfigError(
                f"{key_path(path, 'allowed_schemes')}: {', '.join(unknown)} unknown; expected some of "
                f"{', '.join(SCHEMES)} (files and cameras have their own keys: allowed_folders, allow_devices)"
            )
        if not self.host.strip():
            raise ConfigError(f"{key_path(path, 'host')}: is empty; give an address such as 127.0.0.1")
