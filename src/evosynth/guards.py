"""Checks that run before an artifact write replaces or removes a file.

:mod:`evosynth.artifacts` runs them before every rename over an artifact and
every clean-up of a failed step; a check may end the process.
:mod:`evosynth.pipeline.lifetime` adds one: a step whose engine is gone must not
touch outputs that the engine's next run may already have recorded.
"""

from __future__ import annotations

from collections.abc import Callable

_CHECKS: list[Callable[[], None]] = []


def guard_writes(check: Callable[[], None]) -> None:
    """Run ``check`` before every replacement or removal of an artifact from now on."""
    _CHECKS.append(check)


def before_write() -> None:
    for check in _CHECKS:
        check()
