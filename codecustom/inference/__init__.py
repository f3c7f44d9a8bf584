"""Generation engine used by evaluation, the language server and ``codecustom complete``.

Names here are the contract (docs/contracts.md). Importing this package does not import torch;
the in-process backend and the fast decoder load it when used.
"""

from __future__ import annotations

from typing import Any

from codecustom.inference.engine import Completion, CompletionEngine, TestGenEngine
from codecustom.inference.gating import CursorContext, analyze
from codecustom.inference.languages import LANGUAGES, LanguageSpec, get_language, language_for_path
from codecustom.inference.params import Backend, GenerationParams

__all__ = [
    "Backend", "Completion", "CompletionEngine", "CursorContext", "GenerationParams", "InProcessBackend",
    "LANGUAGES", "LanguageSpec", "OpenAIBackend", "TestGenEngine", "analyze", "get_language", "language_for_path",
]


def __getattr__(name: str) -> Any:  # lazy: the backends import torch / http machinery
    if name == "InProcessBackend":
        from codecustom.inference.backends.in_process import InProcessBackend

        return InProcessBackend
    if name == "OpenAIBackend":
        from codecustom.inference.backends.openai_http import OpenAIBackend

        return OpenAIBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
