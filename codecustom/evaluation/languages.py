"""What evaluation needs to know about each language: its grammar, keywords and how a test parses.

One registry entry per language. ``python`` and ``java`` carry everything (keywords for CodeBLEU's
weighted n-gram match and a dataflow spec); the other grammars shipped with codecustom support the
syntax-validity check and the n-gram / syntax parts of CodeBLEU.
"""

from __future__ import annotations

import builtins
import functools
import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codecustom.errors import UsageError


@dataclass(frozen=True)
class EvalLanguage:
    """A language as evaluation sees it."""

    name: str
    grammar: Callable[[], Any]  # returns the tree-sitter language capsule
    # Ways to make a lone test/method parse: each template wraps the code; the first clean parse wins.
    wrappers: tuple[str, ...] = ("{code}",)
    keywords: frozenset[str] = field(default_factory=frozenset)
    comment_types: frozenset[str] = frozenset({"comment"})
    extensions: tuple[str, ...] = ()


def _grammar(module: str, attr: str = "language") -> Callable[[], Any]:
    def load() -> Any:
        import importlib

        return getattr(importlib.import_module(module), attr)()

    return load


_PY_BUILTINS = frozenset(n for n in dir(builtins) if not n.startswith("_") and n[0].islower())
_JAVA_KEYWORDS = frozenset(
    """abstract assert boolean break byte case catch char class const continue default do double else enum
    extends final finally float for goto if implements import instanceof int interface long native new package
    private protected public return short static strictfp super switch synchronized this throw throws transient
    try void volatile while true false null var record yield sealed permits""".split()
)
_JS_KEYWORDS = frozenset(
    """await break case catch class const continue debugger default delete do else export extends finally for
    function if import in instanceof let new return super switch this throw try typeof var void while with yield
    async of static get set null undefined true false""".split()
)
_GO_KEYWORDS = frozenset(
    """break case chan const continue default defer else fallthrough for func go goto if import interface map
    package range return select struct switch type var nil true false""".split()
)

LANGUAGES: dict[str, EvalLanguage] = {
    "python": EvalLanguage(
        "python", _grammar("tree_sitter_python"), wrappers=("{code}",),
        keywords=frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | _PY_BUILTINS,
        extensions=(".py",),
    ),
    "java": EvalLanguage(
        "java", _grammar("tree_sitter_java"),
        wrappers=("{code}", "class __CodecustomWrapper__ {{\n{code}\n}}"),
        keywords=_JAVA_KEYWORDS, comment_types=frozenset({"line_comment", "block_comment"}),
        extensions=(".java",),
    ),
    "javascript": EvalLanguage(
        "javascript", _grammar("tree_sitter_javascript"),
        wrappers=("{code}", "class __CodecustomWrapper__ {{\n{code}\n}}"), keywords=_JS_KEYWORDS,
        extensions=(".js", ".jsx", ".mjs", ".cjs"),
    ),
    "typescript": EvalLanguage(
        "typescript", _grammar("tree_sitter_typescript", "language_typescript"),
        wrappers=("{code}", "class __CodecustomWrapper__ {{\n{code}\n}}"), keywords=_JS_KEYWORDS,
        extensions=(".ts", ".tsx"),
    ),
    "go": EvalLanguage(
        "go", _grammar("tree_sitter_go"), wrappers=("{code}", "package p\n{code}"), keywords=_GO_KEYWORDS,
        extensions=(".go",),
    ),
}


def get_language(name: str) -> EvalLanguage:
    """The registry entry for ``name``; a clear error for languages evaluation does not know."""
    try:
        return LANGUAGES[name.lower()]
    except KeyError:
        raise UsageError(f"evaluation does not support language '{name}'",
                         hint=f"supported: {', '.join(sorted(LANGUAGES))}") from None


def language_for_path(path: str) -> str | None:
    """The registered language whose extensions match ``path``, else None."""
    lower = path.lower()
    for lang in LANGUAGES.values():
        if lower.endswith(lang.extensions):
            return lang.name
    return None


@functools.lru_cache(maxsize=None)
def ts_language(name: str) -> Any:
    """The tree-sitter ``Language`` object for a registered language (cached)."""
    from tree_sitter import Language

    return Language(get_language(name).grammar())


def parser(name: str) -> Any:
    """A fresh tree-sitter parser for ``name`` (parsers are cheap; they are not thread-safe to share)."""
    from tree_sitter import Parser

    return Parser(ts_language(name))


def parse(code: str, name: str) -> Any:
    """Parse ``code`` and return the tree."""
    return parser(name).parse(code.encode("utf-8"))
