#!/usr/bin/env python3
"""Precision and recall of the test -> focal mapping against hand labels.

Without arguments: the fixtures' gold (fixtures/gold/) — builds the fixture repositories into git repos with
their multi-commit histories (in a temp folder), mines them with default options and scores the pairs;
tests/mining/test_gold.py asserts the same numbers meet the aim (precision >= 0.95, recall >= 0.85).

    python scripts/gold_score.py

With --labels: label files of real repositories in the labelling convention of docs/results/mining.md (one JSON
row per test: repo, commit, language, test, test_line, focal, kind, note). Each repository is mined at the
commit its rows name (--repo NAME=PATH, a local clone) or an existing dataset is scored (--dataset NAME=DIR).
Prints per repository and pooled: exact-overload precision and recall with Wilson 95 % intervals, recall per
kind (unit, protocol, factory, e2e), and with -v every miss.

    python scripts/gold_score.py --labels docs/results/mining_dev_labels.jsonl \\
        --repo pyrsistent=/work/ext/repos/pyrsistent --repo gson=/tmp/javarepos/google+gson -v
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codecustom.console import Console  # noqa: E402
from codecustom.mining import mine  # noqa: E402
from codecustom.mining.gold import GoldScore, score, wilson  # noqa: E402

HEADER = (f"{'repo':<16} {'labelled':>8} {'focal':>5} {'mapped':>6} {'right':>5} {'wrong':>5} {'spurious':>8} "
          f"{'missed':>6} {'precision':>22} {'recall':>22}")


def _interval(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"{k / n if n else 1.0:.3f} [{lo:.2f}-{hi:.2f}]"


def _row(name: str, labelled: int, s: GoldScore) -> str:
    return (f"{name:<16} {labelled:>8} {s.positives:>5} {s.mapped:>6} {s.tp:>5} {s.wrong:>5} {s.spurious:>8} "
            f"{s.missed:>6} {_interval(s.tp, s.mapped):>22} {_interval(s.tp, s.positives):>22}")


def _fixtures() -> int:
    from tests.support.fixture_repos import build_fixture_repo, load_gold

    gold = load_gold()
    total = GoldScore()
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="gold-") as tmp:
        for name in ("python_repo", "java_repo"):
            repo = build_fixture_repo(name, Path(tmp) / name)
            dataset = mine(str(repo), out=Path(tmp) / f"{name}-ds", console=Console(quiet=True))
            rows = [g for g in gold if g["repo"] == name]
            s = score(dataset, rows)
            total = total.add(s)
            print(_row(name, len(rows), s))
    print(_row("all", len(gold), total))
    for miss in total.misses:
        print("  ", miss)
    return 0


def _labels(args: argparse.Namespace) -> int:
    rows: dict[str, list[dict]] = defaultdict(list)
    for path in args.labels:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    row = json.loads(line)
                    rows[row["repo"]].append(row)
    datasets = dict(spec.split("=", 1) for spec in args.dataset)
    repos = dict(spec.split("=", 1) for spec in args.repo)
    missing = sorted(set(rows) - set(datasets) - set(repos))
    if missing:
        raise SystemExit(f"no --repo or --dataset for: {', '.join(missing)}")
    total = GoldScore()
    labelled = 0
    lines = []
    with tempfile.TemporaryDirectory(prefix="gold-labels-") as tmp:
        for name in sorted(rows):
            repo_rows = rows[name]
            if name in datasets:
                ds = Path(datasets[name])
            else:
                commits = {r.get("commit") for r in repo_rows} - {None, ""}
                if len(commits) > 1:
                    raise SystemExit(f"{name}: labels name several commits {sorted(commits)}; score one at a time")
                langs = sorted({r["language"] for r in repo_rows})
                ds = mine(repos[name], rev=commits.pop() if commits else None, out=Path(tmp) / name, languages=langs,
                          console=Console(quiet=True))
            s = score(ds, repo_rows)
            total = total.add(s)
            labelled += len(repo_rows)
            lines.append(_row(name, len(repo_rows), s) + (f"  ({s.not_found} labelled tests not found)" if s.not_found else ""))
            if args.verbose:
                lines += [f"    {m}" for m in s.misses]
    print(HEADER)
    print("\n".join(lines))
    print(_row("pooled", labelled, total))
    print("\nrecall by kind: " + ", ".join(f"{k} {right}/{n}" for k, (right, n) in sorted(total.by_kind.items())))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=Path, nargs="+", default=[], help="label files (JSONL) in the labelling convention")
    ap.add_argument("--repo", action="append", default=[], metavar="NAME=PATH", help="mine this clone at the labels' commit")
    ap.add_argument("--dataset", action="append", default=[], metavar="NAME=DIR", help="score an existing mined dataset")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every wrong, spurious and missed test")
    args = ap.parse_args()
    return _labels(args) if args.labels else _fixtures()


if __name__ == "__main__":
    raise SystemExit(main())
