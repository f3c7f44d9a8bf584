"""Corpus-level n-gram matching for CodeBLEU: plain BLEU and the keyword-weighted variant.

Tokens are whitespace-separated, as in the reference CodeBLEU implementation (Ren et al., 2020), so
scores are comparable with published numbers. Zero-match orders get the "method 1" smoothing
(numerator + 0.1); an order no sentence is long enough to have is left out and the remaining orders are
re-weighted, so identical short snippets still score 1.0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence

EPSILON = 0.1  # method-1 smoothing for zero-match orders
MAX_ORDER = 4


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _combine(numerators: list[float], denominators: list[float], brevity: float) -> float:
    if numerators[0] == 0:
        return 0.0
    orders = [(num, den) for num, den in zip(numerators, denominators) if den > 0]
    if not orders:
        return 0.0
    log_sum = sum(math.log((num if num > 0 else EPSILON) / den) for num, den in orders) / len(orders)
    return brevity * math.exp(log_sum)


def _brevity_penalty(ref_len: int, hyp_len: int) -> float:
    if hyp_len == 0:
        return 0.0
    return 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)


def corpus_bleu(references: Sequence[Sequence[str]], hypotheses: Sequence[Sequence[str]]) -> float:
    """BLEU-4 with clipped n-gram precision (one tokenized reference per hypothesis)."""
    nums = [0.0] * MAX_ORDER
    dens = [0.0] * MAX_ORDER
    ref_len = hyp_len = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        for n in range(1, MAX_ORDER + 1):
            hyp_counts, ref_counts = _ngrams(hyp, n), _ngrams(ref, n)
            nums[n - 1] += sum(min(c, ref_counts[g]) for g, c in hyp_counts.items())
            dens[n - 1] += sum(hyp_counts.values())
        ref_len += len(ref)
        hyp_len += len(hyp)
    return _combine(nums, dens, _brevity_penalty(ref_len, hyp_len))


def corpus_weighted_ngram(references: Sequence[Sequence[str]], hypotheses: Sequence[Sequence[str]],
                          weight: Callable[[str], float]) -> float:
    """CodeBLEU's weighted n-gram match: unigrams weighted by ``weight(token)``, recall against the reference.

    Keywords weigh 1 and other tokens 0.2 in CodeBLEU; as in the reference implementation the match is
    counted against the reference's n-grams (a recall), and only unigrams carry weights.
    """
    nums = [0.0] * MAX_ORDER
    dens = [0.0] * MAX_ORDER
    ref_len = hyp_len = 0
    for ref, hyp in zip(references, hypotheses, strict=True):
        for n in range(1, MAX_ORDER + 1):
            hyp_counts, ref_counts = _ngrams(hyp, n), _ngrams(ref, n)
            w = (lambda g: weight(g[0])) if n == 1 else (lambda g: 1.0)
            nums[n - 1] += sum(min(c, hyp_counts[g]) * w(g) for g, c in ref_counts.items())
            dens[n - 1] += sum(c * w(g) for g, c in ref_counts.items())
        ref_len += len(ref)
        hyp_len += len(hyp)
    return _combine(nums, dens, _brevity_penalty(ref_len, hyp_len))
