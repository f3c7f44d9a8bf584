"""Stop rules: functions of the decoded continuation that say where it should end.

A rule takes the text generated so far and returns the index at which to cut it, or None to keep
going. Rules are checked on the fly while decoding (so decoding stops as soon as a block is over)
and once more on the final text. They only look at the continuation, never at the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

StopRule = Callable[[str], "int | None"]
# A rule may say why it cut (``reason``); that becomes the continuation's ``stop_reason``.
DEFAULT_RULE_REASON = "stop rule"

_LEADING_WS = re.compile(r"[ \t]*")


def indent_width(line: str, tab_size: int = 4) -> int:
    """Visual width of a line's leading whitespace."""
    ws = _LEADING_WS.match(line).group(0)
    return len(ws.replace("\t", " " * tab_size))


@dataclass(frozen=True)
class FirstNewline:
    """Single-line completions: stop at the first newline (after some text, or at once if it leads)."""

    reason = "end of line"

    def __call__(self, text: str) -> int | None:
        i = text.find("\n")
        return None if i < 0 else i


@dataclass(frozen=True)
class StopStrings:
    """Stop at the earliest of a set of strings."""

    strings: tuple[str, ...]
    reason = "stop string"

    def __call__(self, text: str) -> int | None:
        hits = [i for i in (text.find(s) for s in self.strings if s) if i >= 0]
        return min(hits) if hits else None


@dataclass(frozen=True)
class IndentBlockEnd:
    """Indentation languages: the block ends at the first complete line indented at or below ``base``.

    ``base`` is the indentation width of the line that opened the block the cursor is in; the
    continuation of the cursor's own line (text before the first newline) is never checked. A line
    only counts once it is complete (a newline follows) or long enough to show its indentation.
    """

    base: int
    tab_size: int = 4
    reason = "end of block"

    def __call__(self, text: str) -> int | None:
        pos = text.find("\n")
        while pos >= 0:
            start = pos + 1
            nxt = text.find("\n", start)
            line = text[start:] if nxt < 0 else text[start:nxt]
            if line.strip():
                if indent_width(line, self.tab_size) <= self.base:
                    return pos  # cut before the newline that starts the dedented line
            elif nxt < 0:
                return None  # an unfinished blank line: its indentation is not known yet
            pos = nxt
        return None


@dataclass(frozen=True)
class BraceBlockEnd:
    """Brace languages: stop where a closing brace closes more than the continuation opened.

    Braces inside string literals and line comments are ignored (a rough lexer is enough here: the
    continuation is short and usually well formed).
    """

    comment: str = "//"
    reason = "end of block"

    def __call__(self, text: str) -> int | None:
        depth = 0
        i, n = 0, len(text)
        quote: str | None = None
        while i < n:
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 2
                    continue
                if ch == quote or (ch == "\n" and quote != "`"):
                    quote = None
            elif text.startswith(self.comment, i):
                j = text.find("\n", i)
                if j < 0:
                    return None
                i = j
                continue
            elif ch in "\"'`":
                quote = ch
            elif ch in "{([":
                depth += 1
            elif ch in "})]":
                depth -= 1
                if depth < 0:
                    line_start = text.rfind("\n", 0, i) + 1
                    # a closing brace alone on its line: cut the whole line (keep the newline before it)
                    return line_start - 1 if line_start > 0 and not text[line_start:i].strip() else i
            i += 1
        return None


@dataclass(frozen=True)
class DefinitionEnd:
    """Test generation: stop after the first complete top-level definition in the continuation.

    Indentation languages: once a body line (deeper than the first line) was seen, the next
    non-blank line at the first line's indentation or less ends the definition, unless it is a
    decorator-free continuation such as ``else:``/``except``. Brace languages: the definition ends
    right after the brace that brings the depth back to zero.
    """

    blocks: str
    comment: str = "#"
    tab_size: int = 4
    reason = "end of test"

    def __call__(self, text: str) -> int | None:
        return self._indent(text) if self.blocks == "indent" else self._brace(text) if self.blocks == "brace" else None

    def _indent(self, text: str) -> int | None:
        parts = text.split("\n")
        base: int | None = None
        body_seen = False
        offset = 0
        for idx, line in enumerate(parts):
            complete = idx < len(parts) - 1
            stripped = line.strip()
            if stripped:
                width = indent_width(line, self.tab_size)
                if base is None:
                    base = width
                elif width > base:
                    body_seen = True
                elif body_seen and (complete or len(stripped) >= 8) and not stripped.startswith(_CONTINUATIONS):
                    return max(offset - 1, 0)  # cut at the newline before the dedented line
            offset += len(line) + 1
        return None

    def _brace(self, text: str) -> int | None:
        depth = 0
        opened = False
        quote: str | None = None
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if quote:
                if ch == "\\":
                    i += 2
                    continue
                if ch == quote or ch == "\n":
                    quote = None
            elif text.startswith("//", i):
                j = text.find("\n", i)
                if j < 0:
                    return None
                i = j
                continue
            elif ch in "\"'`":
                quote = ch
            elif ch == "{":
                depth += 1
                opened = True
            elif ch == "}":
                depth -= 1
                if opened and depth <= 0:
                    return i + 1
            i += 1
        return None


_CONTINUATIONS = ("else", "elif", "except", "finally", ")", "]", "}")


@dataclass(frozen=True)
class TestEnd:
    """Test generation: stop where the first top-level definition (the test) closes, as tree-sitter sees it.

    Brace languages: the definition is over once it parses with no ERROR/MISSING node (its closing brace
    came). Indentation languages: once a statement that is not a comment starts on a later line at the top
    level (the body dedented). Strings and comments holding braces or dedented lines do not fool it. Text
    whose first line is indented, or a language without a grammar, falls back to ``DefinitionEnd``.
    """

    __test__ = False  # not a pytest test class

    parser: Any
    definitions: frozenset[str]
    fallback: DefinitionEnd
    reason = "end of test"

    def __call__(self, text: str) -> int | None:
        first = next((line for line in text.split("\n") if line.strip()), "")
        if self.parser is None or first[:1] in (" ", "\t"):
            return self.fallback(text)
        data = text.encode("utf-8", errors="surrogatepass")
        nodes = [n for n in self.parser.parse(data).root_node.named_children if "comment" not in n.type]
        for i, node in enumerate(nodes):
            if node.type not in self.definitions:
                continue
            if self.fallback.blocks == "brace":
                closed = not node.has_error and data[:node.end_byte].rstrip().endswith(b"}")
            else:
                closed = any(later.start_point[0] > node.end_point[0] for later in nodes[i + 1:])
            return len(data[:node.end_byte].decode("utf-8", errors="ignore")) if closed else None
        return None


@dataclass(frozen=True)
class RepetitionLoop:
    """Degenerate decoding: the same line(s) again and again, or a short piece repeated inside a line.

    A block of 1–6 lines repeated in a row (a single line 4 times, longer blocks 3 times; blank lines
    ignored) is cut before its second copy. A piece of 2–40 characters (not all one character) repeated at
    least 5 times in a row over 48+ characters of one line cuts at the start of that line.
    """

    max_block: int = 6
    reason = "loop"

    def __call__(self, text: str) -> int | None:
        lines: list[tuple[int, str]] = []  # (offset, stripped) of non-blank lines
        offset = 0
        for raw in text.split("\n"):
            if raw.strip():
                if _inline_loop(raw):
                    return offset
                lines.append((offset, raw.strip()))
            offset += len(raw) + 1
        unfinished = text.rsplit("\n", 1)[-1]
        if unfinished.strip() and lines and lines[-1][0] == len(text) - len(unfinished):
            lines.pop()  # the unfinished last line is not compared yet
        keys = [k for _, k in lines]
        for start in range(len(keys)):
            for size in range(1, self.max_block + 1):
                need = 4 if size == 1 else 3
                if start + need * size > len(keys):
                    break
                unit = keys[start:start + size]
                if all(keys[start + c * size:start + (c + 1) * size] == unit for c in range(1, need)):
                    return lines[start + size][0]
        return None


_INLINE_LOOP = re.compile(r"(.{2,40}?)\1{4,}")


def _inline_loop(line: str) -> bool:
    for match in _INLINE_LOOP.finditer(line):
        unit = match.group(1)
        if len(set(unit)) >= 2 and len(match.group(0)) >= 48:
            return True
    return False


@dataclass(frozen=True)
class AnyOf:
    """The earliest cut of several rules."""

    rules: tuple[StopRule, ...]

    def __call__(self, text: str) -> int | None:
        found = self.explain(text)
        return None if found is None else found[0]

    def explain(self, text: str) -> tuple[int, str] | None:
        """(earliest cut, the reason of the rule that made it), or None."""
        best: tuple[int, str] | None = None
        for rule in self.rules:
            found = explain_stop(rule, text)
            if found is not None and (best is None or found[0] < best[0]):
                best = found
        return best


def explain_stop(rule: StopRule, text: str) -> tuple[int, str] | None:
    """Where ``rule`` cuts ``text`` and why (its ``reason``), or None when it does not cut yet."""
    explain = getattr(rule, "explain", None)
    if explain is not None:
        return explain(text)
    cut = rule(text)
    return None if cut is None else (cut, getattr(rule, "reason", DEFAULT_RULE_REASON))


def any_of(rules: Sequence[StopRule | None]) -> StopRule | None:
    """Combine rules (None entries are skipped); None if there is none."""
    kept = tuple(r for r in rules if r is not None)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else AnyOf(kept)
