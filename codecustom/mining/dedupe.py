"""Exact dedupe of methods and files, near-dedupe of files (MinHash over line shingles + LSH).

Signatures are computed in the workers (numpy, deterministic across processes); the main process keeps
only the LSH buckets and one signature per kept file, so memory grows with the number of files, not
their size.
"""

from __future__ import annotations

import hashlib
import operator
import zlib

import numpy as np

NUM_PERM = 64
BANDS, ROWS = 16, 4  # 16 bands of 4 rows: pairs with Jaccard >= ~0.7 collide with high probability
THRESHOLD = 0.85  # estimated Jaccard at or above which a file is a near-duplicate of a kept one
MIN_SHINGLES = 5  # files this small are only deduped exactly

_rng = np.random.default_rng(20220514)
_A = (_rng.integers(1, 2**32 - 1, NUM_PERM, dtype=np.uint64) | np.uint64(1))
_B = _rng.integers(0, 2**32 - 1, NUM_PERM, dtype=np.uint64)
_MASK = np.uint64(0xFFFFFFFF)
_ENCODE = operator.methodcaller("encode", "utf-8", "surrogatepass")


def content_hash(text: str) -> int:
    """A 64-bit hash of whitespace-normalised text (exact dedupe key)."""
    return int.from_bytes(hashlib.blake2b(" ".join(text.split()).encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def minhash(text: str) -> np.ndarray | None:
    """MinHash signature over shingles of two consecutive non-blank lines (whitespace-normalised)."""
    lines = filter(None, map(str.strip, text.split("\n")))
    hashes = list(map(zlib.crc32, map(_ENCODE, lines)))  # C-level loops: this runs on every line mined
    if len(hashes) < MIN_SHINGLES + 1:
        return None
    arr = np.asarray(hashes, dtype=np.uint64)
    shingles = (arr[:-1] * np.uint64(1000003) ^ arr[1:]) & _MASK  # repeats do not change a minimum: no unique()
    sig = ((np.outer(_A, shingles) + _B[:, None]) & _MASK).min(axis=1)
    return sig.astype(np.uint32)


class NearDuplicateIndex:
    """LSH index answering "is this signature a near-duplicate of one already kept?"."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self.buckets: list[dict[bytes, int]] = [{} for _ in range(BANDS)]
        self.signatures: list[np.ndarray] = []

    def seen(self, sig: np.ndarray) -> bool:
        """True if ``sig`` matches a kept file; otherwise remember it and return False."""
        keys = [sig[b * ROWS:(b + 1) * ROWS].tobytes() for b in range(BANDS)]
        checked: set[int] = set()
        for band, key in enumerate(keys):
            j = self.buckets[band].get(key)
            if j is not None and j not in checked:
                checked.add(j)
                if float(np.mean(self.signatures[j] == sig)) >= self.threshold:
                    return True
        idx = len(self.signatures)
        self.signatures.append(sig)
        for band, key in enumerate(keys):
            self.buckets[band].setdefault(key, idx)
        return False
