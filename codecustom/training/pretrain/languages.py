"""Languages a pretraining corpus can hold: file extensions and a cheap syntax check per language.

A registry, so adding a language is one entry. The syntax check runs on every corpus file, so it must
be fast and need nothing beyond the standard library (the GPU machine that pretrains may lack
tree-sitter); languages without one are kept as they are.
"""

from __future__ import annotations

import ast
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from codecustom.errors import UsageError


def _python_parses(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our concern
        try:
            ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return False
    return True


@dataclass(frozen=True)
class CorpusLanguage:
    """One language of the pretraining corpus."""

    name: str
    extensions: tuple[str, ...]
    parses: Callable[[str], bool] | None = None  # None: no syntax check


LANGUAGES: dict[str, CorpusLanguage] = {
    "python": CorpusLanguage("python", (".py",), _python_parses),
    "java": CorpusLanguage("java", (".java",)),
    "javascript": CorpusLanguage("javascript", (".js", ".mjs", ".cjs")),
    "typescript": CorpusLanguage("typescript", (".ts",)),
    "go": CorpusLanguage("go", (".go",)),
}

# Python first; Java when a corpus has it. JS/TS/Go in site-packages are mostly bundled assets.
DEFAULT_LANGUAGES = ("python", "java")


def resolve_languages(names: list[str] | tuple[str, ...] | None) -> list[CorpusLanguage]:
    """Registry entries for ``names`` (default :data:`DEFAULT_LANGUAGES`); unknown names are a usage error."""
    chosen = list(names or DEFAULT_LANGUAGES)
    unknown = [n for n in chosen if n not in LANGUAGES]
    if unknown:
        raise UsageError(f"unknown corpus language(s): {', '.join(unknown)}",
                         hint=f"choose from {', '.join(LANGUAGES)}")
    return [LANGUAGES[n] for n in chosen]


def language_by_extension(languages: list[CorpusLanguage]) -> dict[str, CorpusLanguage]:
    """Map each file extension of ``languages`` to its language."""
    return {ext: lang for lang in languages for ext in lang.extensions}
