"""CodeBLEU's semantic match: data-flow graphs extracted with tree-sitter, compared after renaming.

A data-flow edge says where a variable's value comes from: ``(name, token index, relation, source
names, source indexes)`` with relation ``comesFrom`` (a use or a declaration) or ``computedFrom``
(an assignment). Branches merge the definitions of every arm; loops are walked twice so values carried
around the loop are seen. Variables are then renamed ``var_0, var_1, ...`` in order of appearance, so
the match ignores naming. The extraction follows the rules of the reference implementation (GraphCodeBERT
/ CodeBLEU), rewritten over one language-neutral walker configured per language; sources are kept in
token order so the result is deterministic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from codecustom.evaluation.languages import parse

Edge = tuple[str, int, str, tuple[str, ...], tuple[int, ...]]
States = dict[str, list[int]]


@dataclass(frozen=True)
class DataflowSpec:
    """Node types that move data, for one grammar."""

    declarations: dict[str, tuple[str, str]]  # node type -> (name field, value field): comesFrom
    assignments: dict[str, tuple[str, str]]  # node type -> (left field, right field): computedFrom
    pairwise_assignment: bool = False  # Python: ``a, b = x, y`` pairs a<-x and b<-y
    updates: frozenset[str] = frozenset()  # ``i++``: the variable is computed from itself
    branches: frozenset[str] = frozenset()  # if statements
    branch_arms: frozenset[str] = frozenset()  # elif / else clauses (walked from the state before the if)
    loops: frozenset[str] = frozenset()  # walked twice
    for_each: dict[str, tuple[str, str, str]] | None = None  # node type -> (target, iterable, body) fields
    counted_for: frozenset[str] = frozenset()  # C-style for: everything, then the part after the init again
    first: frozenset[str] = frozenset()  # children walked before their siblings (comprehension clauses)
    atoms: frozenset[str] = frozenset()  # non-leaf nodes treated as one token (string literals)
    comments: frozenset[str] = frozenset({"comment"})


SPECS: dict[str, DataflowSpec] = {
    "python": DataflowSpec(
        declarations={"default_parameter": ("name", "value"), "typed_default_parameter": ("name", "value")},
        assignments={"assignment": ("left", "right"), "augmented_assignment": ("left", "right"),
                     "for_in_clause": ("left", "right")},
        pairwise_assignment=True,
        branches=frozenset({"if_statement"}), branch_arms=frozenset({"elif_clause", "else_clause"}),
        loops=frozenset({"while_statement"}),
        for_each={"for_statement": ("left", "right", "body")},
        first=frozenset({"for_in_clause"}),
        atoms=frozenset({"string", "concatenated_string"}),
    ),
    "java": DataflowSpec(
        declarations={"variable_declarator": ("name", "value")},
        assignments={"assignment_expression": ("left", "right")},
        updates=frozenset({"update_expression"}),
        branches=frozenset({"if_statement"}),
        loops=frozenset({"while_statement", "do_statement"}),
        for_each={"enhanced_for_statement": ("name", "value", "body")},
        counted_for=frozenset({"for_statement"}),
        atoms=frozenset({"string_literal", "character_literal"}),
        comments=frozenset({"line_comment", "block_comment"}),
    ),
}


_SEQUENCES = frozenset({"pattern_list", "tuple_pattern", "list_pattern", "expression_list", "tuple", "list"})


class _Walker:
    def __init__(self, spec: DataflowSpec, code: bytes) -> None:
        self.spec = spec
        self.code = code
        self.index: dict[tuple[int, int], int] = {}

    def is_token(self, node: Any) -> bool:
        return (node.child_count == 0 or node.type in self.spec.atoms) and node.type not in self.spec.comments

    def text(self, node: Any) -> str:
        return self.code[node.start_byte:node.end_byte].decode("utf-8", errors="replace")

    def number_tokens(self, root: Any) -> None:
        stack = [root]
        tokens = []
        while stack:
            node = stack.pop()
            if self.is_token(node):
                tokens.append((node.start_byte, node.end_byte))
            elif node.type not in self.spec.comments:
                stack.extend(reversed(node.children))
        self.index = {span: i for i, span in enumerate(tokens)}

    def variables(self, node: Any | None) -> list[tuple[str, int]]:
        """Tokens under ``node`` that are not keywords/punctuation, as (text, index), in order."""
        if node is None:
            return []
        if self.is_token(node):
            text = self.text(node)
            idx = self.index.get((node.start_byte, node.end_byte))
            return [] if text == node.type or idx is None else [(text, idx)]
        out: list[tuple[str, int]] = []
        for child in node.children:
            out += self.variables(child)
        return out

    def walk(self, node: Any | None, states: States) -> tuple[list[Edge], States]:
        if node is None:
            return [], states
        spec = self.spec
        states = dict(states)
        if self.is_token(node):
            return self.token(node, states)
        kind = node.type
        if kind in spec.declarations:
            return self.declaration(node, states, *spec.declarations[kind])
        if kind in spec.assignments:
            return self.assignment(node, states, *spec.assignments[kind])
        if kind in spec.updates:
            names = self.variables(node)
            edges = [(n, i, "computedFrom", tuple(x for x, _ in names), tuple(j for _, j in names)) for n, i in names]
            for n, i in names:
                states[n] = [i]
            return edges, states
        if kind in spec.branches:
            return self.branch(node, states)
        if kind in spec.loops:
            edges: list[Edge] = []
            for _ in range(2):
                for child in node.children:
                    more, states = self.walk(child, states)
                    edges += more
            return _merge_same(edges), states
        if spec.for_each and kind in spec.for_each:
            return self.for_each(node, states, *spec.for_each[kind])
        if kind in spec.counted_for:
            edges = []
            for child in node.children:
                more, states = self.walk(child, states)
                edges += more
            init_at = next((i for i in range(node.child_count) if node.field_name_for_child(i) == "init"), None)
            if init_at is not None:  # the second trip round the loop starts after the initializer
                for child in node.children[init_at + 1:]:
                    more, states = self.walk(child, states)
                    edges += more
            return _merge_same(edges), states
        edges = []
        ordered = [c for c in node.children if c.type in spec.first] + [c for c in node.children if c.type not in spec.first]
        for child in ordered:
            more, states = self.walk(child, states)
            edges += more
        return edges, states

    def token(self, node: Any, states: States) -> tuple[list[Edge], States]:
        text = self.text(node)
        if text == node.type:  # keyword or punctuation
            return [], states
        idx = self.index.get((node.start_byte, node.end_byte))
        if idx is None:  # part of a token the numbering treated as one (cannot happen for well-formed specs)
            return [], states
        if text in states:
            return [(text, idx, "comesFrom", (text,), tuple(states[text]))], states
        if node.type == "identifier":
            states[text] = [idx]
        return [(text, idx, "comesFrom", (), ())], states

    def declaration(self, node: Any, states: States, name_field: str, value_field: str) -> tuple[list[Edge], States]:
        name, value = node.child_by_field_name(name_field), node.child_by_field_name(value_field)
        edges: list[Edge] = []
        if value is not None:
            edges, states = self.walk(value, states)
        sources = self.variables(value)
        for n, i in self.variables(name):
            edges += [(n, i, "comesFrom", (s,), (j,)) for s, j in sources] or [(n, i, "comesFrom", (), ())]
            states[n] = [i]
        return edges, states

    def assignment(self, node: Any, states: States, left_field: str, right_field: str) -> tuple[list[Edge], States]:
        left, right = node.child_by_field_name(left_field), node.child_by_field_name(right_field)
        if right is None or left is None:
            return [], states
        pairs = [(left, right)]
        if self.spec.pairwise_assignment and left.type in _SEQUENCES and right.type in _SEQUENCES:
            lefts = [c for c in left.named_children]
            rights = [c for c in right.named_children]
            if lefts and len(lefts) == len(rights):
                pairs = list(zip(lefts, rights))
        edges: list[Edge] = []
        for _, r in pairs:
            more, states = self.walk(r, states)
            edges += more
        for l_node, r_node in pairs:
            sources = self.variables(r_node)
            for n, i in self.variables(l_node):
                edges.append((n, i, "computedFrom", tuple(s for s, _ in sources), tuple(j for _, j in sources)))
                states[n] = [i]
        return edges, states

    def branch(self, node: Any, states: States) -> tuple[list[Edge], States]:
        edges: list[Edge] = []
        current = dict(states)
        arms: list[States] = []
        has_else = False
        in_else = False
        for child in node.children:
            if "else" in child.type:
                has_else = True
            if child.type in self.spec.branch_arms or in_else:
                more, arm_states = self.walk(child, states)
                arms.append(arm_states)
            else:
                more, current = self.walk(child, current)
            edges += more
            if child.type == "else":  # Java: everything after the keyword is the else arm
                in_else = True
        arms.append(current)
        if not has_else:
            arms.append(states)
        merged: States = {}
        for arm in arms:
            for name, idxs in arm.items():
                merged.setdefault(name, []).extend(idxs)
        return edges, {k: sorted(set(v)) for k, v in merged.items()}

    def for_each(self, node: Any, states: States, target_field: str, iter_field: str,
                 body_field: str) -> tuple[list[Edge], States]:
        target, iterable = node.child_by_field_name(target_field), node.child_by_field_name(iter_field)
        body = node.child_by_field_name(body_field)
        edges: list[Edge] = []
        for _ in range(2):
            more, states = self.walk(iterable, states)
            edges += more
            sources = self.variables(iterable)
            for n, i in self.variables(target):
                edges.append((n, i, "computedFrom", tuple(s for s, _ in sources), tuple(j for _, j in sources)))
                states[n] = [i]
            more, states = self.walk(body, states)
            edges += more
        return _merge_same(edges), states


def _union(edges: list[Edge]) -> list[Edge]:
    """One edge per (name, index, relation): source names in first-seen order, source indexes sorted.

    Names and indexes are separate lists (a use of ``x`` has one name and every index that may define it).
    """
    merged: dict[tuple[str, int, str], tuple[dict[str, None], set[int]]] = {}
    for name, idx, rel, names, idxs in sorted(edges, key=lambda e: e[1]):
        seen_names, seen_idxs = merged.setdefault((name, idx, rel), ({}, set()))
        seen_names.update(dict.fromkeys(names))
        seen_idxs.update(idxs)
    return [(n, i, r, tuple(names), tuple(sorted(idxs)))
            for (n, i, r), (names, idxs) in sorted(merged.items(), key=lambda kv: kv[0][1])]


_merge_same = _union  # loops walked twice: merge the two passes


def data_flow(code: str, language: str) -> list[Edge]:
    """The data-flow edges of ``code``: only variables that flow somewhere, one edge per token."""
    spec = SPECS.get(language)
    if spec is None:
        return []
    data = code.encode("utf-8")
    root = parse(code, language).root_node
    walker = _Walker(spec, data)
    walker.number_tokens(root)
    try:
        edges, _ = walker.walk(root, {})
    except RecursionError:  # pathologically deep code: no data flow rather than a crash
        return []
    linked = {e[1] for e in edges if e[4]} | {i for e in edges for i in e[4]}
    kept = [e for e in edges if e[1] in linked]
    # a token may carry edges of several kinds (e.g. a loop variable); keep one per token, as the reference does
    by_token: dict[int, Edge] = {}
    for edge in _union(kept):
        if edge[1] in by_token:
            first = by_token[edge[1]]
            edge = (first[0], first[1], first[2], tuple(dict.fromkeys(first[3] + edge[3])),
                    tuple(sorted(set(first[4]) | set(edge[4]))))
        by_token[edge[1]] = edge
    return [by_token[i] for i in sorted(by_token)]


def normalize(edges: list[Edge]) -> list[tuple[str, str, tuple[str, ...]]]:
    """Rename variables ``var_0, var_1, ...`` in order of appearance; drop token positions."""
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        return names.setdefault(name, f"var_{len(names)}")

    out = []
    for name, _, rel, sources, _ in edges:
        renamed_sources = tuple(rename(s) for s in sources)
        out.append((rename(name), rel, renamed_sources))
    return out


def match_counts(reference: str, candidate: str, language: str) -> tuple[int, int]:
    """(reference data-flow edges also in the candidate, clipped by multiplicity; all reference edges)."""
    ref = Counter(normalize(data_flow(reference, language)))
    cand = Counter(normalize(data_flow(candidate, language)))
    return sum(min(n, cand[e]) for e, n in ref.items()), sum(ref.values())
