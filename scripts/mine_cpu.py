#!/usr/bin/env python3
"""CPU time of `codecustom mine REPO --lang java --workers 1 -q`, one source tree or two alternated.

Each run is a fresh child process; its CPU is user+sys of the child and of everything it waited for (git),
read from ``resource.getrusage(RUSAGE_CHILDREN)`` as ``methods2test_compare.py`` does. With several trees,
runs alternate between them so that both see the same machine load; the median per tree is printed.

    python scripts/mine_cpu.py /tmp/javarepos/apache+commons-lang
    python scripts/mine_cpu.py --tree /tmp/old-checkout --tree . --runs 5 /tmp/javarepos/google+gson

A tree is a folder holding the ``codecustom`` package (a checkout, or ``git archive REV codecustom`` unpacked);
children run with ``PYTHONPATH=TREE`` from a scratch folder, so the current folder cannot shadow it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path


def run_once(tree: Path, repo: str, workers: int, scratch: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "codecustom", "mine", repo, "--lang", "java", "--workers", str(workers), "-q",
                    "--out", str(scratch / "ds")], env=dict(os.environ, PYTHONPATH=str(tree)), cwd=scratch, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", nargs="+", help="git repositories to mine")
    ap.add_argument("--tree", action="append", type=Path, help="source tree to run (repeatable; default: this checkout)")
    ap.add_argument("--runs", type=int, default=3, help="runs per tree and repo (default 3)")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    trees = [t.resolve() for t in (args.tree or [Path(__file__).resolve().parents[1]])]
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for repo in args.repo:
        cpu: dict[Path, list[float]] = {t: [] for t in trees}
        for _ in range(args.runs):
            for tree in trees:
                with tempfile.TemporaryDirectory(prefix="mine-cpu-") as tmp:
                    cpu[tree].append(run_once(tree, repo, args.workers, Path(tmp)))
        for tree, values in cpu.items():
            print(f"{Path(repo).name:<24} {str(tree):<40} median {statistics.median(values):6.2f} CPU s  "
                  f"runs {' '.join(f'{v:.2f}' for v in values)}", flush=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
