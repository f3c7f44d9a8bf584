#!/usr/bin/env python3
"""Precision and recall of the test -> focal mapping on the hand-labelled gold pairs (fixtures/gold/).

Builds the fixture repositories into git repos with their multi-commit histories (in a temp folder),
mines them with default options and scores the pairs against the gold labels; tests/mining/test_gold.py
asserts the same numbers meet the aim (precision >= 0.95, recall >= 0.85).

    python scripts/gold_score.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codecustom.console import Console  # noqa: E402
from codecustom.mining import mine  # noqa: E402
from codecustom.mining.gold import GoldScore, score  # noqa: E402
from tests.support.fixture_repos import build_fixture_repo, load_gold  # noqa: E402


def main() -> int:
    gold = load_gold()
    total = GoldScore()
    print(f"{'repo':<12} {'labelled':>8} {'mapped':>6} {'right':>5} {'wrong':>5} {'spurious':>8} {'missed':>6} "
          f"{'precision':>9} {'recall':>6}")
    with tempfile.TemporaryDirectory(prefix="gold-") as tmp:
        for name in ("python_repo", "java_repo"):
            repo = build_fixture_repo(name, Path(tmp) / name)
            dataset = mine(str(repo), out=Path(tmp) / f"{name}-ds", console=Console(quiet=True))
            rows = [g for g in gold if g["repo"] == name]
            s = score(dataset, rows)
            total = total.add(s)
            print(f"{name:<12} {len(rows):>8} {s.mapped:>6} {s.tp:>5} {s.wrong:>5} {s.spurious:>8} {s.missed:>6} "
                  f"{s.precision:>9.3f} {s.recall:>6.3f}")
    print(f"{'all':<12} {len(gold):>8} {total.mapped:>6} {total.tp:>5} {total.wrong:>5} {total.spurious:>8} "
          f"{total.missed:>6} {total.precision:>9.3f} {total.recall:>6.3f}")
    for miss in total.misses:
        print("  ", miss)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
