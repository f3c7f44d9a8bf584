"""Score a mined dataset's test→focal pairs against hand-labelled gold pairs.

Two label forms are read: the fixtures' gold (``fixtures/gold/pairs.jsonl``: ``test``, ``focal``, ``case``) and
labels of real repositories in the labelling convention of docs/results/mining.md (``test``, ``focal``, ``kind``
unit|protocol|factory|e2e|none, ``note``). Java focal methods are compared by exact overload with generics
erased on both sides (``Pair::of(Map.Entry<L,R>)`` and ``Pair::of(Entry)`` are the same key); a null focal
means the test has no single focal method and must not be mapped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from codecustom.mining.records import MethodRecord, PairRecord, read_jsonl, read_manifest


def java_param_type(param: str) -> str:
    """`final @NonNull List<String> xs` -> `List<String>`; `String... parts` -> `String...`."""
    p = re.sub(r"@[\w.]+(\([^)]*\))?\s*", "", param).replace("final ", "").strip()
    p = re.sub(r"\s*,\s*", ",", p)
    p = re.sub(r"\s*(\.\.\.)\s*", r"\1 ", p)
    head, _, _ = p.rpartition(" ")
    return head.replace(" ", "") if head else p


def method_key(m: MethodRecord) -> str:
    """`<path>::<class>::<name>`, plus `(param types)` for Java (to tell overloads apart)."""
    key = f"{m.path}::{m.class_name or ''}::{m.name}"
    if m.language == "java" and not m.is_test:
        key += "(" + ",".join(java_param_type(p) for p in m.params) + ")"
    return key


_TYPE_VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]?$")


def erase_type(t: str) -> str:
    """A Java parameter type with generics, annotations, `final`, package/outer qualifiers and spaces removed;
    type variables read as `Object` (their erasure): `final Map.Entry<L, R>` -> `Entry`, `T...` -> `Object...`."""
    t = re.sub(r"@[\w.]+(\([^)]*\))?\s*", "", t).replace("final ", "")
    while "<" in t:
        new = re.sub(r"<[^<>]*>", "", t)
        if new == t:
            break
        t = new
    t = "".join(t.split())
    suffix = ""
    while t.endswith(("[]", "...")):
        cut = 2 if t.endswith("[]") else 3
        suffix = t[-cut:] + suffix
        t = t[:-cut]
    t = t.rsplit(".", 1)[-1]
    return ("Object" if _TYPE_VARIABLE.match(t) else t) + suffix


def normalise_key(key: str | None) -> str | None:
    """A label's or a record's method key with Java parameter types erased (see :func:`erase_type`)."""
    if not key or "(" not in key or not key.endswith(")"):
        return key
    head, _, params = key[:-1].partition("(")
    parts, depth, cur = [], 0, ""
    for ch in params:
        depth += 1 if ch == "<" else -1 if ch == ">" else 0
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return head + "(" + ",".join(erase_type(p) for p in parts) + ")"


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95 % by default) of a proportion; (0, 1) when n is 0."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class GoldScore:
    tp: int = 0  # mapped to the labelled focal method
    wrong: int = 0  # mapped, but to another method
    spurious: int = 0  # mapped although the gold says "no single focal method"
    missed: int = 0  # labelled, not mapped
    correct_rejects: int = 0  # gold null, not mapped
    unlabelled: list[str] = field(default_factory=list)  # tests in the dataset the gold does not cover
    misses: list[str] = field(default_factory=list)
    not_found: int = 0  # labelled tests the dataset does not hold at all
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [right, labelled with a focal]

    @property
    def mapped(self) -> int:
        return self.tp + self.wrong + self.spurious

    @property
    def precision(self) -> float:
        return self.tp / self.mapped if self.mapped else 1.0

    @property
    def recall(self) -> float:
        positives = self.tp + self.wrong + self.missed
        return self.tp / positives if positives else 1.0

    @property
    def positives(self) -> int:
        return self.tp + self.wrong + self.missed

    def add(self, other: GoldScore) -> GoldScore:
        kinds = {k: list(v) for k, v in self.by_kind.items()}
        for k, (right, n) in other.by_kind.items():
            cur = kinds.setdefault(k, [0, 0])
            cur[0] += right
            cur[1] += n
        return GoldScore(self.tp + other.tp, self.wrong + other.wrong, self.spurious + other.spurious,
                         self.missed + other.missed, self.correct_rejects + other.correct_rejects,
                         self.unlabelled + other.unlabelled, self.misses + other.misses,
                         self.not_found + other.not_found, kinds)


def load_gold(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def score(dataset: Path, gold: list[dict]) -> GoldScore:
    """Compare one mined dataset with the gold rows of the same repository."""
    dataset = Path(dataset)
    methods = {m.id: m for m in read_jsonl(dataset / "methods.jsonl", MethodRecord)}
    mapped = {p.test_id: p.focal_id for p in read_jsonl(dataset / "pairs.jsonl", PairRecord)}
    # a pair identical to one already written (same test and focal text) is counted, not written again
    for dropped, kept in read_manifest(dataset).extra.get("duplicate_pairs", {}).items():
        if kept in mapped:
            mapped.setdefault(dropped, mapped[kept])
    by_test_key: dict[str, list[MethodRecord]] = {}
    for m in methods.values():
        if m.is_test:
            by_test_key.setdefault(method_key(m), []).append(m)
    s = GoldScore()
    labelled = set()
    for row in gold:
        labelled.add(row["test"])
        same = by_test_key.get(row["test"], [])  # overloaded test methods share a key: the label's line tells them apart
        test = min(same, key=lambda m: abs(m.start_line - row.get("test_line", m.start_line))) if same else None
        want = normalise_key(row["focal"])
        got_id = mapped.get(test.id) if test is not None else None
        got = normalise_key(method_key(methods[got_id])) if got_id in methods else None
        if test is None:
            s.not_found += 1
        if want is not None:
            kind = s.by_kind.setdefault(row.get("kind") or "unit", [0, 0])
            kind[1] += 1
            kind[0] += got == want
        if got is None:
            if want is None:
                s.correct_rejects += 1
            else:
                s.missed += 1
                s.misses.append(f"missed   {row['test']} -> {want}" + ("" if test else " (test not found)"))
        elif want is None:
            s.spurious += 1
            s.misses.append(f"spurious {row['test']} -> {got}")
        elif got == want:
            s.tp += 1
        else:
            s.wrong += 1
            s.misses.append(f"wrong    {row['test']} -> {got} (gold: {want})")
    s.unlabelled = sorted(k for k in by_test_key if k not in labelled)
    return s
