"""What doctor found, and how it is shown: the report's lines, text or ``--json``, the verdict.

A :class:`Report` is the environment plus one :class:`Check` per line; its exit code
is 1 when any check is a problem. :func:`format_report` gives aligned text with each
fix under its line, :func:`report_as_dict` the same facts for ``--json``.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import Any

from streamcls.doctor.facts import Environment


class Status(enum.Enum):
    OK = "ok"  # something the config needs, and it is here
    INFO = "info"  # a fact; nothing depends on it
    WARNING = "warning"  # missing, but the run carries on without it
    PROBLEM = "problem"  # missing, and the run would fail


@dataclass(frozen=True)
class Check:
    """One line of the report: a fact or a need, and (when something is missing) the fix."""

    name: str
    value: str
    status: Status = Status.INFO
    fix: str = ""


@dataclass(frozen=True)
class Report:
    environment: Environment
    checks: tuple[Check, ...]
    strict: bool  # a config was given: its model, device, backend and display needs count

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.status is Status.PROBLEM)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.status is Status.WARNING)

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


def format_report(report: Report) -> str:
    """Aligned text, one fact per line, the fix under each line that needs one, a verdict last."""
    width = max(len(check.name) for check in report.checks) + 2
    lines = []
    for check in report.checks:
        marker = {Status.PROBLEM: "PROBLEM: ", Status.WARNING: "warning: "}.get(check.status, "")
        lines.append(f"{check.name:<{width}}{marker}{check.value}")
        if check.fix:
            label = "fix" if check.status in (Status.PROBLEM, Status.WARNING) else "hint"
            lines.append(f"{'':<{width}}{label}: {check.fix}")
    lines.append(verdict(report))
    return "\n".join(lines)


def verdict(report: Report) -> str:
    """The last line: everything is here, or how many problems and which."""
    problems = report.problems
    if problems:
        listed = ", ".join(check.name for check in problems)
        return f"doctor: {len(problems)} problem(s): {listed} (each with its fix above)"
    line = "doctor: everything this config needs is here"
    notes = [f"{len(report.warnings)} warning(s)"] if report.warnings else []
    if not report.strict:
        notes.append("no --config: only TensorFlow, OpenCV and any --source were required")
    return line + (f" ({'; '.join(notes)})" if notes else "")


def report_as_dict(report: Report) -> dict[str, Any]:
    """The same facts for ``--json``: the environment, every check, and problems with their fixes."""

    def needs(checks: tuple[Check, ...]) -> list[dict[str, str]]:
        return [{"name": check.name, "missing": check.value, "fix": check.fix} for check in checks]

    return {
        "environment": asdict(report.environment),
        "checks": [{**asdict(check), "status": check.status.value} for check in report.checks],
        "problems": needs(report.problems),
        "warnings": needs(report.warnings),
        "ok": not report.problems,
        "verdict": verdict(report),
    }
