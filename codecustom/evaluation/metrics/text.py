"""Text-overlap metrics: BLEU (sacrebleu), exact match and edit similarity.

All scores are in [0, 1] (sacrebleu's 0..100 BLEU is divided by 100) so every quality column of a
report shares one scale.
"""

from __future__ import annotations

from collections.abc import Sequence


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU of ``hypotheses`` against one reference each (sacrebleu, 13a tokenization)."""
    import sacrebleu

    _check_lengths(hypotheses, references)
    if not hypotheses:
        return 0.0
    return sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score / 100.0


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """Smoothed sentence BLEU (sacrebleu's default exp smoothing) in [0, 1]."""
    import sacrebleu

    return sacrebleu.sentence_bleu(hypothesis, [reference]).score / 100.0


def exact_match(hypothesis: str, reference: str) -> bool:
    """Equal up to whitespace (the token sequences split on whitespace are identical)."""
    return hypothesis.split() == reference.split()


def levenshtein(a: str, b: str) -> int:
    """Levenshtein distance (unit costs), Myers/Hyyrö bit-parallel: O(len(a)·len(b)/word) time."""
    if a == b:
        return 0
    if len(a) < len(b):
        a, b = b, a  # b is the pattern held in the bit vectors: the shorter one
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    high = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def edit_similarity(hypothesis: str, reference: str) -> float:
    """1 - Levenshtein(h, r) / max(len(h), len(r)); 1.0 for two empty strings."""
    longest = max(len(hypothesis), len(reference))
    if longest == 0:
        return 1.0
    return 1.0 - levenshtein(hypothesis, reference) / longest


def _check_lengths(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
