"""tree-sitter plumbing: grammars, parsers and the `.scm` queries, loaded once per process."""

from __future__ import annotations

import bisect
import functools
import importlib
from pathlib import Path

from tree_sitter import Language, Node, Parser, Query, QueryCursor

QUERY_DIR = Path(__file__).resolve().parent / "queries"

# grammar name -> (python module, function returning the language pointer)
_GRAMMARS = {
    "python": ("tree_sitter_python", "language"),
    "java": ("tree_sitter_java", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
}


@functools.cache
def grammar(name: str) -> Language:
    """The tree-sitter Language for a grammar name."""
    module, func = _GRAMMARS[name]
    return Language(getattr(importlib.import_module(module), func)())


@functools.cache
def parser(name: str) -> Parser:
    """A parser for a grammar (one per process; parsers are not thread-safe)."""
    return Parser(grammar(name))


@functools.cache
def query(grammar_name: str, query_dir: str, query_name: str) -> Query:
    """Compile ``queries/<query_dir>/<query_name>.scm`` for a grammar."""
    text = (QUERY_DIR / query_dir / f"{query_name}.scm").read_text(encoding="utf-8")
    return Query(grammar(grammar_name), text)


class QuerySet:
    """Several `.scm` files compiled into one query, so a file's tree is traversed once.

    ``run(node)`` returns, per query file name, its matches' capture dicts in match order.
    """

    def __init__(self, grammar_name: str, query_dir: str, names: tuple[str, ...]) -> None:
        texts = [(QUERY_DIR / query_dir / f"{n}.scm").read_text(encoding="utf-8") for n in names]
        self.query = Query(grammar(grammar_name), "\n".join(texts))
        self.owner: list[str] = []
        for name in names:
            self.owner.extend([name] * query(grammar_name, query_dir, name).pattern_count)
        self.names = names

    def run(self, node: Node) -> dict[str, list[dict[str, list[Node]]]]:
        out: dict[str, list[dict[str, list[Node]]]] = {n: [] for n in self.names}
        owner = self.owner
        for idx, caps in QueryCursor(self.query).matches(node):
            out[owner[idx]].append(caps)
        return out


@functools.cache
def query_set(grammar_name: str, query_dir: str, names: tuple[str, ...]) -> QuerySet:
    """A cached :class:`QuerySet`."""
    return QuerySet(grammar_name, query_dir, names)


def matches(q: Query, node: Node) -> list[tuple[int, dict[str, list[Node]]]]:
    """All matches of a query under ``node``."""
    return QueryCursor(q).matches(node)


def captures(q: Query, node: Node) -> dict[str, list[Node]]:
    """Captured nodes by capture name (order not guaranteed; sort by start_byte when it matters)."""
    return QueryCursor(q).captures(node)


def text(node: Node | None, src: bytes) -> str:
    """Source text of a node ('' for None)."""
    if node is None:
        return ""
    return src[node.start_byte:node.end_byte].decode("utf-8", "replace")


class Spans:
    """Innermost-enclosing lookup over nested definition spans sorted by start byte."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        self.starts = [s for s, _ in spans]
        self.spans = spans
        self.parent: list[int] = []
        stack: list[int] = []
        for i, (s, e) in enumerate(spans):
            while stack and spans[stack[-1]][1] <= s:
                stack.pop()
            self.parent.append(stack[-1] if stack else -1)
            stack.append(i)

    def find(self, start: int, end: int) -> int | None:
        """Index of the innermost span containing [start, end), or None."""
        i = bisect.bisect_right(self.starts, start) - 1
        while i >= 0:
            s, e = self.spans[i]
            if s <= start and end <= e:
                return i
            i = self.parent[i]
        return None


def dedent_body(raw: str, col: int) -> str:
    """A definition sliced from its file (first line starts at ``col``) shifted left by ``col`` columns.

    Lines indented less than ``col`` (e.g. a multi-line string at column 0) are left as they are.
    """
    if col <= 0 or "\n" not in raw:
        return raw
    pad = " " * col
    lines = raw.split("\n")
    return "\n".join([lines[0]] + [ln[col:] if ln.startswith(pad) else ln for ln in lines[1:]])
