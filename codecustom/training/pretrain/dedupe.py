"""Exact and near-duplicate detection for corpus files.

Exact: sha256 of the text with line endings normalised. Near: Jaccard similarity of the sets of
whitespace-normalised non-empty lines, estimated with a MinHash signature (``NUM_PERM`` permutations)
and found with LSH banding (``BANDS`` x ``ROWS``), then confirmed on the signatures
(``threshold``, default 0.85). Lines rather than word n-grams: code duplicates (vendored copies,
copy-pasted modules, versions of one file) share whole lines, and hashing lines is cheap enough to
run over every file of a site-packages folder in seconds.
"""

from __future__ import annotations

import hashlib
import zlib
from collections import defaultdict

import numpy as np

NUM_PERM = 128
BANDS, ROWS = 16, 8  # candidate pairs from Jaccard ~0.7 up; 0.85-similar pairs are found 99% of the time
MIN_LINES = 5  # files with fewer distinct lines are only deduplicated exactly
_MERSENNE = np.uint64((1 << 61) - 1)
_MAX_HASH = np.uint64((1 << 32) - 1)
_rng = np.random.default_rng(20221114)
_A = _rng.integers(1, (1 << 61) - 1, size=NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, size=NUM_PERM, dtype=np.uint64)


def exact_hash(text: str) -> str:
    """sha256 of the text (callers pass ``\\n`` line endings)."""
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def line_shingles(text: str) -> np.ndarray:
    """32-bit hashes of the distinct whitespace-normalised non-empty lines."""
    lines = {" ".join(line.split()) for line in text.split("\n")}
    lines.discard("")
    return np.fromiter((zlib.crc32(line.encode("utf-8", errors="surrogatepass")) for line in lines),
                       dtype=np.uint64, count=len(lines))


def minhash(text: str) -> np.ndarray | None:
    """The MinHash signature (``NUM_PERM`` uint32 values) or ``None`` for files too short to compare."""
    shingles = line_shingles(text)
    if len(shingles) < MIN_LINES:
        return None
    with np.errstate(over="ignore"):  # the universal hash wraps modulo 2**64 by design
        values = (np.outer(shingles, _A) + _B) % _MERSENNE & _MAX_HASH
    return values.min(axis=0).astype(np.uint32)


def similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures."""
    return float(np.count_nonzero(sig_a == sig_b)) / len(sig_a)


class NearDuplicateIndex:
    """An LSH index of MinHash signatures: add documents, ask whether a new one nearly repeats one."""

    def __init__(self, threshold: float = 0.85) -> None:
        self.threshold = threshold
        self._buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
        self._signatures: list[np.ndarray] = []
        self._keys: list[object] = []

    def __len__(self) -> int:
        return len(self._signatures)

    @staticmethod
    def _bands(signature: np.ndarray) -> list[tuple[int, bytes]]:
        return [(b, signature[b * ROWS:(b + 1) * ROWS].tobytes()) for b in range(BANDS)]

    def add(self, signature: np.ndarray, key: object) -> None:
        """Index ``signature`` under ``key`` (what :meth:`match` returns)."""
        idx = len(self._signatures)
        self._signatures.append(signature)
        self._keys.append(key)
        for band in self._bands(signature):
            self._buckets[band].append(idx)

    def match(self, signature: np.ndarray) -> tuple[object, float] | None:
        """The most similar indexed document at or above the threshold, with its similarity."""
        best: tuple[object, float] | None = None
        seen: set[int] = set()
        for band in self._bands(signature):
            for idx in self._buckets.get(band, ()):
                if idx in seen:
                    continue
                seen.add(idx)
                sim = similarity(signature, self._signatures[idx])
                if sim >= self.threshold and (best is None or sim > best[1]):
                    best = (self._keys[idx], sim)
        return best
