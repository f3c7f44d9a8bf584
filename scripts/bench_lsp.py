#!/usr/bin/env python
"""Round-trip latency of `codecustom lsp` completions through a real JSON-RPC stdio client.

The client plays a user typing: for each sample it cuts a random line of a real source file at a
random column (the rest of the file stays as the suffix), sends the new text (didChange), and asks
for a completion there with an explicit trigger (no debounce). Every sample is a new document
version, so the cache never answers; the time measured is request -> response as the editor sees it.

    python scripts/bench_lsp.py                                 # the shipped model, 200 samples
    python scripts/bench_lsp.py --model PATH --n 300 --threads 1 --json out.json

Prints p50/p95 (and more) and the machine's load average; aim: p50 <= 150 ms on a 2-core CPU.

    python scripts/bench_lsp.py --load 2 --json out.json        # quiet, then beside 2 CPU-bound processes

With ``--load N`` the same benchmark runs twice, side by side in one invocation: first as is, then
while N CPU-bound processes spin beside the server (each stops itself after ``--load-seconds`` and is
killed when the run ends); the aim under load is p95 <= 400 ms. The load average is read at the end
of each run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lsp"))

from codecustom_lsp.rpc_client import StdioClient  # noqa: E402

DEFAULT_FILES = ("textwrap.py", "json/encoder.py", "shlex.py", "fnmatch.py", "bisect.py")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _samples(texts: list[str], n: int, rng: random.Random) -> list[tuple[int, str, int, int]]:
    """(text index, edited text, line, column): a line cut where the user is typing."""
    out = []
    while len(out) < n:
        t = rng.randrange(len(texts))
        lines = texts[t].split("\n")
        i = rng.randrange(len(lines))
        line = lines[i]
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        col = rng.randint(indent, len(line))
        if col < len(line) and (line[col - 1:col].isalnum() or line[col - 1:col] == "_"):
            # the user stops typing at a token boundary, not inside a word
            while col < len(line) and (line[col].isalnum() or line[col] == "_"):
                col += 1
        edited = "\n".join(lines[:i] + [line[:col]] + lines[i + 1:])
        out.append((t, edited, i, col))
    return out


def run_bench(*, model: str | None, artifact: str | None, files: list[Path], n: int, warmup: int, seed: int,
              method: str, threads: int | None, settings: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    rng = random.Random(seed)
    texts = [p.read_text(encoding="utf-8") for p in files]
    work = Path(tempfile.mkdtemp(prefix="codecustom-bench-"))
    env = {"CODECUSTOM_HOME": str(work / "home"), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    client = StdioClient([sys.executable, "-m", "codecustom", "lsp", "--log-file", str(work / "lsp.log")],
                         cwd=work, env=env)
    figures: dict[str, Any] = {}
    try:
        model_opts: dict[str, Any] = {"base": model, "artifact": artifact or "none"}
        if threads:
            model_opts["threads"] = threads
        started = time.perf_counter()
        client.initialize(work, options={"model": model_opts, "lsp": settings})
        figures["initialize_ms"] = round((time.perf_counter() - started) * 1000, 1)
        status = client.wait_ready(timeout=timeout)
        figures["ready_s"] = round(time.perf_counter() - started, 2)
        figures.update({k: status.get(k) for k in ("model", "artifact", "strategy", "device", "arch")})
        uris = [client.open(work / f"file{i}{p.suffix}", text, "python") for i, (p, text) in enumerate(zip(files, texts))]
        versions = [1] * len(uris)
        rtts: list[float] = []
        model_ms: list[float] = []
        served = empty = 0
        chars: list[int] = []
        methods = ["textDocument/completion", "textDocument/inlineCompletion"]
        for k, (t, edited, line, col) in enumerate(_samples(texts, warmup + n, rng)):
            versions[t] += 1
            client.notify("textDocument/didChange", {
                "textDocument": {"uri": uris[t], "version": versions[t]}, "contentChanges": [{"text": edited}]})
            which = methods[k % 2] if method == "both" else f"textDocument/{method}"
            params = {"textDocument": {"uri": uris[t]}, "position": {"line": line, "character": col},
                      "context": {"triggerKind": 1}}
            notes_before = len(client.notifications)
            t0 = time.perf_counter()
            result = client.request(which, params, timeout=timeout)
            rtt = time.perf_counter() - t0
            if k < warmup:
                continue
            rtts.append(rtt * 1000)
            items = (result or {}).get("items") or []
            if items:
                served += 1
                text = items[0].get("insertText") or items[0].get("textEdit", {}).get("newText", "")
                chars.append(len(text))
            else:
                empty += 1
            for note in client.notifications[notes_before:]:
                if note.get("method") == "codecustom/status" and note["params"].get("lastModelMs") is not None:
                    model_ms.append(note["params"]["lastModelMs"])
                    break
        final = client.request("workspace/executeCommand", {"command": "codecustom.status"}, timeout=timeout)
        figures.update({
            "samples": len(rtts),
            "method": method,
            "with_suggestion": served,
            "empty (gated or nothing to add)": empty,
            "mean_suggestion_chars": round(statistics.mean(chars), 1) if chars else 0,
            "p50_ms": round(_percentile(rtts, 50), 1),
            "p90_ms": round(_percentile(rtts, 90), 1),
            "p95_ms": round(_percentile(rtts, 95), 1),
            "p99_ms": round(_percentile(rtts, 99), 1),
            "mean_ms": round(statistics.mean(rtts), 1),
            "max_ms": round(max(rtts), 1),
            "model_p50_ms": round(_percentile(model_ms, 50), 1) if model_ms else None,
            "cache_hits": final.get("cacheHits"),
            "gated": final.get("gated"),
        })
    finally:
        figures["exit_code"] = client.shutdown()
    return figures


BUSY_LOOP = "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"


def start_load(n: int, seconds: float) -> list[subprocess.Popen]:
    """``n`` CPU-bound processes, each ending by itself after ``seconds`` at the latest."""
    return [subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(seconds)]) for _ in range(n)]


def stop_load(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait()


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder or cached hub id (default: the shipped model)")
    parser.add_argument("--artifact", help="artifact to serve on the model (default: none, the base alone)")
    parser.add_argument("--file", action="append", type=Path,
                        help="source file(s) to type in (default: a few Python stdlib modules)")
    parser.add_argument("--n", type=int, default=200, help="measured completions (default 200)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=["completion", "inlineCompletion", "both"], default="both")
    parser.add_argument("--threads", type=int, help="torch threads in the server (default: torch's choice)")
    parser.add_argument("--max-new-tokens-line", type=int, help="server setting max_new_tokens_line")
    parser.add_argument("--max-new-tokens", type=int, help="server setting max_new_tokens (multi-line)")
    parser.add_argument("--multiline", choices=["auto", "always", "never"])
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="run twice: as is, then beside N CPU-bound processes (default 0: once)")
    parser.add_argument("--load-seconds", type=float, default=900,
                        help="the CPU-bound processes stop by themselves after this long (default 900)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be positive")
    lib = Path(sysconfig.get_paths()["stdlib"])
    files = args.file or [lib / f for f in DEFAULT_FILES if (lib / f).is_file()]
    settings: dict[str, Any] = {}
    for key in ("max_new_tokens_line", "max_new_tokens", "multiline"):
        if getattr(args, key) is not None:
            settings[key] = getattr(args, key)
    if args.load < 0:
        parser.error("--load must be 0 or more")

    def bench() -> dict[str, Any]:
        figures = run_bench(model=args.model, artifact=args.artifact, files=files, n=args.n, warmup=args.warmup,
                            seed=args.seed, method=args.method, threads=args.threads, settings=settings)
        figures["cpu"] = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}"
        figures["loadavg"] = _loadavg()
        return figures

    runs = {"quiet": bench()}
    if args.load:
        load = start_load(args.load, args.load_seconds)
        try:
            runs[f"beside {args.load} CPU-bound processes"] = bench()
        finally:
            stop_load(load)
    keys = list(dict.fromkeys(k for figures in runs.values() for k in figures))
    width = max(len(k) for k in keys)
    print(f"{'':<{width}}  " + "  ".join(f"{name:>20}" for name in runs))
    for key in keys:
        print(f"{key:<{width}}  " + "  ".join(f"{str(f.get(key)):>20}" for f in runs.values()))
    if args.json:
        payload = runs["quiet"] if not args.load else runs
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if all(f.get("exit_code") == 0 for f in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
