"""Syntax validity: does generated code parse with tree-sitter without ERROR or MISSING nodes?"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from codecustom.evaluation.languages import get_language, parse


def parses_cleanly(code: str, language: str) -> bool:
    """True when ``code`` parses as a whole file of ``language`` with no ERROR/MISSING node."""
    return not parse(code, language).root_node.has_error


def is_valid_snippet(code: str, language: str) -> bool:
    """True when a generated test/method parses in some context the language allows.

    A lone Java method is not a compilation unit, so it is also tried wrapped in a class; Python code
    is dedented first so that a method cut out of a class parses at module level. Empty code is invalid.
    """
    if not code.strip():
        return False
    lang = get_language(language)
    text = textwrap.dedent(code)
    return any(parses_cleanly(template.format(code=text), language) for template in lang.wrappers)


def syntax_valid_rate(snippets: Iterable[str], language: str) -> float:
    """Share of ``snippets`` that are valid (0.0 for an empty list)."""
    flags = [is_valid_snippet(s, language) for s in snippets]
    return sum(flags) / len(flags) if flags else 0.0
