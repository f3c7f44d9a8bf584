"""Adversarial generated code against the sandbox: each attack must be contained."""

from __future__ import annotations

import socket
import sys
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from codecustom.evaluation.sandbox import Sandbox, SandboxLimits, probe
from codecustom.evaluation.sandbox.env import is_secret, sandbox_env

ISOLATION = probe()
needs_fs = pytest.mark.skipif(not ISOLATION.filesystem, reason="no mount namespace on this machine: "
                              + "; ".join(ISOLATION.notes))
needs_net = pytest.mark.skipif(not ISOLATION.network, reason="no network namespace on this machine: "
                               + "; ".join(ISOLATION.notes))


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def _alive_with(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


@pytest.fixture
def work(tmp_path: Path) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    return w


def test_infinite_loop_is_killed_at_the_wall_time(work: Path) -> None:
    marker = uuid.uuid4().hex
    start = time.monotonic()
    result = Sandbox(SandboxLimits(wall_seconds=1.5)).run(_python("while True:\n    pass", marker), cwd=work,
                                                           writable=[work])
    assert result.timed_out and result.killed == "timeout" and result.returncode is None
    assert time.monotonic() - start < 10
    assert not _alive_with(marker)


def test_fork_bomb_is_capped_and_leaves_nothing(work: Path) -> None:
    marker = uuid.uuid4().hex
    bomb = """
        import os, time
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    """
    limits = SandboxLimits(wall_seconds=2.0, max_processes=16)
    result = Sandbox(limits).run(_python(bomb, marker), cwd=work, writable=[work])
    assert result.killed in {"timeout", "process limit"}
    if result.peak_processes is not None:  # cgroup: a hard cap the kernel enforces
        assert result.peak_processes <= limits.max_processes + 2
    time.sleep(0.2)
    assert not _alive_with(marker)


def test_watchdog_caps_processes_without_a_cgroup(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from codecustom.evaluation import sandbox

    monkeypatch.setattr(sandbox.PidsCgroup, "create", classmethod(lambda cls, n: None))
    marker = uuid.uuid4().hex
    slow_bomb = """
        import os, time
        while True:
            os.fork()
            time.sleep(0.05)
    """
    result = Sandbox(SandboxLimits(wall_seconds=20, max_processes=12)).run(_python(slow_bomb, marker), cwd=work,
                                                                          writable=[work])
    assert result.killed == "process limit" and result.wall_seconds < 10
    time.sleep(0.2)
    assert not _alive_with(marker)


def test_background_processes_do_not_outlive_the_run(work: Path) -> None:
    marker = f"{time.time() % 1000 + 300:.6f}"  # a sleep duration nobody else uses
    code = f"""
        import subprocess
        subprocess.Popen(["sleep", "{marker}"], start_new_session=True)  # escapes the process group
        subprocess.Popen(["sh", "-c", "(sleep {marker} &) ; exit 0"])   # double fork, orphaned
        print("spawned")
    """
    result = Sandbox(SandboxLimits(wall_seconds=20)).run(_python(code), cwd=work, writable=[work])
    assert result.returncode == 0 and "spawned" in result.stdout
    time.sleep(0.2)
    assert not _alive_with(f"sleep {marker}")


@needs_fs
def test_writing_outside_the_temp_dir_fails(tmp_path: Path, work: Path) -> None:
    outside = tmp_path / "outside.txt"
    code = f"""
        import pathlib, sys
        pathlib.Path("inside.txt").write_text("ok")
        for target in [{str(outside)!r}, "/tmp/codecustom-escape-{uuid.uuid4().hex}", "{Path.home()}/escape"]:
            try:
                pathlib.Path(target).write_text("escaped")
                print("WROTE", target)
            except OSError as exc:
                print("blocked", target, exc.errno)
    """
    result = Sandbox().run(_python(code), cwd=work, writable=[work])
    assert result.returncode == 0, result.stderr
    assert "WROTE" not in result.stdout and result.stdout.count("blocked") == 3
    assert not outside.exists()
    assert (work / "inside.txt").read_text() == "ok"


@needs_fs
def test_deleting_files_outside_the_temp_dir_fails(tmp_path: Path, work: Path) -> None:
    repo = tmp_path / "user-repo"
    (repo / "pkg").mkdir(parents=True)
    files = {repo / "pkg" / "mod.py": "def f():\n    return 1\n", repo / "README": "keep me\n"}
    for path, text in files.items():
        path.write_text(text)
    code = f"""
        import os, shutil
        for attempt in (lambda: shutil.rmtree({str(repo)!r}), lambda: os.remove({str(repo / 'README')!r}),
                        lambda: os.rename({str(repo / 'pkg')!r}, {str(tmp_path / 'moved')!r})):
            try:
                attempt()
                print("DELETED")
            except OSError as exc:
                print("blocked", exc.errno)
    """
    result = Sandbox().run(_python(code), cwd=work, writable=[work])
    assert "DELETED" not in result.stdout and result.stdout.count("blocked") == 3
    assert {p: p.read_text() for p in files} == files


@needs_net
def test_sockets_cannot_reach_the_host_or_the_internet(work: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    code = f"""
        import socket
        for host, port in [("127.0.0.1", {port}), ("8.8.8.8", 53), ("1.1.1.1", 443)]:
            try:
                socket.create_connection((host, port), timeout=2).close()
                print("CONNECTED", host)
            except OSError as exc:
                print("blocked", host, exc.errno)
        srv = socket.create_server(("127.0.0.1", 0))  # loopback inside the sandbox still works
        cli = socket.create_connection(srv.getsockname())
        print("local loopback ok")
    """
    result = Sandbox(SandboxLimits(wall_seconds=30)).run(_python(code), cwd=work, writable=[work])
    server.setblocking(False)
    with pytest.raises(BlockingIOError):  # nothing reached the host's listening socket
        server.accept()
    server.close()
    assert "CONNECTED" not in result.stdout and result.stdout.count("blocked") == 3, result.stdout + result.stderr
    assert "local loopback ok" in result.stdout


def test_credentials_are_not_visible(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"AWS_SECRET_ACCESS_KEY": "aws", "HF_TOKEN": "hf", "GITHUB_TOKEN": "gh", "MY_SERVICE_API_KEY": "k",
               "DB_PASSWORD": "pw", "OPENAI_API_KEY": "oa", "SSH_AUTH_SOCK": "/tmp/agent"}
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    code = "import os, json; print(json.dumps(dict(os.environ)))"
    result = Sandbox().run(_python(code), cwd=work, writable=[work], env={"HF_TOKEN": "passed", "PYTHONPATH": "x"})
    import json

    seen = json.loads(result.stdout)
    assert not set(secrets) & set(seen)
    assert seen["PYTHONPATH"] == "x" and seen["HOME"].startswith(str(work.resolve()))


def test_memory_and_file_size_limits(work: Path) -> None:
    code = """
        try:
            block = bytearray(3 << 30)
            print("ALLOCATED")
        except MemoryError:
            print("no memory")
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            with open("big.bin", "wb") as fh:
                fh.write(b"x" * (4 << 20))
            print("WROTE BIG")
        except OSError as exc:
            print("too big", exc.errno)
    """
    limits = SandboxLimits(memory_bytes=1 << 30, max_file_bytes=1 << 20)
    result = Sandbox(limits).run(_python(code), cwd=work, writable=[work])
    assert "no memory" in result.stdout and "too big" in result.stdout, result.stdout + result.stderr
    assert (work / "big.bin").stat().st_size <= 1 << 20


def test_env_filter_names() -> None:
    assert all(is_secret(n) for n in ["AWS_ACCESS_KEY_ID", "HF_TOKEN", "X_API_KEY", "GH_TOKEN", "NPM_TOKEN"])
    assert not any(is_secret(n) for n in ["PATH", "LANG", "JAVA_HOME", "PYTHONPATH"])
    env = sandbox_env("/h", "/t", {"A_SECRET": "s", "OK": "1"}, source={"PATH": "/bin", "AWS_REGION": "x",
                                                                      "LC_ALL": "C", "RANDOM": "r"})
    assert env["PATH"] == "/bin" and env["LC_ALL"] == "C" and env["OK"] == "1"
    assert "AWS_REGION" not in env and "A_SECRET" not in env and "RANDOM" not in env


def test_isolation_is_described() -> None:
    lines = ISOLATION.describe()
    assert any(line.startswith("network:") for line in lines)
    assert any(line.startswith("filesystem:") for line in lines)
