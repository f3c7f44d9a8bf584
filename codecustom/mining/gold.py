"""Score a mined dataset's test→focal pairs against hand-labelled gold pairs (fixtures/gold/pairs.jsonl)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from codecustom.mining.records import MethodRecord, PairRecord, read_jsonl


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


@dataclass
class GoldScore:
    tp: int = 0  # mapped to the labelled focal method
    wrong: int = 0  # mapped, but to another method
    spurious: int = 0  # mapped although the gold says "no single focal method"
    missed: int = 0  # labelled, not mapped
    correct_rejects: int = 0  # gold null, not mapped
    unlabelled: list[str] = field(default_factory=list)  # tests in the dataset the gold does not cover
    misses: list[str] = field(default_factory=list)

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

    def add(self, other: GoldScore) -> GoldScore:
        return GoldScore(self.tp + other.tp, self.wrong + other.wrong, self.spurious + other.spurious,
                         self.missed + other.missed, self.correct_rejects + other.correct_rejects,
                         self.unlabelled + other.unlabelled, self.misses + other.misses)


def load_gold(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def score(dataset: Path, gold: list[dict]) -> GoldScore:
    """Compare one mined dataset with the gold rows of the same repository."""
    dataset = Path(dataset)
    methods = {m.id: m for m in read_jsonl(dataset / "methods.jsonl", MethodRecord)}
    mapped = {p.test_id: p.focal_id for p in read_jsonl(dataset / "pairs.jsonl", PairRecord)}
    by_test_key = {method_key(m): m for m in methods.values() if m.is_test}
    s = GoldScore()
    labelled = set()
    for row in gold:
        labelled.add(row["test"])
        test = by_test_key.get(row["test"])
        want = row["focal"]
        got_id = mapped.get(test.id) if test is not None else None
        got = method_key(methods[got_id]) if got_id in methods else None
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
