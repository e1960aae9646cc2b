"""``streamcls serve``: every configured camera through one model, as a service with a page, an API and metrics."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from streamcls.commands.options import (
    add_backend_flags,
    add_device_flag,
    add_model_flags,
    add_output_flags,
    config_from,
)


def add_parser(subcommands: Any) -> None:
    """Add ``serve`` to the CLI's sub-commands."""
    serve = subcommands.add_parser(
        "serve",
        help="run the configured sources as a service: dashboard, HTTP API, Prometheus metrics",
        description="Runs until SIGTERM or Ctrl-C, then closes every output whole. The page is at /, the API "
        "at /sources (described at /openapi.json), metrics at /metrics.",
    )
    add_model_flags(serve)
    serve.add_argument(
        "--source",
        dest="serve_sources",
        action="append",
        metavar="SOURCE",
        help="a source to start with (camera index, file, rtsp:// or http(s):// URL, folder); repeatable; "
        "replaces the config's sources: list. More can be added at run time (POST /sources)",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; others need a token)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080; 0: any free port)")
    serve.add_argument("--token-file", help="file holding the API token (or set STREAMCLS_TOKEN)")
    serve.add_argument(
        "--metrics-token-file", help="file holding a token that opens /metrics only (or STREAMCLS_METRICS_TOKEN)"
    )
    serve.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="listen beyond loopback with no token: anyone who can reach the port controls the service",
    )
    serve.add_argument("--batch-size", type=int, help="frames per inference call (default 8)")
    serve.add_argument(
        "--realtime", action="store_true", help="play files at their native rate, like cameras (previews, load tests)"
    )
    add_output_flags(serve)
    add_device_flag(serve)
    add_backend_flags(serve)
    serve.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT; print the summary.

    Returns:
        0 after a clean stop.

    Raises:
        StreamclsError: what stopped the service (a bad flag, a taken port, a failed output).
    """
    extra: dict[str, Any] = {"output.display": False}
    if arguments.serve_sources:
        extra["sources"] = [{"uri": uri} for uri in arguments.serve_sources]
    for flag, key in (("host", "service.host"), ("port", "service.port")):
        if getattr(arguments, flag) is not None:
            extra[key] = getattr(arguments, flag)
    for flag, key in (("token_file", "service.token_file"), ("metrics_token_file", "service.metrics_token_file")):
        if getattr(arguments, flag) is not None:
            extra[key] = getattr(arguments, flag)
    config = config_from(arguments, extra)
    from streamcls.commands.console import print_summary
    from streamcls.service.auth import is_loopback, load_tokens
    from streamcls.service.run import Service

    service_config = config.service
    tokens = load_tokens(
        service_config.token_file, service_config.metrics_token_file, service_config.host, arguments.insecure_no_auth
    )
    if not tokens.required and not is_loopback(service_config.host):
        print(
            f"warning: serving on {service_config.host} with no token (--insecure-no-auth): anyone who can reach "
            f"it can see every camera and add or remove sources",
            file=sys.stderr,
            flush=True,
        )
    with Service(config, tokens) as service:
        count = len(service.source_ids())
        print(
            f"serving {count} source{'s' if count != 1 else ''} at {service.url} (API: {service.url}sources, "
            f"metrics: {service.url}metrics); SIGTERM or Ctrl-C stops",
            flush=True,
        )
        stopped_by = service.serve()
    if stopped_by:
        print(f"stopped by {stopped_by}; every output closed", flush=True)
    print_summary(service.pipeline.summary(), interrupted=False)
    if service.failure is not None:
        raise service.failure
    return 0
