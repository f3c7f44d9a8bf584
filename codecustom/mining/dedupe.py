"""Exact dedupe of methods and files, near-dedupe of files (MinHash over line shingles + LSH).

Signatures are computed in the workers (numpy, deterministic across processes); the main process keeps
only the LSH buckets and one signature per kept file, so memory grows with the number of files, not
their size.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import sys
import zlib
from array import array

NUM_PERM = 64
BANDS, ROWS = 16, 4  # 16 bands of 4 rows: pairs with Jaccard >= ~0.7 collide with high probability
THRESHOLD = 0.85  # estimated Jaccard at or above which a file is a near-duplicate of a kept one
MIN_SHINGLES = 5  # files this small are only deduped exactly
_ENCODE = operator.methodcaller("encode", "utf-8", "surrogatepass")


# The MinHash permutations: numpy.random.default_rng(20220514).integers(1, 2**32 - 1, 64, uint64) | 1 and
# .integers(0, 2**32 - 1, 64, uint64), drawn once and written out (tests/mining/test_filters.py checks them), so
# that a run which hashes only a few small files needs no numpy at all.
_A = (
    2232738523, 2620358037, 1261473221, 3740456549, 2210622395, 3242277235, 3379675239, 1918818903, 2328866129,
    2243283081, 2030770371, 972577111, 1831567949, 4004680213, 225216335, 128617109, 1843328189, 1050762437,
    4065725097, 2668243757, 2382603905, 3286832039, 2326676991, 288686375, 645893603, 3849482857, 2757159927,
    2014102465, 1117261713, 928269989, 2371592769, 35026235, 2044863445, 1311931157, 3485053621, 4005157843,
    214434771, 3653532699, 3836961267, 3112509947, 3706735823, 616336401, 633770881, 1431585035, 377952525,
    827198487, 4156667475, 3873312935, 1977455467, 946389177, 2695263245, 4103668965, 1775213093, 649825965,
    413739663, 2315828397, 2188592463, 567394813, 1094970239, 78235823, 2965494691, 3462545773, 3989549369,
    1917335587,
)
_B = (
    3052998544, 4001580555, 1280680198, 1761660743, 578901544, 3255473776, 3080579845, 3308713370, 3270462108,
    1736966066, 1644965276, 4011947228, 654999523, 500760080, 2624112915, 869983960, 4108074208, 1793117946,
    3395502678, 4093324333, 2229983714, 120905975, 1376029959, 521123887, 33438900, 2991465737, 3707667736,
    3233665176, 2574004657, 3589429483, 3768554667, 3456331103, 3490337181, 4088367359, 1705034468, 2049320581,
    98233954, 1599519060, 1729434300, 1423808053, 3566294304, 2682642362, 904568018, 644723588, 2079797162,
    472116430, 1195533132, 1636194976, 1680965053, 571085984, 249796813, 2278942385, 1145660016, 467635974,
    3772353675, 2994366235, 1269888798, 2511586317, 2011771227, 3128110798, 596339969, 2159850037, 1594973485,
    1947472350,
)
_MASK = 0xFFFFFFFF
_SMALL = 20_000  # shingles x permutations of one file above which numpy is always used
# Pure Python does ~20 M shingle x permutation steps a second, numpy's import costs ~0.05 s: files are hashed in
# pure Python only until this many steps were spent (a small repository never imports numpy; a large one pays
# the import once instead of hashing hundreds of small files slowly)
_PURE_BUDGET = [600_000]


@functools.cache
def _numpy_permutations():
    # uint32 arithmetic wraps modulo 2**32: exactly the low 32 bits the uint64 products keep after the mask, with
    # half the memory traffic
    import numpy as np
    return np, np.asarray(_A, dtype=np.uint32), np.asarray(_B, dtype=np.uint32), np.uint32(1000003)


def content_hash(text: str) -> int:
    """A 64-bit hash of whitespace-normalised text (exact dedupe key)."""
    return int.from_bytes(hashlib.blake2b(" ".join(text.split()).encode("utf-8", "surrogatepass"), digest_size=8).digest(), "big")


def minhash(text: str) -> bytes | None:
    """MinHash signature over shingles of two consecutive non-blank lines (whitespace-normalised), as NUM_PERM
    little-endian uint32 values."""
    lines = filter(None, map(str.strip, text.split("\n")))
    hashes = list(map(zlib.crc32, map(_ENCODE, lines)))  # C-level loops: this runs on every line mined
    if len(hashes) < MIN_SHINGLES + 1:
        return None
    steps = (len(hashes) - 1) * NUM_PERM
    if steps < _SMALL and steps <= _PURE_BUDGET[0] and "numpy" not in sys.modules:
        _PURE_BUDGET[0] -= steps
        # the same arithmetic in Python (only the low 32 bits of each uint64 product survive the mask)
        shingles = {((x * 1000003) ^ y) & _MASK for x, y in zip(hashes, hashes[1:])}
        return array("I", [min((a * s + b) & _MASK for s in shingles) for a, b in zip(_A, _B)]).tobytes()
    np, a, b, prime = _numpy_permutations()
    arr = np.asarray(hashes, dtype=np.uint32)
    shingles = arr[:-1] * prime ^ arr[1:]  # repeats do not change a minimum: no unique()
    sig = (np.multiply.outer(a, shingles) + b[:, None]).min(axis=1)
    return sig.astype("<u4").tobytes()


class NearDuplicateIndex:
    """LSH index answering "is this signature a near-duplicate of one already kept?"."""

    def __init__(self, threshold: float = THRESHOLD) -> None:
        self.threshold = threshold
        self.buckets: list[dict[bytes, int]] = [{} for _ in range(BANDS)]
        self.signatures: list[memoryview] = []

    def seen(self, sig: bytes) -> bool:
        """True if ``sig`` matches a kept file; otherwise remember it and return False."""
        width = 4 * ROWS
        keys = [sig[b * width:(b + 1) * width] for b in range(BANDS)]
        values = memoryview(sig).cast("I")
        checked: set[int] = set()
        for band, key in enumerate(keys):
            j = self.buckets[band].get(key)
            if j is not None and j not in checked:
                checked.add(j)
                same = sum(map(operator.eq, self.signatures[j], values))
                if same / NUM_PERM >= self.threshold:
                    return True
        idx = len(self.signatures)
        self.signatures.append(values)
        for band, key in enumerate(keys):
            self.buckets[band].setdefault(key, idx)
        return False
