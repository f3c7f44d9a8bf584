#!/usr/bin/env python3
"""Mining speed and mapping coverage on real code: the Python stdlib and git repositories.

Each target is mined cold (no parse cache) in a fresh child process (so peak RSS is that run's alone) into a temp
folder;
the table shows files seen/kept, MB read, wall time, CPU time (user+sys of the child and everything it
waited for: worker processes, git), files/s, MB/s, peak RSS, pairs, pairs by heuristic and the share of ALL
test methods (of the mapped languages) that got a focal method.

    python scripts/bench_mine.py                                   # this Python's stdlib (Lib/ + Lib/test/)
    python scripts/bench_mine.py --repo gson=/path/to/gson --repo lang=/path/to/commons-lang
    python scripts/bench_mine.py --no-stdlib --repo gson=/tmp/gson --json out.json

The stdlib is not a git repository, so it goes through the git-free layer (``mine_directory``, the
one ``codecustom pretrain`` uses); repositories go through ``mine`` (blobs from git's object database).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from codecustom.console import Console
from codecustom.mining import mine, mine_directory
kind, target, out, workers = sys.argv[1], sys.argv[2], Path(sys.argv[3]), sys.argv[4]
workers = int(workers) if workers != "auto" else None
t0 = time.perf_counter()
if kind == "dir":
    ds = mine_directory(target, out=out, console=Console(quiet=True), workers=workers,
                        exclude=("site-packages", "idlelib/Icons"), cache=False)
else:
    ds = mine(target, out=out, console=Console(quiet=True), workers=workers, cache=False)
wall = time.perf_counter() - t0
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall_s": wall, "peak_rss_mb": max(own, kids) / 1024, "manifest": str(Path(ds) / "manifest.json")}))
"""


def source_megabytes(kind: str, target: str) -> float:
    """Bytes of source files the miner looks at (tracked files at HEAD for repos)."""
    if kind == "dir":
        return sum(p.stat().st_size for p in Path(target).rglob("*.py") if "site-packages" not in p.parts) / 1e6
    out = subprocess.run(["git", "-C", target, "ls-tree", "-r", "-l", "HEAD"], capture_output=True, text=True,
                         check=True).stdout
    return sum(int(line.split()[3]) for line in out.splitlines() if line.split()[3].isdigit()) / 1e6


def bench(name: str, kind: str, target: str, workers: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-mine-") as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        res = subprocess.run([sys.executable, "-c", CHILD, kind, target, str(Path(tmp) / "ds"), workers],
                             capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if res.returncode != 0:
            raise SystemExit(f"{name}: mining failed:\n{res.stderr[-2000:]}")
        run = json.loads(res.stdout.strip().splitlines()[-1])
        manifest = json.loads(Path(run["manifest"]).read_text())
    counts, extra = manifest["counts"], manifest.get("extra", {})
    mb = source_megabytes(kind, target)
    return {
        "name": name, "files_seen": counts.get("files_seen", 0), "files_kept": counts.get("files_kept", 0),
        "mb": round(mb, 1), "wall_s": round(run["wall_s"], 2), "cpu_s": round(cpu, 2),
        "files_per_s": round(counts.get("files_seen", 0) / run["wall_s"], 1),
        "mb_per_s": round(mb / run["wall_s"], 2), "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "methods": counts.get("methods", 0), "tests": extra.get("tests_mappable", counts.get("tests", 0)),
        "pairs": counts.get("pairs", 0), "tests_mapped": extra.get("tests_mapped", 0),
        "tests_mapped_share": extra.get("tests_mapped_share", 0.0),
        "pairs_by_heuristic": extra.get("pairs_by_heuristic", {}),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stdlib", default=sysconfig.get_paths()["stdlib"], help="stdlib folder (default: this Python's)")
    ap.add_argument("--no-stdlib", action="store_true")
    ap.add_argument("--repo", action="append", default=[], metavar="NAME=PATH", help="a git repository to mine")
    ap.add_argument("--workers", default="auto", help="miner processes (default: all cores)")
    ap.add_argument("--json", type=Path, help="write the rows as JSON here")
    args = ap.parse_args()
    targets = [] if args.no_stdlib else [("stdlib", "dir", args.stdlib)]
    for spec in args.repo:
        name, _, path = spec.partition("=")
        if not path or not Path(path, ".git").exists():
            raise SystemExit(f"--repo wants NAME=PATH of a git checkout, got {spec!r}")
        targets.append((name, "git", path))
    load = os.getloadavg()
    rows = []
    for name, kind, target in targets:
        rows.append(bench(name, kind, target, args.workers))
        r = rows[-1]
        print(f"{r['name']:<14} {r['files_seen']:>6} files ({r['files_kept']} kept) {r['mb']:>6} MB  {r['wall_s']:>6.2f} s  cpu {r['cpu_s']:>6.2f} s"
              f"  {r['files_per_s']:>7.1f} files/s  {r['mb_per_s']:>5.2f} MB/s  peak {r['peak_rss_mb']:.0f} MB  "
              f"pairs {r['pairs']}  tests mapped {r['tests_mapped']}/{r['tests']} ({r['tests_mapped_share']:.1%})",
              flush=True)
        print(f"{'':<14} by heuristic: {json.dumps(r['pairs_by_heuristic'])}", flush=True)
    print(f"cores {os.cpu_count()}, load average before the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "cores": os.cpu_count(), "load": load}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
