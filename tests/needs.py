"""Tests that need a component this machine may lack: a skip here, a failure in CI.

In CI (``CI=true``) every component is installed (.ci/run installs them), so a missing
one is a broken CI machine, not a reason to pass quietly: ``require`` fails there and
skips elsewhere. Every test that skips for a missing component goes through it:

    require(condition, reason)   inside a test or fixture
    needs(condition, reason)     a mark: ``@needs(...)`` on a test, or ``pytestmark = needs(...)``;
                                 conftest.py calls ``require`` for it when the test is set up

Skips that say a test does not apply to this machine (it has a GPU; the long soak is on
demand; root is needed to mount a tmpfs) are not missing components and stay plain skips.
"""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def require(condition: object, reason: str) -> None:
    """Carry on if ``condition`` holds; otherwise skip with ``reason`` (fail under ``CI=true``)."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI=true, where every component is installed, but: {reason}", pytrace=False)
    pytest.skip(reason)


def needs(condition: object, reason: str) -> pytest.MarkDecorator:
    """A mark that applies ``require(condition, reason)`` when the test is set up."""
    return pytest.mark.needs(bool(condition), reason)
