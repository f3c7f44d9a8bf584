"""Should we complete here, and one line or a block? (tree-sitter where the grammar is installed)

The rules follow what Tabby, llm-ls and Copilot-style clients do:

* no completion in the middle of an identifier, nor when the rest of the line holds more than
  closing brackets and punctuation;
* multi-line after a line that ends with the language's block opener (``:`` / ``{``) and on an empty
  line inside an empty block; single-line everywhere else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codecustom.inference.languages import LanguageSpec, get_language
from codecustom.inference.stopping import indent_width

_IDENT_CHAR = re.compile(r"\w")
_CLOSERS_ONLY = re.compile(r"""^\s*[)\]}>"'`;,:.]*\s*$""")


@dataclass(frozen=True)
class CursorContext:
    """What the engine knows about the cursor position."""

    language: LanguageSpec
    line_prefix: str  # text of the cursor's line before the cursor
    line_suffix: str  # text of the cursor's line after the cursor
    should_complete: bool
    multiline: bool
    reason: str  # why (for logs, status and tests)
    block_indent: int  # indentation width of the line that opened the cursor's block (-1: unknown)
    indent_unit: str  # the file's indentation unit ("    ", "\t", ...)


def analyze(prefix: str, suffix: str, language: str | LanguageSpec | None) -> CursorContext:
    """Decide whether and how to complete at the cursor between ``prefix`` and ``suffix``."""
    spec = language if isinstance(language, LanguageSpec) else get_language(language)
    line_prefix = prefix[prefix.rfind("\n") + 1:]
    nl = suffix.find("\n")
    line_suffix = suffix if nl < 0 else suffix[:nl]
    unit = detect_indent_unit(prefix + suffix)

    def ctx(ok: bool, multi: bool, reason: str, block_indent: int = -1) -> CursorContext:
        return CursorContext(spec, line_prefix, line_suffix, ok, multi, reason, block_indent, unit)

    if line_suffix[:1] and _IDENT_CHAR.match(line_suffix[:1]):
        return ctx(False, False, "mid-identifier")
    if not _CLOSERS_ONLY.match(line_suffix):
        return ctx(False, False, "text after the cursor")
    if spec.blocks == "none" or line_suffix.strip():
        return ctx(True, False, "single-line: inside a line")

    stripped = line_prefix.rstrip()
    if stripped and stripped.endswith(spec.block_opener) and not _in_comment(stripped, spec):
        return ctx(True, True, "multi-line: after a block opener", indent_width(line_prefix))
    if stripped:
        return ctx(True, False, "single-line: end of a line")

    # The cursor is on an empty line: multi-line only when the block around it is empty.
    opener_indent = _opener_indent(prefix, spec)
    empty = _empty_block_ts(prefix, suffix, spec)
    if empty is None:  # no grammar: fall back to text — the previous code line opened a block
        empty = opener_indent is not None and _next_code_line_closes(suffix, spec, opener_indent)
    if empty:
        return ctx(True, True, "multi-line: empty line in an empty block",
                   opener_indent if opener_indent is not None else -1)
    return ctx(True, False, "single-line: empty line in a non-empty block")


def detect_indent_unit(text: str) -> str:
    """The file's indentation unit: a tab, or the smallest common step of space indentation (default 4)."""
    tabs = spaces = 0
    widths: dict[int, int] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("\t"):
            tabs += 1
        elif line.startswith(" "):
            spaces += 1
            w = len(line) - len(line.lstrip(" "))
            widths[w] = widths.get(w, 0) + 1
    if tabs > spaces:
        return "\t"
    for step in (2, 4, 8, 3):  # the smallest step that explains most indented lines
        if widths and sum(n for w, n in widths.items() if w % step == 0) >= 0.9 * sum(widths.values()) \
                and min(widths) == step:
            return " " * step
    return " " * (min(widths) if widths and min(widths) in (2, 3, 4, 8) else 4)


def _in_comment(line: str, spec: LanguageSpec) -> bool:
    return bool(spec.line_comment) and spec.line_comment in line


def _opener_indent(prefix: str, spec: LanguageSpec) -> int | None:
    """Indentation of the previous code line if it ends with a block opener, else None."""
    lines = prefix.split("\n")[:-1]
    for line in reversed(lines):
        if line.strip():
            code = line.rstrip()
            return indent_width(line) if code.endswith(spec.block_opener) else None
    return None


def _next_code_line_closes(suffix: str, spec: LanguageSpec, opener_indent: int) -> bool:
    """Text fallback: the next code line after the cursor ends the block (or there is none)."""
    for line in suffix.split("\n")[1:]:
        if line.strip():
            if spec.blocks == "brace":
                return line.strip().startswith("}")
            return indent_width(line) <= opener_indent
    return True


def _empty_block_ts(prefix: str, suffix: str, spec: LanguageSpec) -> bool | None:
    """With tree-sitter: is the innermost block around the cursor free of statements? None if no grammar."""
    parser = spec.parser()
    if parser is None:
        return None
    source = (prefix + suffix).encode("utf-8")
    cursor = len(prefix.encode("utf-8"))
    tree = parser.parse(source)
    node = tree.root_node.descendant_for_byte_range(cursor, cursor)
    while node is not None and node.type not in spec.block_nodes:
        node = node.parent
    if node is None:
        return None
    if node.parent is None:
        # The cursor is at top level (or in a block the grammar could not parse, such as Python's
        # still-empty indented body, which is a syntax error): decide by the text rule.
        return None
    return all(child.type in spec.skip_nodes for child in node.children)
