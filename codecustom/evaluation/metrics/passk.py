"""The unbiased pass@k estimator (Chen et al., 2021), used for pass@k and build@k."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of ``k`` samples drawn from ``n`` (``c`` correct) is correct.

    ``1 - C(n-c, k) / C(n, k)``, computed as a stable product.
    """
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n} c={c}")
    if k < 1 or k > n:
        raise ValueError(f"need 1 <= k <= n, got n={n} k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(outcomes: Sequence[Sequence[bool]], k: int) -> float:
    """Average pass@k over problems; ``outcomes[i]`` holds the per-sample success flags of problem i."""
    scores = [pass_at_k(len(o), sum(bool(x) for x in o), k) for o in outcomes if len(o) >= k]
    return float(np.mean(scores)) if scores else 0.0
