"""CodeBLEU's syntactic match: the share of the reference's AST subtrees found in the candidate."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from codecustom.evaluation.languages import parse


def subtrees(root: Any) -> Iterator[str]:
    """S-expressions (node types and fields, no token text) of every node that has children."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield str(node)
        stack.extend(child for child in node.children if child.child_count)


def match_counts(reference: str, candidate: str, language: str) -> tuple[int, int]:
    """(reference subtrees also in the candidate, clipped by multiplicity; all reference subtrees)."""
    ref = Counter(subtrees(parse(reference, language).root_node))
    cand = Counter(subtrees(parse(candidate, language).root_node))
    return sum(min(n, cand[s]) for s, n in ref.items()), sum(ref.values())
