"""Train/valid/test assignment.

``file`` (default): files are joined into groups whenever a test in one exercises a focal method in
another (union-find), and whole groups are assigned, so a focal method, its tests and the files holding
them are always in one split. Groups with pairs are filled into test/valid in a deterministic
hash order until each holds ~10% of the pairs (a group larger than 1.5× that share stays in train);
groups without pairs are assigned by a hash of their path (80/10/10), which keeps them stable.

When that leaves a repository with enough pairs without a test split (its tests live in a few large
files), pairs are split inside files instead: the tests of a class's methods together, a function
outside classes on its own (``by_focal``); a focal method is still never on both sides, and the
manifest's split rule says ``file+focal``.

``time``: pairs are grouped by focal method; a group's time is when its first test appeared in git
history; the newest groups go to test (~10% of pairs), the next to valid, the rest to train. Methods
outside pairs and files follow the time their file first appeared, and any file holding a held-out
pair's test or focal method is held out with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

FRACTIONS = {"valid": 0.1, "test": 0.1}
RANK = {"train": 0, "valid": 1, "test": 2}


def _u(key: str) -> float:
    """A stable number in [0, 1) for a key."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8", "surrogateescape")).digest()[:8], "big") / 2**64


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        p = self.parent.setdefault(x, x)
        while p != self.parent[p]:
            self.parent[p] = self.parent[self.parent[p]]
            p = self.parent[p]
        self.parent[x] = p
        return p

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            if rb < ra:
                ra, rb = rb, ra
            self.parent[rb] = ra


def by_file(pair_files: Iterable[tuple[str, str]]) -> tuple[UnionFind, dict[str, str]]:
    """Split per file group. Returns the groups and the split of every group root that has pairs;
    use :func:`split_of_path` for any path."""
    uf = UnionFind()
    weights: dict[str, int] = {}
    pairs = list(pair_files)
    for test_path, focal_path in pairs:
        uf.union(test_path, focal_path)
    for test_path, _ in pairs:
        root = uf.find(test_path)
        weights[root] = weights.get(root, 0) + 1
    return uf, fill_by_hash(weights)


def fill_by_hash(weights: dict[str, int]) -> dict[str, str]:
    """Assign weighted groups to test/valid in a stable hash order until each holds ~10% of the weight
    (a group over 1.5x that share stays in train); the rest to train."""
    total = sum(weights.values())
    assigned: dict[str, str] = {}
    filled = {"test": 0, "valid": 0}
    for root in sorted(weights, key=lambda r: (_u(r), r)):
        w = weights[root]
        for split in ("test", "valid"):
            target = FRACTIONS[split] * total
            if filled[split] < target and filled[split] + w <= max(1.5 * target, 1):
                assigned[root] = split
                filled[split] += w
                break
        else:
            assigned[root] = "train"
    return assigned


MIN_PAIRS_TO_HOLD_OUT = 10  # below this a repository is too small for a held-out split of its own


def too_few_held_out(pair_splits: Iterable[str]) -> bool:
    """True when a repository with enough pairs got (almost) no test pairs from the file split: its tests
    live in a few large files."""
    got = list(pair_splits)
    return len(got) >= MIN_PAIRS_TO_HOLD_OUT and sum(s == "test" for s in got) < max(2.0, 0.05 * len(got))


def by_focal(focals: Iterable[tuple[str, str | None]]) -> dict[str, str]:
    """Split pairs inside files: ``(focal method id, focal class key or None)`` per pair -> split per focal id.

    The tests of one class's methods stay together; a function outside any class is a group of its own.
    Either way a focal method is never on both sides.
    """
    items = list(focals)
    weights: dict[str, int] = {}
    for focal_id, cls in items:
        weights[cls or focal_id] = weights.get(cls or focal_id, 0) + 1
    assigned = fill_by_hash(weights)
    return {focal_id: assigned[cls or focal_id] for focal_id, cls in items}


def split_of_path(path: str, uf: UnionFind, assigned: dict[str, str]) -> str:
    """A file's split: its group's, or by hash for files outside any pair group."""
    root = uf.find(path) if path in uf.parent else path
    if root in assigned:
        return assigned[root]
    u = _u(root)
    return "test" if u >= 1 - FRACTIONS["test"] else ("valid" if u >= 1 - FRACTIONS["test"] - FRACTIONS["valid"] else "train")


def newest_first(items: dict[str, float], weights: dict[str, int] | None = None) -> dict[str, str]:
    """Assign keys by time: the newest ~10% (by weight) to test, the next ~10% to valid, the rest train."""
    weights = weights or {k: 1 for k in items}
    total = sum(weights.get(k, 1) for k in items)
    out: dict[str, str] = {}
    filled = {"test": 0, "valid": 0}
    order = sorted(items, key=lambda k: (-items[k], k))
    stage = "test"
    last_time: float | None = None
    for k in order:
        w = weights.get(k, 1)
        if stage != "train" and filled[stage] >= FRACTIONS[stage] * total and items[k] != last_time:
            stage = "valid" if stage == "test" else "train"
            if stage == "valid" and filled["valid"] >= FRACTIONS["valid"] * total:
                stage = "train"
        out[k] = stage
        if stage != "train":
            filled[stage] += w
        last_time = items[k]
    return out


def most_held_out(*splits: str) -> str:
    return max(splits, key=lambda s: RANK[s])
