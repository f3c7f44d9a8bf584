#!/usr/bin/env python3
"""Run methods2test's released mapping script next to `codecustom mine` on the same Java repositories.

methods2test (microsoft/methods2test, scripts/find_map_test_cases.py + TestParser.py) needs py-tree-sitter
0.20.x, so it runs in its own virtual environment; this script only drives it and reads its JSON output.
It is run twice: unmodified, and with its one path bug fixed (`/src/test/` never matches single-module
layouts, whose paths start with `src/test/`). The fix is the only change, applied to a temporary copy.

For each repository it prints: all JUnit test methods (our extractor's count: @Test, @ParameterizedTest,
@RepeatedTest, @TestFactory, @TestTemplate, JUnit 3 test*), how many each tool maps (share of all tests),
and CPU/wall time (with --runs N: N runs of each tool, alternated so that all see the same machine load, medians
printed, every run's CPU listed, with the load average); it writes a deterministic random sample of each tool's pairs for checking by hand, and
with --labels computes exact-overload precision from those hand labels.

    python scripts/methods2test_compare.py --m2t-scripts /tmp/m2t/scripts --m2t-python /tmp/m2t_venv/bin/python \\
        --grammar /tmp/m2t/java-grammar.so --repo gson=/tmp/repos/gson --repo lang=/tmp/repos/commons-lang \\
        --sample 20 --out /tmp/m2t-compare [--runs 3] [--labels docs/results/mining_overload_labels.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BUGGY = 'tests_norm = test.lower().replace("/src/test/", "/src/main/")'
FIXED = 'tests_norm = ("/" + test.lower()).replace("/src/test/", "/src/main/")[1:]'


def timed(cmd: list[str], **kw) -> tuple[float, float, subprocess.CompletedProcess]:
    """(wall seconds, CPU seconds of the child, result)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return wall, cpu, res


def run_m2t(scripts: Path, python: str, grammar: str, repo: Path, name: str, out: Path, fixed: bool) -> dict:
    work = out / ("m2t_fixed" if fixed else "m2t") / name
    shutil.rmtree(work, ignore_errors=True)
    code = work / "code"
    code.mkdir(parents=True)
    for f in ("find_map_test_cases.py", "TestParser.py"):
        shutil.copy(scripts / f, code / f)
    if fixed:
        src = (code / "find_map_test_cases.py").read_text()
        assert src.count(BUGGY) == 1, "methods2test script changed: the path line was not found"
        (code / "find_map_test_cases.py").write_text(src.replace(BUGGY, FIXED))
    wall, cpu, res = timed([python, "find_map_test_cases.py", "--repo_url", str(repo), "--repo_id", name,
                            "--grammar", grammar, "--tmp", str(work / "tmp"), "--output", str(work / "out")], cwd=code)
    pairs = [json.loads(p.read_text()) for p in sorted((work / "out" / name).glob(f"{name}_*.json"))]
    stats = {k.strip(): int(v) for k, v in (line.split(":") for line in res.stdout.splitlines() if line.count(":") == 1
                                             and line.split(":")[1].strip().isdigit())}
    return {"wall_s": wall, "cpu_s": cpu, "pairs": pairs, "stats": stats}


def run_ours(repo: Path, name: str, out: Path, workers: int | None) -> dict:
    ds = out / ("ours" if workers is None else f"ours_w{workers}") / name
    cmd = [sys.executable, "-m", "codecustom", "mine", str(repo), "--lang", "java", "--out", str(ds), "-q", "--no-cache"]
    if workers:
        cmd += ["--workers", str(workers)]
    wall, cpu, _ = timed(cmd)
    manifest = json.loads((ds / "manifest.json").read_text())
    pairs = [json.loads(line) for line in open(ds / "pairs.jsonl", encoding="utf-8")]
    return {"wall_s": wall, "cpu_s": cpu, "pairs": pairs, "manifest": manifest, "dataset": ds}


def short_focal(cls: str, signature: str) -> str:
    """`Class.name(T1,T2)` from a declaration: names and types only (labels files hold no source)."""
    m = re.search(r"(\w+)\s*\((.*)\)", signature, re.S)
    if not m:
        return f"{cls}.{signature}"
    depth, parts, cur = 0, [], ""
    for ch in m.group(2):
        depth += ch in "<(" and 1 or (-1 if ch in ">)" else 0)
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    types = []
    for p in parts:
        p = " ".join(re.sub(r"@\w+\s*", "", p).replace("final ", "").split())
        types.append((p.rsplit(" ", 1)[0] if " " in p else p).replace(" ", ""))
    return f"{cls}.{m.group(1)}({','.join(types)})"


def sample_rows(tool: str, repo_name: str, pairs: list[dict], n: int, seed: int) -> list[dict]:
    rng = random.Random(f"{seed}:{repo_name}:{tool}")
    picked = rng.sample(pairs, min(n, len(pairs)))
    rows = []
    for p in picked:
        if tool == "ours":
            rows.append({"repo": repo_name, "tool": tool,
                         "test": f"{p['test_path']}::{p['test_class']}::{p['test_id'].rsplit('::', 1)[1].split('@')[0]}",
                         "focal": short_focal(p["focal_class"] or p["focal_path"], p["focal_signature"]),
                         "focal_declaration": p["focal_signature"], "heuristic": p["heuristic"],
                         "test_source": p["test"], "verdict": None})
        else:
            fm = p["focal_method"]
            rows.append({"repo": repo_name, "tool": tool,
                         "test": f"{p['test_class']['file']}::{p['test_class']['identifier']}::{p['test_case']['identifier']}",
                         "focal": short_focal(p["focal_class"]["identifier"], fm["full_signature"]),
                         "focal_declaration": fm["full_signature"].strip(),
                         "heuristic": "name" if p["test_case"]["identifier"].lower().replace("test", "") == fm["identifier"].lower()
                         else "unique_call", "test_source": p["test_case"]["body"], "verdict": None})
    return rows


def _median_run(results: list[dict]) -> dict:
    """The last run's pairs and manifest with the median CPU and wall time of all runs."""
    out = dict(results[-1])
    out["cpu_s"] = statistics.median(r["cpu_s"] for r in results)
    out["wall_s"] = statistics.median(r["wall_s"] for r in results)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--m2t-scripts", type=Path, required=True, help="methods2test's scripts/ folder")
    ap.add_argument("--m2t-python", required=True, help="python of a venv with tree-sitter==0.20.4 and tqdm")
    ap.add_argument("--grammar", required=True, help="Java grammar .so built with that tree-sitter")
    ap.add_argument("--repo", action="append", required=True, metavar="NAME=PATH", help="a Java repo (local clone)")
    ap.add_argument("--sample", type=int, default=20, help="pairs per tool and repo to check by hand")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--labels", type=Path, help="hand labels (JSONL rows with verdict yes/no) to score")
    ap.add_argument("--out", type=Path, default=Path("/tmp/m2t-compare"))
    ap.add_argument("--runs", type=int, default=1, help="runs of each tool, alternated; CPU and wall are medians")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    labels = {}
    if args.labels and args.labels.exists():
        for line in open(args.labels, encoding="utf-8"):
            if line.strip():
                r = json.loads(line)
                labels[(r["repo"], r["tool"], r["test"])] = r["verdict"]
    table = []
    samples = []
    cpu_lists: dict[str, dict[str, list[float]]] = {}
    load_before = os.getloadavg()
    for spec in args.repo:
        name, _, path = spec.partition("=")
        repo = Path(path).resolve()
        runs: dict[str, list[dict]] = {"m2t": [], "m2tf": [], "ours1": [], "ours": []}
        for _ in range(max(1, args.runs)):  # alternated, so that every tool sees the same machine load
            runs["m2t"].append(run_m2t(args.m2t_scripts, args.m2t_python, args.grammar, repo, name, args.out, fixed=False))
            runs["m2tf"].append(run_m2t(args.m2t_scripts, args.m2t_python, args.grammar, repo, name, args.out, fixed=True))
            runs["ours1"].append(run_ours(repo, name, args.out, workers=1))
            runs["ours"].append(run_ours(repo, name, args.out, workers=None))
        m2t, m2tf, ours1, ours = (_median_run(runs[k]) for k in ("m2t", "m2tf", "ours1", "ours"))
        cpu_lists[name] = {k: [round(r["cpu_s"], 2) for r in v] for k, v in runs.items()}
        all_tests = ours["manifest"]["extra"]["tests_mappable"]
        files = ours["manifest"]["counts"]["files_seen"]
        for tool, res in (("methods2test (released)", m2t), ("methods2test (path fixed)", m2tf)):
            mapped = len({(p["test_class"]["file"], p["test_case"]["identifier"]) for p in res["pairs"]})
            table.append([name, files, tool, all_tests, mapped, mapped / all_tests if all_tests else 0.0,
                          res["cpu_s"], res["wall_s"]])
        for tool, res in (("codecustom (1 worker)", ours1), ("codecustom (default)", ours)):
            mapped = res["manifest"]["extra"]["tests_mapped"]
            table.append([name, files, tool, all_tests, mapped, mapped / all_tests if all_tests else 0.0,
                          res["cpu_s"], res["wall_s"]])
        samples += sample_rows("m2t_fixed", name, m2tf["pairs"], args.sample, args.seed)
        samples += sample_rows("ours", name, ours["pairs"], args.sample, args.seed)
    print("| repo | files | tool | JUnit tests | mapped | share | CPU s | wall s |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for r in table:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]:.1%} | {r[6]:.2f} | {r[7]:.2f} |")
    print(f"\nload average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (1 min); {args.runs} run(s) each, "
          "alternated, medians")
    for name, lists in cpu_lists.items():
        print(f"CPU s per run, {name}: " + "; ".join(f"{k} {v}" for k, v in lists.items()))
    sample_path = args.out / "overload_sample.jsonl"
    with open(sample_path, "w", encoding="utf-8") as fh:
        for row in samples:
            fh.write(json.dumps(row) + "\n")
    print(f"\nsample for hand checking: {sample_path} ({len(samples)} rows)")
    if labels:
        print("\n| repo | tool | checked | exact focal method | precision |")
        print("|---|---|---:|---:|---:|")
        keys = sorted({(r["repo"], r["tool"]) for r in samples})
        for repo_name, tool in keys:
            verdicts = [labels.get((repo_name, tool, r["test"])) for r in samples if (r["repo"], r["tool"]) == (repo_name, tool)]
            checked = [v for v in verdicts if v in ("yes", "no")]
            yes = sum(v == "yes" for v in checked)
            print(f"| {repo_name} | {tool} | {len(checked)} | {yes} | {yes / len(checked):.0%} |" if checked
                  else f"| {repo_name} | {tool} | 0 | - | - |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
