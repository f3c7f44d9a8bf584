"""Adversarial generated code against the sandbox: each attack must be contained."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import subprocess
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import psutil
import pytest

from codecustom.evaluation import sandbox as sandbox_mod
from codecustom.evaluation.sandbox import Sandbox, SandboxLimits, landlock, probe
from codecustom.evaluation.sandbox.env import is_secret, sandbox_env

ISOLATION = probe()
ROOT = os.getuid() == 0
needs_fs = pytest.mark.skipif(not ISOLATION.filesystem, reason="no mount namespace on this machine: "
                              + "; ".join(ISOLATION.notes))
needs_net = pytest.mark.skipif(not ISOLATION.network, reason="no network namespace on this machine: "
                               + "; ".join(ISOLATION.notes))
needs_pid = pytest.mark.skipif(not ISOLATION.pid, reason="no PID namespace on this machine: "
                               + "; ".join(ISOLATION.notes))
needs_root = pytest.mark.skipif(not ROOT, reason="the root -> nobody switch is tested when the suite runs as root")
needs_landlock = pytest.mark.skipif(landlock.abi() < 1, reason="no Landlock in this kernel")


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code), *args]


def _alive_with(marker: str) -> list[psutil.Process]:
    """Processes whose command line holds ``marker``, after giving killed ones time to be reaped.

    A killed process may take a moment to leave the process table on a loaded machine; this waits for
    that event (up to 30 s) instead of sleeping a fixed time."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if marker in " ".join(proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    _, alive = psutil.wait_procs(found, timeout=30)
    return [p for p in alive if _running(p)]


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.fixture
def work(tmp_path: Path) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    return w


def test_infinite_loop_is_killed_at_the_wall_time(work: Path) -> None:
    marker = uuid.uuid4().hex
    result = Sandbox(SandboxLimits(wall_seconds=1.5)).run(_python("while True:\n    pass", marker), cwd=work,
                                                           writable=[work])
    assert result.timed_out and result.killed == "timeout" and result.returncode is None
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
    assert not _alive_with(marker)


def test_watchdog_caps_processes_without_a_cgroup_or_rlimit(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox_mod.PidsCgroup, "create", classmethod(lambda cls, n: None))
    lifted = sandbox_mod._rlimits
    monkeypatch.setattr(sandbox_mod, "_rlimits", lambda limits: {**lifted(limits), "NPROC": 1 << 30})
    marker = uuid.uuid4().hex
    slow_bomb = """
        import os, time
        while True:
            os.fork()
            time.sleep(0.05)
    """
    result = Sandbox(SandboxLimits(wall_seconds=20, max_processes=12)).run(_python(slow_bomb, marker), cwd=work,
                                                                          writable=[work])
    assert result.killed == "process limit"
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
    assert not _alive_with(f"sleep {marker}")


@needs_fs
def test_writing_outside_the_temp_dir_fails(tmp_path: Path, work: Path) -> None:
    outside = tmp_path / "outside.txt"
    in_tmp = Path(f"/tmp/codecustom-escape-{uuid.uuid4().hex}")
    code = f"""
        import pathlib, sys
        pathlib.Path("inside.txt").write_text("ok")
        for target in [{str(outside)!r}, "{Path.home()}/escape", "/usr/codecustom-escape", "/etc/escape"]:
            try:
                pathlib.Path(target).write_text("escaped")
                print("WROTE", target)
            except OSError as exc:
                print("blocked", target, exc.errno)
        pathlib.Path({str(in_tmp)!r}).write_text("private")  # /tmp is the sandbox's own tmpfs
    """
    result = Sandbox().run(_python(code), cwd=work, writable=[work])
    assert result.returncode == 0, result.stderr
    assert "WROTE" not in result.stdout and result.stdout.count("blocked") == 4
    assert not outside.exists() and not in_tmp.exists()
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


# -- host channels: what generated code must not see or reach ----------------------------------------


def test_generated_code_runs_unprivileged(work: Path) -> None:
    code = """
        import os
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        print(os.getuid(), os.geteuid(), os.getgid(), os.getgroups(), status["CapEff"].strip(),
              status["CapBnd"].strip(), status["NoNewPrivs"].strip())
    """
    result = Sandbox().run(_python(code), cwd=work, writable=[work])
    uid, euid, gid, groups, cap_eff, cap_bnd, nnp = result.stdout.split(" ", 6)
    assert uid == euid != "0" and gid != "0" and groups == "[]"
    if ROOT:
        assert uid == "65534" and result.isolation.uid == 65534 and result.isolation.unprivileged
    assert int(cap_eff, 16) == 0 and int(cap_bnd, 16) == 0 and nnp.strip() == "1"
    assert (work / "x").parent.stat().st_uid == int(uid)  # the temp copy is the command's own


@needs_root
def test_root_only_files_stay_unreadable(work: Path) -> None:
    planted = Path(f"/etc/codecustom-secret-{uuid.uuid4().hex}")  # visible (system folder), root-only
    planted.write_text("root's secret")
    planted.chmod(0o600)
    try:
        code = f"""
            for path in [{str(planted)!r}, "/etc/shadow"]:
                try:
                    print("READ", path, open(path).read()[:10])
                except OSError as exc:
                    print("blocked", path, exc.errno)
        """
        result = Sandbox().run(_python(code), cwd=work, writable=[work])
    finally:
        planted.unlink()
    assert "READ" not in result.stdout and result.stdout.count("blocked") == 2, result.stdout + result.stderr
    assert result.stdout.count(" 13") == 2  # EACCES: the file is there, nobody may not read it


@needs_fs
def test_only_the_temp_copy_system_folders_and_the_interpreter_are_visible(tmp_path: Path, work: Path) -> None:
    public = tmp_path / "public.txt"
    public.write_text("world-readable, outside the temp copy")
    public.chmod(0o644)
    project = Path(__file__).resolve().parents[2]  # codecustom's own source tree
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o700)
    (shared / "lib.jar").write_text("shared on purpose")
    (shared / "lib.jar").chmod(0o600)
    # the caller's home may hold the interpreter (pyenv); nothing else of it may show
    home = Path.home()
    in_home = [str(home / e) for e in sorted(os.listdir(home))[:20]
               if not any(p.startswith(str(home / e)) for p in sandbox_mod.interpreter_paths())]
    hidden = [str(public), str(project / "pyproject.toml"), "/run", "/var/run", "/var", "/home", "/srv", "/mnt",
              *in_home]
    code = f"""
        import os, pytest, coverage  # the interpreter and its packages load
        for path in {hidden!r}:
            print("SEEN" if os.path.lexists(path) else "absent", path)
        print(open({str(shared / "lib.jar")!r}).read())
    """
    result = Sandbox().run(_python(code), cwd=work, writable=[work], readable=[shared])
    assert result.returncode == 0, result.stderr
    assert "SEEN" not in result.stdout and result.stdout.count("absent") == len(hidden), result.stdout
    assert "shared on purpose" in result.stdout  # what the caller shares is readable, even root-only files


def _host_unix_listeners(tmp_path: Path) -> list[tuple[str, socket.socket]]:
    """World-connectable Unix sockets on the host: in a temp folder, in /run (where container runtimes
    keep theirs) when writable, and in the abstract namespace."""
    places = [str(tmp_path / "host.sock")]
    if os.access("/run", os.W_OK):
        places.append(f"/run/codecustom-test-{uuid.uuid4().hex}.sock")
    places.append(f"\0codecustom-test-{uuid.uuid4().hex}")
    listeners = []
    for place in places:
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(place)
        if not place.startswith("\0"):
            os.chmod(place, 0o666)
        server.listen()
        server.setblocking(False)
        listeners.append((place, server))
    return listeners


@needs_fs
@needs_net
def test_host_unix_sockets_cannot_be_reached(tmp_path: Path, work: Path) -> None:
    listeners = _host_unix_listeners(tmp_path)
    try:
        code = f"""
            import socket
            for place in {[p for p, _ in listeners]!r}:
                try:
                    socket.socket(socket.AF_UNIX).connect(place)
                    print("CONNECTED", repr(place))
                except OSError as exc:
                    print("blocked", repr(place), exc.errno)
        """
        result = Sandbox().run(_python(code), cwd=work, writable=[work])
        for _, server in listeners:  # nothing reached any host listener
            with pytest.raises(BlockingIOError):
                server.accept()
    finally:
        for place, server in listeners:
            server.close()
            if not place.startswith("\0"):
                Path(place).unlink(missing_ok=True)
    assert "CONNECTED" not in result.stdout and result.stdout.count("blocked") == len(listeners), \
        result.stdout + result.stderr


@needs_fs
@needs_pid
def test_proc_shows_only_the_sandbox(tmp_path: Path, work: Path) -> None:
    marker = f"{time.time() % 1000 + 400:.6f}"
    host = subprocess.Popen(["sleep", marker])  # a host process the sandbox must not see
    secret_dir = tmp_path / f"secret-{uuid.uuid4().hex}"
    secret_dir.mkdir()
    try:
        code = f"""
            import os
            pids = [p for p in os.listdir("/proc") if p.isdigit()]
            cmdlines = [open(f"/proc/{{p}}/cmdline", "rb").read() for p in pids]
            marker = "{marker[::-1]}"[::-1].encode()  # not spelled out in this program's own command line
            print("pids", len(pids), any(marker in c for c in cmdlines))
            try:
                print("root", sorted(os.listdir("/proc/1/root")))
            except OSError as exc:
                print("root", "blocked", exc.errno)
            print("mounts", {secret_dir.name!r} in open("/proc/self/mountinfo").read())
            for path, data in [("/proc/sys/kernel/hostname", "x"), ("/proc/sysrq-trigger", "h"),
                               ("/proc/1/attr/current", "x")]:
                try:
                    open(path, "w").write(data)
                    print("WROTE", path)
                except OSError as exc:
                    print("blocked", path)
            try:
                os.kill(1, 9)  # the sandbox's own init
                print("KILLED init")
            except OSError:
                print("blocked kill")
        """
        result = Sandbox().run(_python(code), cwd=work, writable=[work])
    finally:
        host.kill()
        host.wait()
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    count, seen = lines["pids"].split()
    assert int(count) <= 3 and seen == "False", result.stdout  # init, the command (and nothing of the host)
    assert "'var'" not in lines["root"] and "'run'" not in lines["root"] and "'home'" not in lines["root"]
    assert lines["mounts"] == "False"  # the host's mounts are not listed either
    assert "WROTE" not in result.stdout and result.stdout.count("blocked") >= 4, result.stdout + result.stderr


@needs_pid
def test_a_setsid_daemon_dies_with_the_run(work: Path) -> None:
    marker = uuid.uuid4().hex
    code = f"""
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:  # a classic daemon: detached, reparented, its own session
                sys.argv.append("{marker}")
                os.execv(sys.executable, [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)",
                                          "{marker}"])
            os._exit(0)
        print("daemonized")
    """
    result = Sandbox(SandboxLimits(wall_seconds=30)).run(_python(code), cwd=work, writable=[work])
    assert result.returncode == 0 and "daemonized" in result.stdout, result.stderr
    assert not _alive_with(marker)


@needs_landlock
def test_landlock_alone_confines_paths() -> None:
    """Where no mount namespace can be had, Landlock still allow-lists the same paths."""
    tmp_path = Path(tempfile.mkdtemp(prefix="codecustom-landlock-test-"))
    tmp_path.chmod(0o755)  # reachable by nobody: what stops the reads and writes below is Landlock alone
    work = tmp_path / "work"
    work.mkdir()
    planted = tmp_path / "outside.txt"
    planted.write_text("outside")
    planted.chmod(0o644)
    in_tmp = f"/tmp/codecustom-landlock-{uuid.uuid4().hex}"
    script = (f"echo ok > inside.txt; cat {planted} >/dev/null 2>&1 && echo DONE read || echo blocked read; "
              f"(echo x > {tmp_path / 'new.txt'}) 2>/dev/null && echo DONE write || echo blocked write; "
              f"(echo x > {in_tmp}) 2>/dev/null && echo DONE write tmp || echo blocked write tmp")
    # a shell, not this Python: without the private view, a root caller's pyenv under /root is out of reach
    result = sandbox_mod._run(["/bin/sh", "-c", script], work, [work], [], {}, SandboxLimits(),
                              {"filesystem": False, "network": True, "pid": True}, [])
    try:
        assert not result.isolation.filesystem and result.isolation.landlock
        assert "DONE" not in result.stdout and result.stdout.count("blocked") == 3, result.stdout + result.stderr
        assert (work / "inside.txt").read_text() == "ok\n" and not (tmp_path / "new.txt").exists()
        assert not Path(in_tmp).exists()
    finally:
        shutil.rmtree(tmp_path)


def test_missing_protections_are_reported() -> None:
    degraded = sandbox_mod.Isolation(notes=["no user namespace (Operation not permitted)"])
    lines = degraded.describe()
    assert any(line.startswith("filesystem: NOT isolated") for line in lines)
    assert any(line.startswith("network: NOT isolated") for line in lines)
    assert any(line.startswith("user: NOT unprivileged") for line in lines)
    assert any(line.startswith("paths: no Landlock") for line in lines)
    assert "note: no user namespace (Operation not permitted)" in lines
