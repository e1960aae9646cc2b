"""``streamcls doctor``: what this machine has, and whether a run's config will find what it needs.

``collect(config, source)`` gathers the facts (:mod:`.facts`: Python, TensorFlow, Keras,
devices, LiteRT, OpenCV's video backends and GUI, the display, the Keras weight cache,
cameras) and checks each thing the config needs (:mod:`.checks`, which asks the module
that owns each rule), returning a :class:`Report`; :mod:`.report` renders it
(``format_report``, ``report_as_dict``); ``doctor_command`` is what the CLI calls.
Nothing here downloads or contacts more than the configured stream's own host, and
every probe that can hang (a camera driver, a DNS lookup) runs in a daemon thread with
a time limit.

Without a config only TensorFlow and OpenCV are required; the rest is reported as
information. URIs are always printed through :func:`streamcls.redact.mask_uri`.
"""

from __future__ import annotations

# Only light imports here and in the modules below: the CLI imports this package to build
# its parser, and `streamcls --help` must stay instant.
import argparse
import json
from dataclasses import replace
from typing import TYPE_CHECKING

from streamcls.doctor.checks import (
    STREAM_PORTS,
    backend_check,
    device_check,
    display_check,
    environment_checks,
    imagenet_candidates,
    model_check,
    output_checks,
    service_check,
    source_check,
)
from streamcls.doctor.facts import (
    CAMERA_INDICES,
    LINUX_DEVICES,
    PROBE_TIMEOUT_S,
    CameraProbe,
    Environment,
    Runtime,
    Video,
    collect_environment,
    probe_cameras,
    run_bounded,
)
from streamcls.doctor.report import Check, Report, Status, format_report, report_as_dict, verdict

if TYPE_CHECKING:
    from streamcls.config import Config

__all__ = [
    "CAMERA_INDICES",
    "LINUX_DEVICES",
    "PROBE_TIMEOUT_S",
    "STREAM_PORTS",
    "CameraProbe",
    "Check",
    "Environment",
    "Report",
    "Runtime",
    "Status",
    "Video",
    "add_doctor_arguments",
    "collect",
    "collect_environment",
    "doctor_command",
    "format_report",
    "imagenet_candidates",
    "probe_cameras",
    "report_as_dict",
    "run_bounded",
    "verdict",
]


def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``streamcls doctor``."""
    parser.add_argument("--config", help="YAML config file whose needs are checked")
    parser.add_argument("--source", help="camera index, video file, stream URL or image folder to check")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging and tracebacks")


def doctor_command(arguments: argparse.Namespace) -> tuple[str, int]:
    """Run the checks for ``--config``/``--source``; return the text to print and the exit status.

    Raises:
        ConfigError: the config file or ``--source`` is invalid (exit status 2).
    """
    from streamcls.config import load_config

    overrides = {"source.uri": arguments.source} if arguments.source is not None else {}
    config = load_config(arguments.config, overrides)  # validates --source even without a file
    report = collect(config if arguments.config else None, arguments.source, config_path=arguments.config)
    text = json.dumps(report_as_dict(report), indent=2) if arguments.json else format_report(report)
    return text, report.exit_code


def collect(
    config: Config | None = None,
    source: str | None = None,
    *,
    config_path: str | None = None,
    probe_timeout_s: float = PROBE_TIMEOUT_S,
) -> Report:
    """Gather the facts and check what ``config`` (and ``source``, overriding its URI) needs.

    ``config`` None checks only what every run needs (TensorFlow, OpenCV); the defaults'
    other needs are reported as information.

    Example::

        report = collect(load_config("run.yaml"), "clip.mp4")
        print(format_report(report)); sys.exit(report.exit_code)
    """
    from streamcls.config import Config

    environment = collect_environment(probe_timeout_s)
    effective = config or Config()
    uri = source if source is not None else (config.source.uri if config is not None else None)
    needs = [
        Check("config", config_path or ("given" if config else "none: the defaults")),
        model_check(effective),
        device_check(effective.inference.device, environment.runtime),
        backend_check(effective, uri, environment.runtime),
        display_check(effective.output.display, environment.video),
    ]
    if config is None:  # the defaults' needs are facts here, not failures
        needs = [check if check.status is Status.OK else replace(check, status=Status.INFO) for check in needs]
    if config is not None:
        needs.extend(output_checks(config))
        if config.service != type(config.service)():  # a service: section: a config meant for serve
            needs.append(service_check(config))
    if uri is not None:
        needs.append(source_check(uri, environment.video, probe_timeout_s))
    else:
        needs.append(Check("source", "none given (pass --source or --config to check one)"))
    return Report(environment, (*environment_checks(environment), *needs), config is not None)
