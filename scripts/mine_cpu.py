#!/usr/bin/env python3
"""CPU time of `codecustom mine REPO --workers 1 -q`, cold (no parse cache), one source tree or two alternated; or
cold against incremental after a one-file commit.

Each run is a fresh child process; its CPU is user+sys of the child and of everything it waited for (git),
read from ``resource.getrusage(RUSAGE_CHILDREN)`` as ``methods2test_compare.py`` does. With several trees,
runs alternate between them so that both see the same machine load; the median per tree is printed.

    python scripts/mine_cpu.py /tmp/javarepos/apache+commons-lang
    python scripts/mine_cpu.py --tree /tmp/old-checkout --tree . --runs 5 /tmp/javarepos/google+gson
    python scripts/mine_cpu.py --incremental --runs 3 /tmp/javarepos/apache+commons-lang

--incremental: the repository is cloned into a temp folder and mined once to fill a fresh cache; then, per run, a
one-line comment is inserted in the middle of one non-test source file (the middle one by path) and committed,
and the new commit is mined twice, alternated: incremental (with the cache the earlier runs filled) and cold
(--no-cache, a separate empty home). The two datasets must be byte-identical (manifest timings aside); the
median CPU of each and their ratio are printed.

A tree is a folder holding the ``codecustom`` package (a checkout, or ``git archive REV codecustom`` unpacked);
children run with ``PYTHONPATH=TREE`` from a scratch folder, so the current folder cannot shadow it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COMMENT = {".java": "// one-file commit {n}\n", ".py": "# one-file commit {n}\n", ".go": "// one-file commit {n}\n",
           ".js": "// one-file commit {n}\n", ".ts": "// one-file commit {n}\n"}


def run_once(tree: Path, repo: str, workers: int, scratch: Path, *, lang: str | None = "java", cache: bool = False,
             home: Path | None = None, out: Path | None = None) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = [sys.executable, "-m", "codecustom", "mine", repo, "--workers", str(workers), "-q",
           "--out", str(out or scratch / "ds")]
    cmd += ["--lang", lang] if lang else []
    if not cache and _has_cache(tree):  # a tree from before the cache has no --no-cache (and caches nothing)
        cmd.append("--no-cache")
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode compiled once, not every run
    if home is not None:
        env["CODECUSTOM_HOME"] = str(home)
    subprocess.run(cmd, env=env, cwd=scratch, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _has_cache(tree: Path) -> bool:
    mine_cli = tree / "codecustom" / "cli" / "mine.py"
    return not mine_cli.exists() or "--no-cache" in mine_cli.read_text(encoding="utf-8")


def same_dataset(a: Path, b: Path) -> bool:
    """Byte-identical datasets: every JSONL file, and the manifest without its timings."""
    for name in ("methods.jsonl", "pairs.jsonl", "files.jsonl"):
        if (a / name).read_bytes() != (b / name).read_bytes():
            return False
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    for m in (ma, mb):
        m["extra"].pop("timings_s", None)
    return ma == mb


def _git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.org", GIT_COMMITTER_NAME="bench",
               GIT_COMMITTER_EMAIL="bench@example.org")
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def incremental(tree: Path, repo: str, runs: int, workers: int, lang: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="mine-inc-") as tmp:
        t = Path(tmp)
        clone = t / "repo"
        _git(t, "clone", "-q", "--no-hardlinks", str(Path(repo).resolve()), str(clone))
        exts = tuple(COMMENT) if lang is None else {"java": (".java",), "python": (".py",)}[lang]
        files = sorted(p for p in _git(clone, "ls-files").splitlines()
                       if p.endswith(exts) and "test" not in p.lower())
        target = clone / files[len(files) // 2]
        warm_home, cold_home = t / "home-warm", t / "home-cold"
        first = run_once(tree, str(clone), workers, t, lang=lang, cache=True, home=warm_home, out=t / "first")
        print(f"{Path(repo).name}: touching {files[len(files) // 2]}; first run filling the cache {first:.2f} CPU s")
        warm, cold, identical = [], [], True
        for n in range(runs):
            lines = target.read_text(encoding="utf-8").split("\n")
            lines.insert(len(lines) // 2, COMMENT[target.suffix].format(n=n).rstrip("\n"))
            target.write_text("\n".join(lines), encoding="utf-8")
            _git(clone, "commit", "-q", "-am", f"one-file commit {n}")
            warm.append(run_once(tree, str(clone), workers, t, lang=lang, cache=True, home=warm_home, out=t / "warm"))
            cold.append(run_once(tree, str(clone), workers, t, lang=lang, cache=False, home=cold_home, out=t / "cold"))
            identical &= same_dataset(t / "warm", t / "cold")
        w, c = statistics.median(warm), statistics.median(cold)
        print(f"{Path(repo).name:<24} cold median {c:6.2f} CPU s (runs {' '.join(f'{v:.2f}' for v in cold)})  "
              f"incremental median {w:6.2f} CPU s (runs {' '.join(f'{v:.2f}' for v in warm)})  "
              f"{c / w:.1f}x  byte-identical: {'yes' if identical else 'NO'}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", nargs="+", help="git repositories to mine")
    ap.add_argument("--tree", action="append", type=Path, help="source tree to run (repeatable; default: this checkout)")
    ap.add_argument("--runs", type=int, default=3, help="runs per tree and repo (default 3)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--lang", default="java", help="languages to mine (default java; 'all' for every language)")
    ap.add_argument("--incremental", action="store_true", help="cold against incremental after one-file commits")
    args = ap.parse_args()
    trees = [t.resolve() for t in (args.tree or [Path(__file__).resolve().parents[1]])]
    lang = None if args.lang == "all" else args.lang
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for repo in args.repo:
        if args.incremental:
            incremental(trees[0], repo, args.runs, args.workers, lang)
            continue
        cpu: dict[Path, list[float]] = {t: [] for t in trees}
        for _ in range(args.runs):
            for tree in trees:
                with tempfile.TemporaryDirectory(prefix="mine-cpu-") as tmp:
                    cpu[tree].append(run_once(tree, repo, args.workers, Path(tmp), lang=lang))
        for tree, values in cpu.items():
            print(f"{Path(repo).name:<24} {str(tree):<40} median {statistics.median(values):6.2f} CPU s  "
                  f"runs {' '.join(f'{v:.2f}' for v in values)}", flush=True)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
