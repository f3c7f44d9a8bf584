#!/usr/bin/env python
"""Abuse `codecustom lsp`: malformed and random JSON-RPC, then a burst of concurrent completions with
half of them cancelled. The server must stay up, answer every live request, and keep memory bounded.

    python scripts/abuse_lsp.py --model PATH/TO/MODEL            # 10,000 messages, 200 completions
    python scripts/abuse_lsp.py --model M --messages 2000 --concurrent 50 --json out.json

Without --model the shipped default model is served. Prints one table of figures (and JSON with --json).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import string
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lsp"))

from codecustom_lsp.rpc_client import RpcError, StdioClient, frame  # noqa: E402

REQUEST_CANCELLED = -32800
SAMPLE_FILES = ("textwrap.py", "json/decoder.py", "bisect.py", "shlex.py", "fnmatch.py")


def _rand_text(rng: random.Random, n: int) -> str:
    alphabet = string.printable + "éß漢字😀\u0000\u200b"
    return "".join(rng.choice(alphabet) for _ in range(n))


def _junk_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.randint(-2**63, 2**63)
    if kind == 3:
        return rng.random() * 10 ** rng.randint(-5, 30)
    if kind == 4:
        return _rand_text(rng, rng.randint(0, 40))
    if kind == 5:
        return rng.choice(["", "file:///", "file:///nonexistent/x.py", "untitled:1", "%%%"])
    if kind == 6:
        return [_junk_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["textDocument", "position", "uri", "line", "character", "context", "triggerKind", "text", "range",
            "id", "command", "arguments", "settings", _rand_text(rng, 5)]
    return {rng.choice(keys): _junk_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


METHODS = ["textDocument/completion", "textDocument/inlineCompletion", "textDocument/codeAction",
           "workspace/executeCommand", "textDocument/hover", "initialize", "shutdown", "$/cancelRequest",
           "textDocument/didChange", "textDocument/didOpen", "workspace/didChangeConfiguration", "codecustom/x"]


class Abuser:
    """Makes one malformed or random message at a time; remembers which ones must be answered."""

    def __init__(self, rng: random.Random, uris: list[str], lines: dict[str, int]) -> None:
        self.rng = rng
        self.uris = uris
        self.lines = lines
        self.next_id = 10_000_000
        self.kinds: Counter[str] = Counter()

    def _id(self) -> int | str:
        self.next_id += 1
        return self.next_id if self.rng.random() < 0.7 else f"abuse-{self.next_id}"

    def message(self) -> tuple[bytes, Any]:
        """(framed bytes, id that must get an answer or None)."""
        rng = self.rng
        kind = rng.choice(["invalid_json", "not_object", "no_jsonrpc", "wrong_version", "bad_id", "unknown_request",
                           "unknown_notification", "bad_params", "bad_params", "bad_params", "out_of_range",
                           "bad_notification", "cancel_unknown", "bad_command", "junk_headers", "deep_nesting"])
        self.kinds[kind] += 1
        if kind == "invalid_json":
            body = rng.choice([b"{", b"{\"jsonrpc\": \"2.0\", \"id\": 1,", b"\xff\xfe\xfd", b"nul", b"[1, 2,]",
                               _rand_text(rng, rng.randint(1, 80)).encode("utf-8", "surrogatepass")])
            return frame(body), None
        if kind == "not_object":
            return frame(json.dumps(rng.choice([[], [1, 2], "hello", 42, None, True, [{"jsonrpc": "2.0"}]])).encode()), None
        if kind == "no_jsonrpc":
            return frame(json.dumps({"id": self._id(), "method": rng.choice(METHODS), "params": {}}).encode()), None
        if kind == "wrong_version":
            msg_id = self._id()
            return frame(json.dumps({"jsonrpc": "1.0", "id": msg_id, "method": "textDocument/completion",
                                     "params": {}}).encode()), msg_id
        if kind == "bad_id":
            bad = rng.choice([{"a": 1}, [1], 1.5, True, None])
            return frame(json.dumps({"jsonrpc": "2.0", "id": bad, "method": "textDocument/completion",
                                     "params": _junk_value(rng)}).encode()), None
        if kind == "unknown_request":
            msg_id = self._id()
            return frame(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "x/" + _rand_text(rng, 8),
                                     "params": _junk_value(rng)}).encode()), msg_id
        if kind == "unknown_notification":
            return frame(json.dumps({"jsonrpc": "2.0", "method": "x/" + _rand_text(rng, 8),
                                     "params": _junk_value(rng)}).encode()), None
        if kind in ("bad_params", "out_of_range"):
            msg_id = self._id()
            method = rng.choice(["textDocument/completion", "textDocument/inlineCompletion", "textDocument/codeAction"])
            if kind == "out_of_range":
                uri = rng.choice(self.uris + ["file:///nope/missing.py"])
                here = {"line": self.lines.get(uri, 0) + rng.randint(1, 10**6), "character": rng.randint(0, 10**6)}
                params = {"textDocument": {"uri": uri}, "position": here, "range": {"start": here, "end": here},
                          "context": {"triggerKind": 1, "diagnostics": []}}
            else:
                params = _junk_value(rng)
            return frame(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params}).encode()), msg_id
        if kind == "bad_notification":
            method = rng.choice(["textDocument/didChange", "textDocument/didOpen", "textDocument/didClose",
                                 "workspace/didChangeConfiguration"])
            params = _junk_value(rng)
            if method == "textDocument/didChange" and rng.random() < 0.5:  # well-formed, but for nothing open
                params = {"textDocument": {"uri": "file:///not/open.py", "version": 3},
                          "contentChanges": [{"text": _rand_text(rng, 20)}]}
            return frame(json.dumps({"jsonrpc": "2.0", "method": method, "params": params}).encode()), None
        if kind == "cancel_unknown":
            return frame(json.dumps({"jsonrpc": "2.0", "method": "$/cancelRequest",
                                     "params": {"id": rng.choice([rng.randint(0, 10**9), "ghost", None])}}).encode()), None
        if kind == "bad_command":
            msg_id = self._id()
            command = rng.choice(["codecustom.generateTests", "codecustom.nope", "", "codecustom.status"])
            args = rng.choice([[], ["only-one"], [1, 2, 3], _junk_value(rng), [{"textDocument": {}}]])
            if command == "codecustom.status":
                args = []
            return frame(json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "workspace/executeCommand",
                                     "params": {"command": command, "arguments": args}}).encode()), msg_id
        if kind == "junk_headers":
            msg_id = self._id()
            body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "method": "x/after-junk"}).encode()
            junk = rng.choice([b"X-Junk: 1\r\n", b"garbage without colon\r\n", b"Content-Length: abc\r\n",
                               b"\r\n\r\n", b"content-type: text/plain\r\n"])
            return junk + b"content-length: %d\r\n\r\n" % len(body) + body, msg_id
        # deep nesting: json's recursion limit
        depth = rng.choice([2000, 20000])
        return frame(b"[" * depth + b"]" * depth), None


def _rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 2**20


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def _sample_texts() -> list[tuple[str, str]]:
    lib = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for rel in SAMPLE_FILES:
        path = lib / rel
        if path.is_file():
            out.append((Path(rel).name, path.read_text(encoding="utf-8")))
    return out


def run_abuse(*, model: str | None, artifact: str | None = None, messages: int = 10_000, concurrent: int = 200,
              cancel_fraction: float = 0.5, seed: int = 0, oversize: bool = True, threads: int | None = None,
              queue_size: int | None = None, timeout: float = 600, log_file: str | None = None,
              settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run both phases against a fresh server; returns the figures."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="codecustom-abuse-"))
    t_start = time.perf_counter()
    log_file = log_file or str(work / "lsp.log")
    env = {"CODECUSTOM_HOME": str(work / "home"), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    stderr = open(work / "stderr.txt", "wb")  # noqa: SIM115 - closed below
    client = StdioClient([sys.executable, "-m", "codecustom", "lsp", "--log-file", log_file], cwd=work, env=env,
                         stderr=stderr)
    figures: dict[str, Any] = {"messages": messages, "concurrent": concurrent, "seed": seed}
    try:
        model_opts: dict[str, Any] = {"base": model, "artifact": artifact or "none"}
        if threads:
            model_opts["threads"] = threads
        lsp_opts: dict[str, Any] = {"debounce_ms": 150, **(settings or {})}
        if queue_size:
            lsp_opts["queue_size"] = queue_size
        started = time.perf_counter()
        client.initialize(work, options={"model": model_opts, "lsp": lsp_opts})
        ready = client.wait_ready(timeout=timeout)
        figures["ready_seconds"] = round(time.perf_counter() - started, 2)
        figures["model"] = ready.get("model")
        pid = client.proc.pid
        uris, lines, texts = [], {}, {}
        for i, (name, text) in enumerate(_sample_texts() * 4):
            uri = client.open(work / f"doc{i}_{name}", text, "python")
            uris.append(uri)
            lines[uri] = text.count("\n")
            texts[uri] = text
        client.request("workspace/executeCommand", {"command": "codecustom.status"}, timeout=timeout)
        figures["rss_start_mb"] = round(_rss_mb(pid), 1)

        # -- phase 1: malformed and random messages --------------------------------------------------
        abuser = Abuser(rng, uris, lines)
        must_answer: dict[Any, float] = {}
        answered: dict[Any, dict[str, Any]] = {}

        def on_orphan_or_response() -> None:
            pass

        started = time.perf_counter()
        rss_half = None
        for i in range(messages):
            data, msg_id = abuser.message()
            if msg_id is not None:
                client.register(msg_id)
                must_answer[msg_id] = time.perf_counter()
            client.send_bytes(data)
            if i == messages // 2:
                rss_half = _rss_mb(pid)
        if oversize:
            big = 65 * 2**20
            client.send_bytes(b"Content-Length: %d\r\n\r\n" % big + b" " * big)
            abuser.kinds["oversize_65MiB"] += 1
        # a marker request: when it is answered, everything before it has been read
        client.request("workspace/executeCommand", {"command": "codecustom.status"}, timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(not client.done(m) for m in must_answer):
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        for msg_id in must_answer:
            answered[msg_id] = client.outcome(msg_id)
        codes = Counter(str(a.get("error", {}).get("code", "result")) for a in answered.values() if a)
        figures.update({
            "phase1_seconds": round(elapsed, 2),
            "phase1_msgs_per_s": round(messages / elapsed, 1),
            "phase1_must_answer": len(must_answer),
            "phase1_answered": sum(1 for a in answered.values() if a),
            "phase1_answer_codes": dict(codes),
            "phase1_null_id_errors": len(client.orphans),
            "phase1_kinds": dict(abuser.kinds),
            "rss_after_phase1_mb": round(_rss_mb(pid), 1),
            "rss_mid_phase1_mb": round(rss_half or 0.0, 1),
            "alive_after_phase1": client.alive(),
        })

        # -- phase 2: concurrent completions, half cancelled -----------------------------------------
        positions = []
        for _ in range(concurrent):
            uri = rng.choice(uris)
            text_lines = texts[uri].split("\n")
            line = rng.randrange(len(text_lines))
            positions.append((uri, line, len(text_lines[line])))
        sent = []
        started = time.perf_counter()
        for i, (uri, line, character) in enumerate(positions):
            method = "textDocument/inlineCompletion" if i % 2 else "textDocument/completion"
            trigger = 1 if rng.random() < 0.5 else 2  # half explicit, half automatic (debounced)
            if method == "textDocument/completion" and trigger == 2:
                trigger = 3
            msg_id, future = client.request_async(method, {"textDocument": {"uri": uri},
                                                           "position": {"line": line, "character": character},
                                                           "context": {"triggerKind": trigger}})
            sent.append((msg_id, future, time.perf_counter()))
        cancelled = set(rng.sample(range(concurrent), int(concurrent * cancel_fraction)))
        for i in sorted(cancelled):
            client.cancel(sent[i][0])
        outcomes = Counter()
        latencies = []
        for i, (msg_id, future, t0) in enumerate(sent):
            live = i not in cancelled
            try:
                result = future.result(timeout)
                items = (result or {}).get("items") or []
                if live:
                    latencies.append(time.perf_counter() - t0)
                outcomes[("live" if live else "cancelled") + (" with suggestion" if items else " empty")] += 1
            except RpcError as exc:
                outcomes[("live" if live else "cancelled") + f" error {exc.code}"] += 1
            except Exception as exc:  # noqa: BLE001 - timeouts count as unanswered
                outcomes[("live" if live else "cancelled") + f" unanswered ({type(exc).__name__})"] += 1
        answered_at = time.perf_counter()
        status = client.request("workspace/executeCommand", {"command": "codecustom.status"}, timeout=timeout)
        while status.get("queue") and time.perf_counter() - answered_at < 30:  # a stopped decode winding down
            time.sleep(0.02)
            status = client.request("workspace/executeCommand", {"command": "codecustom.status"}, timeout=timeout)
        figures["queue_idle_after_answers_ms"] = round((time.perf_counter() - answered_at) * 1000, 1)
        live_total = concurrent - len(cancelled)
        figures.update({
            "phase2_seconds": round(time.perf_counter() - started, 2),
            "phase2_live": live_total,
            "phase2_live_answered": sum(v for k, v in outcomes.items() if k.startswith("live") and "unanswered" not in k
                                        and "error" not in k),
            "phase2_outcomes": dict(outcomes),
            "phase2_live_p50_ms": round(_percentile(latencies, 50) * 1000, 1),
            "phase2_live_p95_ms": round(_percentile(latencies, 95) * 1000, 1),
            "server_cancelled": status.get("cancelled"),
            "server_decodes_stopped": status.get("decodesStopped"),
            "server_stale": status.get("stale"),
            "server_queue_after": status.get("queue"),
            "rss_after_phase2_mb": round(_rss_mb(pid), 1),
        })
        # still serving
        uri, line, character = positions[0]
        final = client.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                           "position": {"line": line, "character": character},
                                                           "context": {"triggerKind": 1}}, timeout=timeout)
        figures["final_request_ok"] = isinstance(final, dict) and "items" in final
        figures["alive_at_end"] = client.alive()
    finally:
        stopping = time.perf_counter()
        figures["exit_code"] = client.shutdown()
        figures["shutdown_seconds"] = round(time.perf_counter() - stopping, 2)
        stderr.close()
        tail = (work / "stderr.txt").read_text(errors="replace").strip().splitlines()[-3:]
        if tail:
            figures["server_stderr_tail"] = tail
        try:
            figures["log_bytes"] = sum(p.stat().st_size for p in Path(log_file).parent.glob(Path(log_file).name + "*"))
        except OSError:
            pass
    figures["total_seconds"] = round(time.perf_counter() - t_start, 2)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder (default: the shipped model)")
    parser.add_argument("--artifact", help="artifact folder to serve on the model (default: none)")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--concurrent", type=int, default=200)
    parser.add_argument("--cancel-fraction", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch threads in the server")
    parser.add_argument("--queue-size", type=int, help="server queue_size setting (default: the server's)")
    parser.add_argument("--no-oversize", action="store_true", help="skip the 65 MiB oversize frame")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    figures = run_abuse(model=args.model, artifact=args.artifact, messages=args.messages, concurrent=args.concurrent,
                        cancel_fraction=args.cancel_fraction, seed=args.seed, oversize=not args.no_oversize,
                        threads=args.threads, queue_size=args.queue_size)
    try:
        figures["loadavg"] = os.getloadavg()
    except OSError:
        pass
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    ok = (figures.get("alive_at_end") and figures.get("final_request_ok")
          and figures.get("phase1_answered") == figures.get("phase1_must_answer")
          and figures.get("phase2_live_answered") == figures.get("phase2_live"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
