"""``streamcls doctor``: check this machine for a run; the checks live in :mod:`streamcls.doctor`."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(subcommands: Any) -> None:
    """Add ``doctor`` to the CLI's sub-commands; its flags are :mod:`streamcls.doctor`'s."""
    from streamcls.doctor import add_doctor_arguments

    doctor = subcommands.add_parser(
        "doctor", help="check this machine for a run: versions, devices, video backends, weights, cameras, source"
    )
    add_doctor_arguments(doctor)
    doctor.set_defaults(handler=handle)


def handle(arguments: argparse.Namespace) -> int:
    """Print the report; the exit code says whether the run would find what it needs."""
    from streamcls.doctor import doctor_command

    text, exit_code = doctor_command(arguments)
    print(text)
    return exit_code
