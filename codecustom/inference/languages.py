"""What the engine needs to know per language: block style, stop strings, tree-sitter grammar.

A registry, not an if-chain: add a language by adding a :class:`LanguageSpec` to ``LANGUAGES``.
Unknown languages get :data:`PLAIN`, which uses text rules only.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LanguageSpec:
    """Per-language facts used by gating, stop rules and post-filters."""

    name: str
    blocks: str  # "indent" (Python) or "brace" (C-like) or "none"
    block_opener: str  # the character a line ends with when it opens a block (":" or "{")
    # stop strings for multi-line completions: a new top-level statement means the block is over
    stop: tuple[str, ...] = ()
    line_comment: str = "#"
    grammar: tuple[str, str] | None = None  # (python module, function returning the language pointer)
    block_nodes: frozenset[str] = field(default_factory=frozenset)  # tree-sitter node types of blocks
    skip_nodes: frozenset[str] = field(default_factory=frozenset)  # children that do not make a block non-empty
    # top-level nodes a generated test is (the test-generation stop rule ends where the first one closes)
    definition_nodes: frozenset[str] = field(default_factory=frozenset)
    extensions: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def parser(self) -> Any | None:
        """A tree-sitter parser for this language, or None when the grammar is not installed."""
        return _parser(self.grammar) if self.grammar else None


@functools.lru_cache(maxsize=None)
def _language(grammar: tuple[str, str]) -> Any | None:
    try:
        from tree_sitter import Language

        module = importlib.import_module(grammar[0])
        return Language(getattr(module, grammar[1])())
    except (ImportError, AttributeError, ValueError):
        return None


def _parser(grammar: tuple[str, str]) -> Any | None:
    # Parsers are cheap but not thread-safe; make one per call (the LSP parses on a worker thread).
    lang = _language(grammar)
    if lang is None:
        return None
    from tree_sitter import Parser

    return Parser(lang)


_COMMENTS = frozenset({"comment", "line_comment", "block_comment", "ERROR"})

LANGUAGES: dict[str, LanguageSpec] = {}


def register(spec: LanguageSpec) -> LanguageSpec:
    """Add ``spec`` to the registry under its name and aliases."""
    for key in (spec.name, *spec.aliases):
        LANGUAGES[key] = spec
    return spec


register(LanguageSpec(
    name="python", blocks="indent", block_opener=":", line_comment="#",
    stop=("\ndef ", "\nclass ", "\nif __name__", "\n@", "\nimport ", "\nfrom ", "\n#"),
    grammar=("tree_sitter_python", "language"),
    block_nodes=frozenset({"block", "module"}), skip_nodes=_COMMENTS | {"pass_statement"},
    definition_nodes=frozenset({"function_definition", "decorated_definition", "class_definition"}),
    extensions=(".py", ".pyi"), aliases=("py", "python3"),
))
register(LanguageSpec(
    name="java", blocks="brace", block_opener="{", line_comment="//",
    stop=("\npublic ", "\nclass ", "\n@", "\nimport ", "\npackage "),
    grammar=("tree_sitter_java", "language"),
    block_nodes=frozenset({"block", "class_body", "constructor_body", "interface_body", "enum_body",
                           "switch_block", "lambda_body"}),
    skip_nodes=_COMMENTS | {"{", "}"}, extensions=(".java",),
    definition_nodes=frozenset({"method_declaration", "constructor_declaration", "class_declaration"}),
))
register(LanguageSpec(
    name="javascript", blocks="brace", block_opener="{", line_comment="//",
    stop=("\nfunction ", "\nclass ", "\nexport ", "\nimport ", "\nconst ", "\nmodule.exports"),
    grammar=("tree_sitter_javascript", "language"),
    block_nodes=frozenset({"statement_block", "class_body", "program", "switch_body", "object"}),
    skip_nodes=_COMMENTS | {"{", "}"}, extensions=(".js", ".mjs", ".cjs", ".jsx"),
    aliases=("js", "javascriptreact", "jsx"),
))
register(LanguageSpec(
    name="typescript", blocks="brace", block_opener="{", line_comment="//",
    stop=("\nfunction ", "\nclass ", "\nexport ", "\nimport ", "\ninterface ", "\ntype "),
    grammar=("tree_sitter_typescript", "language_typescript"),
    block_nodes=frozenset({"statement_block", "class_body", "program", "switch_body", "interface_body", "object"}),
    skip_nodes=_COMMENTS | {"{", "}"}, extensions=(".ts", ".mts", ".cts"), aliases=("ts",),
))
register(LanguageSpec(
    name="tsx", blocks="brace", block_opener="{", line_comment="//",
    stop=("\nfunction ", "\nclass ", "\nexport ", "\nimport ", "\ninterface ", "\ntype "),
    grammar=("tree_sitter_typescript", "language_tsx"),
    block_nodes=frozenset({"statement_block", "class_body", "program", "switch_body", "interface_body", "object"}),
    skip_nodes=_COMMENTS | {"{", "}"}, extensions=(".tsx",), aliases=("typescriptreact",),
))
register(LanguageSpec(
    name="go", blocks="brace", block_opener="{", line_comment="//",
    stop=("\nfunc ", "\ntype ", "\nimport ", "\npackage ", "\nvar ", "\nconst "),
    grammar=("tree_sitter_go", "language"),
    block_nodes=frozenset({"block", "source_file", "field_declaration_list", "literal_value"}),
    skip_nodes=_COMMENTS | {"{", "}"}, extensions=(".go",), aliases=("golang",),
))

PLAIN = LanguageSpec(name="plain", blocks="none", block_opener="", line_comment="#")


def get_language(name: str | None) -> LanguageSpec:
    """The spec for an editor language id or name (``"python"``, ``"typescriptreact"``, ...); PLAIN if unknown."""
    if not name:
        return PLAIN
    return LANGUAGES.get(name.lower(), PLAIN)


def language_for_path(path: str) -> LanguageSpec:
    """The spec for a file name by its extension; PLAIN if unknown."""
    lower = path.lower()
    for spec in LANGUAGES.values():
        if lower.endswith(spec.extensions):
            return spec
    return PLAIN
