"""CodeBLEU (Ren et al., 2020) on tree-sitter 0.26: n-gram, weighted n-gram, syntax and data-flow match.

``CodeBLEU = a·BLEU + b·weighted BLEU + c·AST match + d·data-flow match`` with weights 0.25 each by
default. Comments (and Python docstrings) are removed before the structural parts. When the references
of a corpus have no data flow at all (e.g. one-line snippets), that component is undefined: it is
reported as ``None`` and the other weights are renormalized, instead of the reference implementation's
silent substitution of 1 for a zero score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from codecustom.evaluation.codebleu import dataflow, ngram, syntax_match
from codecustom.evaluation.codebleu.comments import strip_comments
from codecustom.evaluation.languages import get_language

DEFAULT_WEIGHTS = (0.25, 0.25, 0.25, 0.25)
KEYWORD_WEIGHT = 1.0
OTHER_WEIGHT = 0.2


@dataclass(frozen=True)
class CodeBLEU:
    """The score and its four components (each in [0, 1]; ``dataflow`` may be None, see module doc)."""

    score: float
    ngram: float
    weighted_ngram: float
    syntax: float
    dataflow: float | None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def codebleu(references: Sequence[str], hypotheses: Sequence[str], language: str,
             weights: tuple[float, float, float, float] = DEFAULT_WEIGHTS) -> CodeBLEU:
    """Corpus CodeBLEU of ``hypotheses`` against one reference each."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if len(weights) != 4 or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"CodeBLEU needs four non-negative weights, got {weights}")
    keywords = get_language(language).keywords
    refs = [r.strip() for r in references]
    hyps = [h.strip() for h in hypotheses]
    ref_tokens = [r.split() for r in refs]
    hyp_tokens = [h.split() for h in hyps]
    bleu = ngram.corpus_bleu(ref_tokens, hyp_tokens)
    weighted = ngram.corpus_weighted_ngram(
        ref_tokens, hyp_tokens, lambda t: KEYWORD_WEIGHT if t in keywords else OTHER_WEIGHT)

    clean_refs = [strip_comments(r, language) for r in refs]
    clean_hyps = [strip_comments(h, language) for h in hyps]
    syn_hit = syn_all = flow_hit = flow_all = 0
    for ref, hyp in zip(clean_refs, clean_hyps):
        hit, total = syntax_match.match_counts(ref, hyp, language)
        syn_hit, syn_all = syn_hit + hit, syn_all + total
        hit, total = dataflow.match_counts(ref, hyp, language)
        flow_hit, flow_all = flow_hit + hit, flow_all + total
    syntax = syn_hit / syn_all if syn_all else 0.0
    flow = flow_hit / flow_all if flow_all else None

    parts = [(weights[0], bleu), (weights[1], weighted), (weights[2], syntax), (weights[3], flow)]
    defined = [(w, s) for w, s in parts if s is not None]
    total_weight = sum(w for w, _ in defined)
    score = sum(w * s for w, s in defined) / total_weight if total_weight else 0.0
    return CodeBLEU(score=score, ngram=bleu, weighted_ngram=weighted, syntax=syntax, dataflow=flow)


__all__ = ["CodeBLEU", "DEFAULT_WEIGHTS", "codebleu"]
