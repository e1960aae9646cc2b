"""The ``streamcls`` command: the parser, dispatch, and errors turned into exit codes.

Each command lives in a module of :mod:`streamcls.commands`, which exposes
``add_parser(subcommands)``: it adds its sub-parser and sets ``handler`` to a
function ``(arguments) -> int`` (the exit code). Errors raised as
:class:`StreamclsError` become one line on stderr and the error's exit code; a
traceback is shown only with ``--verbose``. The flags every command shares are
in :mod:`streamcls.commands.options`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import NoReturn

from streamcls.commands import batch, bench, demo, doctor, evaluate, export, model, run, serve, train
from streamcls.errors import StreamclsError
from streamcls.quiet import debug_requested, set_native_log_levels
from streamcls.redact import install_log_redaction, limit_native_logging, redact

logger = logging.getLogger("streamcls")

# In the order `streamcls --help` lists them; each module light to import (heavy imports in its functions).
COMMANDS = (model, bench, train, evaluate, demo, export, run, serve, batch, doctor)


def _stop_on_sigterm() -> None:
    """SIGTERM stops like Ctrl-C: threads joined, files closed whole, status 130."""
    import signal
    import threading

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, terminate)


def main(argv: list[str] | None = None) -> int:
    _stop_on_sigterm()  # first: a service manager may stop us while we are still starting
    native_notes = limit_native_logging(os.environ)  # before cv2 is imported and reads them
    parser = _parser()
    arguments = parser.parse_args(argv)
    arguments.verbose = arguments.verbose or debug_requested(os.environ)
    set_native_log_levels(os.environ, arguments.verbose)  # still before cv2 and TensorFlow load
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbose else logging.INFO,
        format="streamcls: %(message)s",
    )
    install_log_redaction()  # on the handlers: they see every logger's records (see RedactFilter)
    # Libraries' Python warnings ("`shuffle=True` was passed, but will be ignored") are for
    # developers: logged as streamcls lines, shown with --verbose only.
    logging.captureWarnings(True)
    if not arguments.verbose:
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
    for note in native_notes:
        logger.warning("%s", note)
    try:
        return int(arguments.handler(arguments) or 0)
    except StreamclsError as error:
        if arguments.verbose:
            logger.exception("error")
        print(f"streamcls: error: {redact(str(error))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("streamcls: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug: still one line, the traceback on request
        if arguments.verbose:
            logger.exception("internal error")
        print(
            f"streamcls: internal error: {type(error).__name__}: {redact(str(error))} "
            f"(rerun with --verbose for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 70


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # it quotes what was typed: a URL forgotten --source
        super().error(redact(message))


def _parser() -> argparse.ArgumentParser:
    from streamcls.version import __version__

    parser = _Parser(  # sub-commands' parsers are of the same class
        prog="streamcls",
        description="Real-time video classification with a Keras MobileNet at any input size.",
    )
    parser.add_argument("--version", action="version", version=f"streamcls {__version__}")
    parser.set_defaults(verbose=False)
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subcommands)
    return parser
