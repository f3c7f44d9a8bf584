"""Test-generation evaluation on held-out focal methods: text metrics, perplexity and the execution ladder."""

from __future__ import annotations

import hashlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom.evaluation.codebleu import codebleu
from codecustom.evaluation.execution import LadderOutcome, TestTarget, Workspace, get_ladder
from codecustom.evaluation.languages import LANGUAGES
from codecustom.evaluation.metrics import (bleu, edit_similarity, exact_match, mean_pass_at_k, shape_metrics,
                                           stop_breakdown)
from codecustom.evaluation.syntax import is_valid_snippet
from codecustom.mining.records import MethodRecord, PairRecord, read_jsonl

log = logging.getLogger(__name__)


@dataclass
class TestGenExample:
    """One held-out pair with what the model produced and how it fared."""

    __test__ = False

    pair: PairRecord
    context: str
    samples: list[str] = field(default_factory=list)
    outcomes: list[LadderOutcome | None] = field(default_factory=list)
    perplexity: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "test_id": self.pair.test_id, "focal_id": self.pair.focal_id, "language": self.pair.language,
            "reference": self.pair.test, "samples": self.samples, "perplexity": self.perplexity,
            "stop_reasons": [getattr(s, "stop_reason", None) for s in self.samples],
            "exact_match": [exact_match(s, self.pair.test) for s in self.samples],
            "syntax_valid": [is_valid_snippet(s, self.pair.language) for s in self.samples],
            "execution": [o.as_dict() if o is not None else None for o in self.outcomes],
        }


def load_pairs(dataset: Path, split: str = "test", languages: Sequence[str] | None = None,
               limit: int | None = None) -> tuple[list[PairRecord], dict[str, MethodRecord]]:
    """Held-out pairs of ``split`` (languages evaluation knows), and the focal methods they point to."""
    wanted = {lang.lower() for lang in languages} if languages else set(LANGUAGES)
    pairs = [p for p in read_jsonl(dataset / "pairs.jsonl", PairRecord)
             if p.split == split and p.language.lower() in wanted]
    pairs.sort(key=lambda p: p.test_id)
    if limit is not None:
        pairs = spread_over_focals(pairs)[:limit]
    focal_ids = {p.focal_id for p in pairs}
    methods = {m.id: m for m in read_jsonl(dataset / "methods.jsonl", MethodRecord) if m.id in focal_ids}
    return pairs, methods


def spread_over_focals(pairs: Sequence[PairRecord]) -> list[PairRecord]:
    """``pairs`` reordered so that any first N cover as many focal methods as they can: the first test of
    every focal method (focal methods in a stable hash order), then every second test, and so on."""
    groups: dict[str, list[PairRecord]] = defaultdict(list)
    for p in pairs:
        groups[p.focal_id].append(p)
    order = sorted(groups, key=lambda f: (hashlib.sha256(f.encode("utf-8", "surrogatepass")).hexdigest(), f))
    depth = max((len(g) for g in groups.values()), default=0)
    return [groups[f][i] for i in range(depth) for f in order if i < len(groups[f])]


def _rate(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def text_metrics(examples: Sequence[TestGenExample]) -> dict[str, Any]:
    """BLEU / CodeBLEU (corpus, first sample) and per-sample averages of EM, edit similarity, validity."""
    out: dict[str, Any] = {"n_examples": len(examples)}
    if not examples:
        return out
    firsts = [e.samples[0] if e.samples else "" for e in examples]
    refs = [e.pair.test for e in examples]
    out["bleu"] = bleu(firsts, refs)
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(examples):
        by_lang[e.pair.language.lower()].append(i)
    parts: dict[str, dict[str, Any]] = {}
    weighted = 0.0
    for lang, idx in sorted(by_lang.items()):
        score = codebleu([refs[i] for i in idx], [firsts[i] for i in idx], lang)
        parts[lang] = {"n": len(idx), **score.as_dict()}
        weighted += score.score * len(idx)
    out["codebleu"] = weighted / len(examples)
    out["codebleu_by_language"] = parts
    all_samples = [(s, e.pair) for e in examples for s in e.samples]
    out["exact_match"] = _rate([exact_match(s, p.test) for s, p in all_samples])
    out["edit_similarity"] = sum(edit_similarity(s, p.test) for s, p in all_samples) / len(all_samples) \
        if all_samples else None
    out["syntax_valid"] = _rate([is_valid_snippet(s, p.language) for s, p in all_samples])
    out["shape"] = shape_metrics([s for s, _ in all_samples], [p.test for _, p in all_samples])
    reasons = [r for r in (getattr(s, "stop_reason", None) for s, _ in all_samples) if r]
    if reasons:
        out["stopped_by"] = stop_breakdown(reasons)
    return out


def execution_metrics(examples: Sequence[TestGenExample], samples: int) -> dict[str, Any]:
    """Rates over every executed sample plus build@k / pass@k / cover@k (unbiased estimator)."""
    ran = [e for e in examples if e.outcomes and all(o is not None for o in e.outcomes)]
    outcomes = [o for e in ran for o in e.outcomes if o is not None]
    out: dict[str, Any] = {"n_executed": len(ran), "n_samples": len(outcomes)}
    if not outcomes:
        return out
    out["build_rate"] = _rate([o.built for o in outcomes])
    out["pass_rate"] = _rate([o.passed for o in outcomes])
    measured = [o for o in outcomes if o.covered is not None or not o.passed]
    out["cover_rate"] = _rate([bool(o.covered) for o in measured]) if any(
        o.covered is not None for o in outcomes) else None
    out["flaky"] = sum(1 for o in outcomes if o.flaky)
    ks = sorted({1, samples})
    for k in ks:
        out[f"build@{k}"] = mean_pass_at_k([[o.built for o in e.outcomes] for e in ran], k)
        out[f"pass@{k}"] = mean_pass_at_k([[o.passed for o in e.outcomes] for e in ran], k)
        if out["cover_rate"] is not None:
            out[f"cover@{k}"] = mean_pass_at_k([[bool(o.covered) for o in e.outcomes] for e in ran], k)
    stages: dict[str, int] = defaultdict(int)
    for o in outcomes:
        stages["built" if o.built else "not built"] += 1
        if o.built:
            stages["passed" if o.passed else ("flaky" if o.flaky else "failed")] += 1
        if o.passed and o.covered is not None:
            stages["covered" if o.covered else "not covering"] += 1
    out["ladder"] = dict(stages)
    return out


def generate_tests(engine: Any, examples: Sequence[TestGenExample], *, samples: int, temperature: float,
                   batch: int = 16, progress: Callable[[int], None] | None = None) -> None:
    """Fill ``example.samples`` with ``samples`` generations each (grouped by language, in batches)."""
    by_lang: dict[str, list[TestGenExample]] = defaultdict(list)
    for e in examples:
        by_lang[e.pair.language.lower()].append(e)
    for lang, group in by_lang.items():
        for start in range(0, len(group), batch):
            chunk = group[start:start + batch]
            outputs = engine.generate_batch([e.context for e in chunk], language=lang, n=samples,
                                            temperature=temperature)
            for e, got in zip(chunk, outputs):
                e.samples = list(got)
            if progress:
                progress(len(chunk))


def run_ladders(examples: Sequence[TestGenExample], workspace: Workspace, methods: dict[str, MethodRecord],
                ladder_options: dict[str, Any], progress: Callable[[int], None] | None = None,
                shared: dict[tuple[str, str], LadderOutcome] | None = None) -> dict[str, str]:
    """Execute every sample of every example whose language has a usable ladder; returns notes per language.

    ``shared`` caches outcomes by (test id, generated code) across calls: when several models write the
    same test for the same focal method (common with greedy decoding), it runs once.
    """
    ladders: dict[str, Any] = {}
    notes: dict[str, str] = {}
    for e in examples:
        lang = e.pair.language.lower()
        if lang not in ladders:
            ladder = get_ladder(lang, **ladder_options)
            level, why = ladder.availability(workspace) if ladder else ("none", "no execution ladder for this language")
            ladders[lang] = ladder if level == "run" else None
            notes[lang] = f"{level}: {why}"
        ladder = ladders[lang]
        if ladder is None:
            e.outcomes = [None] * len(e.samples)
            continue
        try:
            target = TestTarget.from_records(e.pair, methods.get(e.pair.focal_id))
        except Exception as exc:  # a pair the ladder cannot place is reported, not fatal
            log.warning("cannot execute %s: %s", e.pair.test_id, exc)
            e.outcomes = [None] * len(e.samples)
            continue
        outcomes: list[LadderOutcome | None] = []
        cache = shared if shared is not None else {}
        for sample in e.samples:
            key = (e.pair.test_id, sample)
            if key not in cache:  # identical samples (greedy, repeats, other models) run once
                started = time.monotonic()
                cache[key] = ladder.evaluate(workspace, target, sample)
                log.debug("%s: %s in %.1fs", e.pair.test_id, cache[key].stage, time.monotonic() - started)
            outcomes.append(cache[key])
        e.outcomes = outcomes
        if progress:
            progress(1)
    return notes
