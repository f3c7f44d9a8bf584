"""Execution ladders: does a generated test build, pass (every run), and cover its focal method?

One entry per language in :data:`LADDERS`; each takes the sandbox it runs in. Languages without an
entry get text metrics only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from codecustom.evaluation.execution.base import Ladder, LadderOutcome, TestTarget, Workspace, split_method_id


def _python(**options: Any) -> Ladder:
    from codecustom.evaluation.execution.python import PythonLadder

    return PythonLadder(**options)


def _java(**options: Any) -> Ladder:
    from codecustom.evaluation.execution.java import JavaLadder

    return JavaLadder(**options)


LADDERS: dict[str, Callable[..., Ladder]] = {"python": _python, "java": _java}


def get_ladder(language: str, **options: Any) -> Ladder | None:
    """The ladder for ``language`` built with ``options`` (sandbox, runs, timeout, ...), or None."""
    factory = LADDERS.get(language.lower())
    if factory is None:
        return None
    if language.lower() != "python":
        options.pop("python", None)
    return factory(**options)


__all__ = ["LADDERS", "Ladder", "LadderOutcome", "TestTarget", "Workspace", "get_ladder", "split_method_id"]
