#!/usr/bin/env python
"""Probe codecustom as an attacker and as an unlucky user would, and print the table of
docs/results/reliability.md: hostile generated code against the sandbox, kill -9 at every save
boundary, concurrent runs, resumes with other settings, malformed LSP frames, a hostile network
setup, and a broken environment. Every row counts trials and how many were contained or recovered.

    python scripts/probe_reliability.py                       # everything, a few minutes on 2 CPU cores
    python scripts/probe_reliability.py --only sandbox,lsp --json probe.json

Needs the test extra (tiny models and fixtures come from tests/support). Some probes need root
(a host socket in /run, a root-only file in /etc, a full or read-only tmpfs); without root they are
reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lsp")]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
IS_ROOT = os.getuid() == 0


@dataclass
class Row:
    """One probe: how many times it was tried and how many times codecustom held."""

    area: str
    probe: str
    trials: int
    held: int
    note: str = ""


# -- sandbox: hostile generated code -------------------------------------------------------------------

ATTACKS: dict[str, str] = {
    # each prints ESCAPED when the attack worked
    "runs as root or with capabilities": """
        import os
        cap = [l for l in open("/proc/self/status") if l.startswith("CapEff")][0].split()[1]
        print("ESCAPED" if os.getuid() == 0 or int(cap, 16) else "held")""",
    "reads a root-only file in /etc": """
        try:
            open({secret!r}).read(); print("ESCAPED")
        except OSError:
            print("held")""",
    "reads /etc/shadow": """
        try:
            open("/etc/shadow").read(); print("ESCAPED")
        except OSError:
            print("held")""",
    "reads a world-readable file outside the copy": """
        try:
            open({public!r}).read(); print("ESCAPED")
        except OSError:
            print("held")""",
    "lists the caller's home": """
        import os
        try:
            names = [n for n in os.listdir({home!r})
                     if not any(p.startswith({home!r}.rstrip("/") + "/" + n) for p in {interp!r})]
            print("ESCAPED" if names else "held")
        except OSError:
            print("held")""",
    "writes outside the copy (/etc, /usr, host temp, home)": """
        out = []
        for path in ["/etc/cc-probe", "/usr/cc-probe", {outside!r}, {home!r} + "/cc-probe"]:
            try:
                open(path, "w").write("x"); out.append(path)
            except OSError:
                pass
        print("ESCAPED" if out else "held")""",
    "connects to a host Unix socket (temp dir, /run, abstract)": """
        import socket
        ok = []
        for place in {sockets!r}:
            try:
                socket.socket(socket.AF_UNIX).connect(place); ok.append(place)
            except OSError:
                pass
        print("ESCAPED" if ok else "held")""",
    "connects to the host's loopback TCP or the internet": """
        import socket
        ok = []
        for addr in [("127.0.0.1", {port}), ("1.1.1.1", 443), ("8.8.8.8", 53)]:
            try:
                socket.create_connection(addr, timeout=2).close(); ok.append(addr)
            except OSError:
                pass
        print("ESCAPED" if ok else "held")""",
    "sees host processes in /proc": """
        import os
        marker = {marker_rev!r}[::-1].encode()
        seen = any(marker in open(f"/proc/{{p}}/cmdline", "rb").read() for p in os.listdir("/proc") if p.isdigit())
        print("ESCAPED" if seen else "held")""",
    "signals a host process by pid": """
        import os
        try:
            os.kill({host_pid}, 9)
        except OSError:
            pass
        print("tried")""",
    "writes /proc/sys or /proc/sysrq-trigger": """
        ok = []
        for path, data in [("/proc/sys/kernel/hostname", "x"), ("/proc/sysrq-trigger", "h")]:
            try:
                open(path, "w").write(data); ok.append(path)
            except OSError:
                pass
        print("ESCAPED" if ok else "held")""",
    "reads credentials from the environment": """
        import os
        print("ESCAPED" if any(k in os.environ for k in ("HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN")) else "held")""",
    "allocates 3 GiB (limit 1 GiB)": """
        try:
            b = bytearray(3 << 30); print("ESCAPED")
        except MemoryError:
            print("held")""",
    "leaves a setsid daemon behind": """
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", {marker!r}])
            os._exit(0)
        print("held")""",
    "fork bomb": """
        import os, time
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)""",
    "endless loop": """
        while True:
            pass""",
}


def _alive_with(marker: str) -> bool:
    import psutil

    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(found, timeout=30)
    return any(p.status() != psutil.STATUS_ZOMBIE for p in alive if p.is_running())


def probe_sandbox(work: Path, trials: int) -> list[Row]:
    from codecustom.evaluation.sandbox import Sandbox, SandboxLimits, interpreter_paths, probe

    isolation = probe()
    rows = []
    host = work / "host"
    host.mkdir(mode=0o755)
    public = host / "public.txt"
    public.write_text("outside")
    public.chmod(0o644)
    secret = Path(f"/etc/codecustom-probe-{uuid.uuid4().hex}")
    listeners, sockets = [], [str(host / "host.sock"), f"\0codecustom-probe-{uuid.uuid4().hex}"]
    if os.access("/run", os.W_OK):
        sockets.append(f"/run/codecustom-probe-{uuid.uuid4().hex}.sock")
    tcp = socket.create_server(("127.0.0.1", 0))
    marker = f"{time.time() % 1000 + 500:.6f}"
    victim = subprocess.Popen(["sleep", marker])
    if IS_ROOT:
        secret.write_text("root only")
        secret.chmod(0o600)
    try:
        for place in sockets:
            server = socket.socket(socket.AF_UNIX)
            server.bind(place)
            if not place.startswith("\0"):
                os.chmod(place, 0o666)
            server.listen()
            server.setblocking(False)
            listeners.append(server)
        values = {"secret": str(secret), "public": str(public), "home": str(Path.home()), "outside": str(host / "w"),
                  "interp": interpreter_paths(), "sockets": sockets, "port": tcp.getsockname()[1],
                  "marker_rev": marker[::-1], "marker": marker, "host_pid": victim.pid}
        os.environ["HF_TOKEN"] = "probe-secret"  # what generated code must not see
        for name, code in ATTACKS.items():
            if name == "reads a root-only file in /etc" and not IS_ROOT:
                rows.append(Row("sandbox", name, 0, 0, "skipped: not root"))
                continue
            held = 0
            for _ in range(trials):
                run = work / f"run-{uuid.uuid4().hex[:8]}"
                run.mkdir()
                daemon = f"cc-probe-{uuid.uuid4().hex}"
                values["marker"] = daemon
                limits = SandboxLimits(wall_seconds=3 if name in ("fork bomb", "endless loop") else 30,
                                       memory_bytes=1 << 30, max_processes=32)
                result = Sandbox(limits).run([sys.executable, "-c", textwrap.dedent(code).format(**values), daemon],
                                             cwd=run, writable=[run])
                ok = "ESCAPED" not in result.stdout and not _alive_with(daemon)  # and nothing left running
                if name == "signals a host process by pid":
                    ok = ok and victim.poll() is None
                elif name in ("fork bomb", "endless loop"):
                    ok = ok and result.killed is not None
                elif name == "allocates 3 GiB (limit 1 GiB)":
                    ok = ok and "held" in result.stdout
                ok = ok and not any(p.exists() for p in (host / "w", Path("/etc/cc-probe"), Path("/usr/cc-probe")))
                held += ok
                shutil.rmtree(run, ignore_errors=True)
            rows.append(Row("sandbox", name, trials, held))
        for server in listeners:
            try:
                server.accept()
                rows.append(Row("sandbox", "a host Unix listener was reached", 1, 0))
            except BlockingIOError:
                pass
    finally:
        os.environ.pop("HF_TOKEN", None)
        victim.kill()
        victim.wait()
        tcp.close()
        for server in listeners:
            server.close()
        for place in sockets:
            if not place.startswith("\0"):
                Path(place).unlink(missing_ok=True)
        secret.unlink(missing_ok=True)
    iso = ", ".join(k for k in ("filesystem", "network", "pid", "unprivileged") if getattr(isolation, k))
    rows[0].note = f"isolation: {iso}; {isolation.landlock or 'no Landlock'}"
    return rows


# -- kill -9 at every save boundary ----------------------------------------------------------------------

def _quiet_main(argv: list[str]) -> tuple[int, str, str]:
    """Run the CLI in this process with its output captured."""
    import contextlib
    import io

    from codecustom.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def probe_kills(work: Path, trials: int) -> list[Row]:
    import torch

    from codecustom.mining import mine
    from codecustom.mining.records import is_dataset
    from codecustom.modeling.artifacts import list_artifacts
    from codecustom.training.runs import RunFolder
    from tests.support.datasets import write_dataset
    from tests.support.faults import run_with_kill
    from tests.support.fixture_repos import build_fixture_repo
    from tests.support.tiny import make_tiny_model

    torch.set_num_threads(1)
    base, dataset = make_tiny_model("llama", work / "model"), write_dataset(work / "ds")

    def argv(store: Path, *extra: str) -> list[str]:
        return ["customize", str(dataset), "--base", str(base), "--strategy", "l-ldb", "--store", str(store),
                "--max-steps", "4", "--eval-steps", "2", "--max-length", "128", "-q", "--json", *extra]

    def run(store: Path, *extra: str) -> dict:
        code, out, err = _quiet_main(argv(store, *extra))
        if code != 0:
            raise RuntimeError(err)
        return json.loads(out)["artifacts"][0]

    os.environ["CODECUSTOM_HOME"] = str(work / "home-ref")
    reference = run(work / "reference")["metrics"]["heldout_loss"]
    previous = work / "previous"
    run(previous, "--seed", "1")

    def fresh(name: str) -> Path:
        store = work / name
        shutil.copytree(previous, store)
        os.environ["CODECUSTOM_HOME"] = str(work / f"{name}-home")
        return store

    store = fresh("count")
    whole = run_with_kill(lambda: _quiet_main(argv(store)), kill_at=None)
    held = {False: 0, True: 0}
    tried = {False: 0, True: 0}
    for k, label in enumerate(whole.reached, 1):
        for torn in (False, True):
            if torn and label not in {"torch.save", "safetensors.torch.save_file", "TrainerState.save_to_json"}:
                continue
            store = fresh(f"k{k}{'t' if torn else ''}")
            if not run_with_kill(lambda: _quiet_main(argv(store)), kill_at=k, torn=torn).killed:
                continue
            tried[torn] += 1
            try:
                again = run(store, "--resume")
            except RuntimeError as exc:
                print(f"boundary {k} ({label}, torn={torn}): --resume failed: {str(exc)[-300:]}", file=sys.stderr)
                continue
            leftovers = [p for p in (store / "textkit" / "tests").iterdir()
                         if p.name.startswith(".") and not p.name.endswith(".lock")]
            ok = (again["metrics"]["heldout_loss"] == reference and len(list_artifacts(store=store)) == 1
                  and not leftovers and not RunFolder.of("textkit", "tests", "l-ldb", store).path.exists())
            held[torn] += ok
            if not ok:
                print(f"boundary {k} ({label}, torn={torn}): loss {again['metrics']['heldout_loss']} vs {reference}, "
                      f"leftovers {leftovers}", file=sys.stderr)
    rows = [Row("kill -9", "customize killed before a save step, then --resume", tried[False], held[False],
                f"{len(whole.reached)} save boundaries; same loss as an uninterrupted run, one artifact, no leftovers"),
            Row("kill -9", "customize killed half-way through writing a file, then --resume", tried[True], held[True])]

    repo = build_fixture_repo("python_repo", work / "repo")
    out = work / "datasets" / "ledger"
    mine(str(repo), out=out)
    whole = run_with_kill(lambda: mine(str(repo), out=out), kill_at=None)
    ok = 0
    for k in range(1, len(whole.reached) + 1):
        run_with_kill(lambda: mine(str(repo), out=out), kill_at=k)
        mine(str(repo), out=out)
        ok += is_dataset(out) and sorted(p.name for p in out.parent.iterdir()) == ["ledger"]
    rows.append(Row("kill -9", "mine killed at each rename/delete, then mine again", len(whole.reached), ok,
                    "a whole dataset, no hidden temp folder left"))
    return rows


# -- concurrent runs and the settings guard ----------------------------------------------------------------

def probe_runs(work: Path, trials: int) -> list[Row]:
    from codecustom.training.runs import store_key
    from tests.support.datasets import write_dataset
    from tests.support.tiny import make_tiny_model

    base, dataset = make_tiny_model("gpt2", work / "model"), write_dataset(work / "ds")
    env = {**os.environ, "CODECUSTOM_HOME": str(work / "home")}

    def cli(store: Path, *extra: str) -> list[str]:
        return [sys.executable, "-m", "codecustom", "customize", str(dataset), "--base", str(base), "--strategy",
                "l-eo", "--store", str(store), "--max-length", "128", *extra]

    stopped = waited = 0
    for i in range(trials):
        store = work / f"store{i}"
        first = subprocess.Popen(cli(store, "--max-steps", "100000", "--eval-steps", "50000"), env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if not _wait_for_line(first, "training"):
            continue
        second = subprocess.run(cli(store, "--max-steps", "2"), env=env, capture_output=True, text=True)
        err = second.stderr.strip()
        stopped += second.returncode == 2 and len(err.splitlines()) == 1 and f"pid {first.pid}" in err
        third = subprocess.Popen(cli(store, "--max-steps", "2", "--wait", "-q"), env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        if _wait_for_line(third, "waiting for"):
            first.kill()  # kill -9 of the holder: the kernel releases its locks
            first.wait()
            waited += third.wait() == 0
        for proc in (first, third):
            proc.kill()
            proc.wait()
    rows = [Row("one writer", "second customize of the same strategy while one trains", trials, stopped,
                "exit 2, one line naming the holder's pid"),
            Row("one writer", "third one with --wait; then the first is killed -9", trials, waited,
                "waits, then runs once the lock is free, exit 0")]

    refused = 0
    changes = [["--lr", "0.5"], ["--seed", "3"], ["--max-length", "96"]]
    for i, change in enumerate(changes):
        store = work / f"guard{i}"
        args = cli(store, "--max-steps", "40", "--eval-steps", "2", "-q")
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run_dir = work / "home" / "runs" / store_key(store) / "textkit" / "tests" / "l-eo"
        deadline = time.monotonic() + 600
        while not list(run_dir.glob("checkpoint-*/codecustom-complete.json")) and \
                proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for the event "a complete checkpoint exists"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        resumed = subprocess.run(args + ["--resume", *change], env=env, capture_output=True, text=True)
        ok = resumed.returncode == 2 and "used different settings" in resumed.stderr
        refused += ok
        if not ok:
            print(f"guard {change}: exit {resumed.returncode} {resumed.stderr[-300:]}", file=sys.stderr)
    rows.append(Row("one owner", "killed run resumed with other settings", len(changes), refused,
                    "refused: exit 2, rerun without --resume"))
    return rows


def _wait_for_line(proc: subprocess.Popen, text: str) -> bool:
    """Read ``proc``'s output until a line holds ``text`` (True) or it ends (False); the rest is drained."""
    stream = proc.stdout if proc.stdout is not None else proc.stderr
    for line in stream:
        if text in line:
            threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()
            return True
    return False


# -- the language server ---------------------------------------------------------------------------------

def probe_lsp(work: Path, trials: int) -> list[Row]:
    from codecustom_lsp import config as lsp_config
    from codecustom_lsp.rpc_client import StdioClient

    from tests.lsp.test_framing import BAD_FRAMES

    frames = dict(BAD_FRAMES, **{"invalid json": b"Content-Length: 9\r\n\r\n{\"id\": 1,",
                                 "huge length": b"Content-Length: 99999999999\r\n\r\n{}",
                                 "too large length": b"Content-Length: 900\r\n\r\n{}"})
    options = {"model": {"artifact": "none", "base": str(work / "no-model")}}
    command = [sys.executable, "-m", "codecustom", "lsp", "--log-file", str(work / "lsp.log")]
    client = StdioClient(command, env={"CODECUSTOM_HOME": str(work / "home")})
    served = 0
    try:
        client.initialize(work, options=options)
        for _ in range(trials):
            for data in frames.values():
                client.send_bytes(data)
                try:
                    served += "state" in client.request("workspace/executeCommand", {"command": "codecustom.status"},
                                                        timeout=60)
                except Exception:  # noqa: BLE001 - counted as not held
                    pass
    finally:
        client.shutdown()
    rows = [Row("language server", "malformed frame, then a request on the same stdio connection",
                trials * len(frames), served, ", ".join(frames))]

    with socket.socket() as probe_sock:
        probe_sock.bind(("127.0.0.1", 0))
        port = probe_sock.getsockname()[1]
    (work / "token").write_text("probe-token-" + uuid.uuid4().hex)
    server = subprocess.Popen(command + ["--tcp", str(port), "--token-file", str(work / "token")],
                              stderr=subprocess.PIPE, text=True, env={**os.environ, "CODECUSTOM_HOME": str(work / "home")})
    banner = server.stderr.readline()
    token = (work / "token").read_text()
    next_client = refused = 0
    try:
        for i in range(trials):
            for given in (None, "wrong-" + uuid.uuid4().hex, token):
                reply = _tcp_initialize(port, work, given, options)
                if given == token:
                    next_client += "result" in reply  # after the earlier clients hung up
                else:
                    refused += reply.get("error", {}).get("code") == -32001
    finally:
        server.kill()
        server.wait()
    rows += [Row("language server", "TCP: next client served after a disconnect", trials, next_client,
                 banner.strip().split("(")[-1].rstrip(")").split(";")[0]),
             Row("language server", "TCP: missing or wrong token", 2 * trials, refused, "-32001, connection closed")]
    bind = subprocess.run(command + ["--tcp", "0.0.0.0:1"], capture_output=True, text=True)
    rows.append(Row("language server", "TCP on 0.0.0.0 without --allow-remote", 1, int(bind.returncode == 2)))
    remote = lsp_config.load(work, {"model": {"url": "https://collector.example/v1"}})
    rows.append(Row("language server", "editor points the backend at a remote URL", 1, int(remote.model.url is None)))
    return rows


def _tcp_initialize(port: int, root: Path, token: str | None, options: dict) -> dict:
    """Connect, send initialize (with ``token`` when given), return the first answer, hang up."""
    opts = dict(options, **({"token": token} if token else {}))
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "processId": None, "rootUri": root.as_uri(), "capabilities": {}, "initializationOptions": opts}}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        buf = b""
        while True:
            head, sep, rest = buf.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length")), None)
            if sep and length is not None and len(rest) >= length:
                return json.loads(rest[:length])
            chunk = sock.recv(65536)
            if not chunk:
                return {}
            buf += chunk


# -- a broken environment ----------------------------------------------------------------------------------

def probe_errors(work: Path, trials: int) -> list[Row]:
    import ctypes

    import torch
    from safetensors.torch import load_file

    from tests.support.datasets import write_dataset
    from tests.support.fixture_repos import build_fixture_repo
    from tests.support.tiny import make_tiny_model

    repo = build_fixture_repo("python_repo", work / "repo")
    rows = []

    def in_tmpfs(target: Path, options: str, flags: int) -> Callable[[], None]:
        def enter() -> None:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(0x00020000) or libc.mount(None, b"/", None, 16384 | (1 << 18), None) or \
                    libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", flags, options.encode()):
                os._exit(99)
        return enter

    for name, options, flags in (("disk full (8 KiB tmpfs as --out)", "size=8k", 0),
                                 ("read-only --out", "size=1m", 1)):
        if not IS_ROOT:
            rows.append(Row("environment", name, 0, 0, "skipped: mounting a tmpfs needs root"))
            continue
        target = work / f"out-{flags}"
        target.mkdir()
        done = subprocess.run([sys.executable, "-m", "codecustom", "mine", str(repo), "--out", str(target / "ds")],
                              capture_output=True, text=True, preexec_fn=in_tmpfs(target, options, flags))
        err = done.stderr.strip()
        rows.append(Row("environment", name, 1, int(done.returncode == 2 and len(err.splitlines()) == 1
                                                     and "(" in err), err[:200]))
    model = work / "pickled"
    shutil.copytree(make_tiny_model("gpt2", work / "gpt2"), model)
    torch.save(load_file(str(model / "model.safetensors")), model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    data = (model / "pytorch_model.bin").read_bytes()
    (model / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    done = subprocess.run([sys.executable, "-m", "codecustom", "customize", str(write_dataset(work / "ds")), "--base",
                           str(model), "--allow-pickle", "--strategy", "l-eo"], capture_output=True, text=True)
    err = done.stderr.strip()
    rows.append(Row("environment", "damaged pickled weights (--allow-pickle)", 1,
                    int(done.returncode == 2 and len(err.splitlines()) == 1), err[:200]))
    return rows


PROBES: dict[str, Callable[[Path, int], list[Row]]] = {
    "sandbox": probe_sandbox, "kills": probe_kills, "runs": probe_runs, "lsp": probe_lsp, "errors": probe_errors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(PROBES)}")
    parser.add_argument("--trials", type=int, default=3, help="repeats of each sandbox/run/LSP probe (default 3)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(PROBES)
    unknown = [c for c in chosen if c not in PROBES]
    if unknown:
        parser.error(f"unknown probe(s) {', '.join(unknown)}; choose from {', '.join(PROBES)}")
    rows: list[Row] = []
    started = time.monotonic()
    for name in chosen:
        with tempfile.TemporaryDirectory(prefix=f"codecustom-probe-{name}-") as work:
            Path(work).chmod(0o755)
            rows += PROBES[name](Path(work), args.trials)
    print("| area | probe | trials | held | note |\n|---|---|---:|---:|---|")
    for row in rows:
        print(f"| {row.area} | {row.probe} | {row.trials} | {row.held} | {row.note} |")
    load = [round(x, 2) for x in os.getloadavg()]
    print(f"\n{sum(r.held for r in rows)} of {sum(r.trials for r in rows)} trials held; "
          f"{time.monotonic() - started:.0f} s; uid {os.getuid()}; load average {load}")
    if args.json:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in rows], "load": load}, indent=2) + "\n")
    return 0 if all(r.held == r.trials for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
