"""`codecustom mine`: methods, tests, test→focal pairs and a completion corpus from a git repository."""

from __future__ import annotations

import argparse

HELP = "mine a git repo: methods, tests, test→focal pairs, completion files"
DESCRIPTION = """\
Mine a git repository (a local path, a folder inside one, or a git URL) at a revision.

Files are read from git's object database at REV, never from the working tree; nothing is written
inside the repository. Writes methods.jsonl, pairs.jsonl, files.jsonl and manifest.json to --out
(default: $CODECUSTOM_HOME/datasets/<project>/<short sha>). Schema: docs/schema.md.

examples:
  codecustom mine . --stats
  codecustom mine ~/src/gson --rev v2.10 --lang java --split time
  codecustom mine https://example.org/team/repo.git --out /tmp/repo-ds --json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("repo", metavar="REPO", help="path to a git repository (or a folder in one), or a git URL")
    p.add_argument("--rev", metavar="REV", help="revision to mine: commit, branch or tag (default: HEAD)")
    p.add_argument("--out", metavar="DIR", help="dataset folder to write (replaced if it holds an earlier dataset)")
    p.add_argument("--lang", metavar="LANG", nargs="+", action="extend",
                   help="languages to mine (python java javascript typescript go; default: all). "
                        "Test→focal pairs: python, java")
    p.add_argument("--split", choices=("file", "time"), default="file",
                   help="file: groups of files never straddle splits (default); time: newest tests go to test")
    p.add_argument("--stats", action="store_true", help="print the summary table (files kept/rejected, pairs, splits)")
    p.add_argument("--workers", type=int, metavar="N", help="parser processes (default: number of CPUs)")
    p.add_argument("--no-cache", action="store_true",
                   help="neither reuse nor keep per-file parse results ($CODECUSTOM_HOME/cache/mining)")


def run(args: argparse.Namespace, console) -> int:
    import os
    import sys
    from pathlib import Path

    if "numpy" not in sys.modules:  # mining never calls BLAS: don't let OpenBLAS start a thread per core on import
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

    from codecustom.errors import UsageError
    from codecustom.mining import mine
    from codecustom.mining.records import read_manifest
    from codecustom.mining.stats import summary_rows

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be at least 1")
    out = mine(args.repo, rev=args.rev, out=Path(args.out) if args.out else None, languages=args.lang,
               split=args.split, console=console, workers=args.workers, cache=not args.no_cache)
    manifest = read_manifest(out)
    c, x = manifest.counts, manifest.extra
    console.info(f"mined {manifest.repo} @ {manifest.revision[:12]}: {c.get('files_kept', 0):,} files kept of "
                 f"{c.get('files_seen', 0):,}, {c.get('methods', 0):,} methods, {c.get('tests', 0):,} tests, "
                 f"{c.get('pairs', 0):,} pairs ({x.get('tests_mapped_share', 0):.0%} of tests mapped) -> {out}")
    if args.stats:
        for title, headers, rows in summary_rows(manifest):
            console.table(rows, headers, title=title)
    from dataclasses import asdict
    console.result({"dataset": str(out), "manifest": asdict(manifest)})
    return 0
