"""Run untrusted generated code: temp copies only, no network, no privileges, hard limits, nothing left running.

A :class:`Sandbox` runs one command at a time through ``launcher.py`` (see its docstring for the
mechanics). Isolation is detected once per process with :func:`probe` and then *required* on every
run, so a report can say exactly what protected the machine:

- ``filesystem``: a private root holding only the system folders and the interpreter (read-only) and
  the run's temp copy (writable): no host socket, runtime folder (/run), home or other file is visible;
- ``network``: a private network namespace with only a loopback interface (host abstract sockets too);
- ``pid``: a private PID namespace whose init exits with the command, so the kernel kills leftovers;
- ``unprivileged``: the command never runs as root (a root caller's runs become nobody, 65534);
- Landlock, where the kernel has it: the same allow-list enforced again, per path;
- process cap: a pids cgroup when one is writable, else RLIMIT_NPROC plus a watchdog in this process
  that kills the run when its process tree grows past the cap;
- always: wall-clock timeout killing the whole process group, CPU/memory/file-size/open-file rlimits,
  no capabilities, no-new-privileges, and an environment without credentials.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from codecustom.evaluation.sandbox.cgroup import PidsCgroup
from codecustom.evaluation.sandbox.env import sandbox_env

LAUNCHER = Path(__file__).with_name("launcher.py")
SETUP_FAILED = 125
NOBODY = 65534
NAMESPACES = ("filesystem", "network", "pid")
REQUIRABLE = NAMESPACES + ("unprivileged",)
# What every sandboxed command may read: the system's programs, libraries and configuration. Never
# /run, /var, /tmp, /home, /root, /srv, /mnt or /media (sockets, runtime state, other people's files).
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
_OUTPUT_LIMIT = 256 * 1024  # bytes of stdout/stderr kept per run


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one sandboxed command."""

    wall_seconds: float = 120.0
    cpu_seconds: int = 300
    memory_bytes: int = 4 << 30  # address space (RLIMIT_AS)
    max_processes: int = 64
    max_file_bytes: int = 256 << 20
    max_open_files: int = 1024


@dataclass
class Isolation:
    """What actually isolated a run (or would, for :func:`probe`)."""

    filesystem: bool = False
    network: bool = False
    pid: bool = False
    cgroup: bool = False
    no_new_privs: bool = False
    unprivileged: bool = False
    uid: int | None = None  # the uid the command ran as
    landlock: str = ""  # what Landlock enforced, "" when it is unavailable
    process_limit: str = "watchdog"  # cgroup | rlimit | watchdog
    notes: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per protection, for reports."""
        yes = lambda ok, what, fallback: what if ok else fallback  # noqa: E731
        who = "nobody (65534)" if self.uid == NOBODY else f"uid {self.uid}"
        return [
            yes(self.filesystem, "filesystem: a private root with only system folders and the interpreter "
                "(read-only) and the temp copy (writable); no host socket, /run, /tmp or home visible",
                "filesystem: NOT isolated by a mount namespace; runs happen in a temp copy with HOME/TMPDIR inside it"),
            yes(bool(self.landlock), f"paths: {self.landlock}",
                "paths: no Landlock in this kernel (the mount view alone limits paths)"),
            yes(self.unprivileged, f"user: runs as {who}, no capabilities",
                "user: NOT unprivileged (runs as root: could not switch to nobody)"),
            yes(self.network, "network: none (private network namespace, loopback only)",
                "network: NOT isolated (no network namespace available)"),
            yes(self.pid, "processes: private PID namespace; leftovers die with the command",
                "processes: no PID namespace; leftovers killed through the process tree"),
            {"cgroup": "process count: capped by a pids cgroup",
             "rlimit": "process count: capped by RLIMIT_NPROC",
             "watchdog": "process count: capped by a watchdog (root without a writable pids cgroup)"}[self.process_limit],
            "limits: wall time, CPU time, address space, file size, open files; no capabilities; "
            "credentials removed from the environment",
        ] + [f"note: {n}" for n in self.notes]


@dataclass
class SandboxResult:
    """Outcome of one sandboxed command."""

    returncode: int | None
    stdout: str
    stderr: str
    wall_seconds: float
    timed_out: bool = False
    killed: str | None = None  # why the run was killed: timeout | process limit
    peak_processes: int | None = None  # most processes alive at once, when the kernel reports it
    isolation: Isolation = field(default_factory=Isolation)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.killed

    def as_dict(self) -> dict:
        return asdict(self)


class SandboxError(RuntimeError):
    """The sandbox itself could not be set up (not a failure of the sandboxed command)."""


class Sandbox:
    """Runs commands with the isolation found by :func:`probe` (or stricter: see ``require``)."""

    def __init__(self, limits: SandboxLimits | None = None, *, require: Sequence[str] | None = None) -> None:
        self.limits = limits or SandboxLimits()
        self.isolation = probe()
        available = [k for k in REQUIRABLE if getattr(self.isolation, k)]
        self.require = list(require) if require is not None else available
        missing = [k for k in self.require if not getattr(self.isolation, k)]
        if missing:
            raise SandboxError(f"this machine cannot provide sandbox isolation: {', '.join(missing)}; "
                               + "; ".join(self.isolation.notes))

    def run(self, argv: Sequence[str], *, cwd: str | os.PathLike[str], writable: Sequence[str | os.PathLike[str]],
            readable: Sequence[str | os.PathLike[str]] = (), env: Mapping[str, str] | None = None,
            limits: SandboxLimits | None = None) -> SandboxResult:
        """Run ``argv`` in ``cwd``; only ``writable`` folders (which must hold ``cwd``) can be written, and
        only they, the system folders, this Python and ``readable`` paths can be read."""
        return _run(list(argv), Path(cwd), [Path(w) for w in writable], [Path(r) for r in readable],
                    dict(env or {}), limits or self.limits, {k: True for k in NAMESPACES}, self.require)


def interpreter_paths(python: str | None = None) -> list[str]:
    """The folders a Python interpreter needs to start and import its installed packages."""
    if python is None or os.path.realpath(python) == os.path.realpath(sys.executable):
        return _interpreter_paths_here()
    return list(_interpreter_paths_of(python))


def _interpreter_paths_here() -> list[str]:
    import sysconfig

    found = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
             os.path.dirname(os.path.realpath(sys.executable))}
    found.update(v for k, v in sysconfig.get_paths().items() if k in {"stdlib", "platstdlib", "purelib", "platlib"})
    return sorted(found)


@functools.lru_cache(maxsize=8)
def _interpreter_paths_of(python: str) -> tuple[str, ...]:
    code = "import json,sys;print(json.dumps([sys.prefix,sys.base_prefix,sys.exec_prefix,sys.base_exec_prefix]))"
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60).stdout
        found = set(json.loads(out))
    except (OSError, subprocess.TimeoutExpired, ValueError):
        found = set()
    found.add(os.path.dirname(os.path.realpath(python)))
    return tuple(sorted(found))


def _rlimits(limits: SandboxLimits) -> dict[str, int]:
    # RLIMIT_NPROC counts all processes of the user the command runs as (nobody for a root caller)
    nproc = limits.max_processes + _user_process_count(NOBODY if os.getuid() == 0 else os.getuid())
    return {"AS": limits.memory_bytes, "CPU": limits.cpu_seconds, "FSIZE": limits.max_file_bytes,
            "NOFILE": limits.max_open_files, "NPROC": nproc, "CORE": 0}


def _user_process_count(uid: int) -> int:
    import psutil

    count = 0
    for proc in psutil.process_iter(["uids"]):
        try:
            if proc.info["uids"] and proc.info["uids"].real == uid:
                count += 1
        except psutil.Error:
            continue
    return count


def _run(argv: list[str], cwd: Path, writable: list[Path], readable: list[Path], env_extra: dict[str, str],
         limits: SandboxLimits, isolate: dict[str, bool], require: list[str]) -> SandboxResult:
    cwd = cwd.resolve()
    writable = [w.resolve() for w in writable]
    if not any(cwd == w or w in cwd.parents for w in writable):
        raise ValueError(f"sandbox cwd {cwd} is not inside a writable folder")
    home, tmp = writable[0] / ".sandbox-home", writable[0] / ".sandbox-tmp"
    home.mkdir(exist_ok=True)
    tmp.mkdir(exist_ok=True)
    env = sandbox_env(str(home), str(tmp), env_extra)
    cgroup = PidsCgroup.create(limits.max_processes + 2)  # + the launcher and its init
    read_fd, write_fd = os.pipe()
    shown = list(SYSTEM_PATHS) + interpreter_paths() + [os.path.abspath(r) for r in readable]
    shown += [os.path.realpath(r) for r in readable]  # a path through a symlinked folder: show both
    # what the caller shares is readable even where only root could read it; system folders never are
    system = tuple(os.path.realpath(p) for p in SYSTEM_PATHS) + tuple(interpreter_paths())
    shared = {os.path.realpath(r) for r in readable}
    shared = {p for p in shared if not any(p == s or p.startswith(s.rstrip("/") + "/") for s in system)}
    with tempfile.TemporaryDirectory(prefix="codecustom-sbx-out-") as out_dir:
        root_dir = Path(out_dir) / "root"  # the launcher mounts the sandbox's private root here
        root_dir.mkdir()
        cfg = {"argv": argv, "cwd": str(cwd), "env": env, "writable": [str(w) for w in writable],
               "readable": sorted(set(shown)), "shared": sorted(shared),
               "root_dir": str(root_dir), "isolate": isolate, "require": require,
               "rlimits": _rlimits(limits), "status_fd": write_fd,
               "cgroup_procs": str(cgroup.procs_file) if cgroup else None}
        out_path, err_path = Path(out_dir) / "stdout", Path(out_dir) / "stderr"
        start = time.monotonic()
        killed = None
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen([sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(cfg)],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, pass_fds=(write_fd,),
                                    start_new_session=True, env={"PATH": env.get("PATH", os.defpath)})
            os.close(write_fd)
            try:
                killed = _wait(proc, limits, cgroup)
            finally:
                peak = cgroup.peak() if cgroup else None
                _kill_tree(proc, cgroup)
        wall = time.monotonic() - start
        status = _read_status(read_fd)
        stdout, stderr = _tail(out_path), _tail(err_path)
    isolation = Isolation(**{k: bool(status.get(k)) for k in NAMESPACES + ("cgroup", "no_new_privs", "unprivileged")},
                          uid=status.get("uid"), landlock=status.get("landlock") or "",
                          process_limit="cgroup" if status.get("cgroup") else
                          ("rlimit" if status.get("unprivileged") else "watchdog"),
                          notes=list(status.get("notes", [])))
    code = proc.returncode
    if code == SETUP_FAILED and stderr.startswith("sandbox: required isolation"):
        raise SandboxError(stderr.strip())
    return SandboxResult(returncode=None if killed else code, stdout=stdout, stderr=stderr, wall_seconds=wall,
                         timed_out=killed == "timeout", killed=killed, peak_processes=peak,
                        isolation=isolation)


def _wait(proc: subprocess.Popen, limits: SandboxLimits, cgroup: PidsCgroup | None) -> str | None:
    """Wait for the command; returns why it was killed (``timeout``/``process limit``) or None."""
    import psutil

    deadline = time.monotonic() + limits.wall_seconds
    watch = cgroup is None  # without a cgroup, count the tree ourselves
    try:
        root = psutil.Process(proc.pid)
    except psutil.Error:
        root = None
    while True:
        try:
            proc.wait(timeout=0.05)
            return None
        except subprocess.TimeoutExpired:
            pass
        if time.monotonic() > deadline:
            return "timeout"
        if watch and root is not None:
            try:
                if len(root.children(recursive=True)) > limits.max_processes + 2:
                    return "process limit"
            except psutil.Error:
                pass


def _kill_tree(proc: subprocess.Popen, cgroup: PidsCgroup | None) -> None:
    """Kill the launcher's session, its whole process tree and the cgroup's members; reap the launcher."""
    import psutil

    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.Error:
            pass
    if cgroup is not None:
        cgroup.remove()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _read_status(fd: int) -> dict:
    with os.fdopen(fd, "rb") as fh:
        data = fh.read().decode("utf-8", errors="replace").strip().splitlines()
    try:
        return json.loads(data[-1]) if data else {}
    except json.JSONDecodeError:
        return {}


def _tail(path: Path) -> str:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - _OUTPUT_LIMIT))
        data = fh.read()
    text = data.decode("utf-8", errors="replace")
    return text if size <= _OUTPUT_LIMIT else f"[... {size - _OUTPUT_LIMIT} bytes cut ...]\n{text}"


@functools.lru_cache(maxsize=1)
def probe() -> Isolation:
    """Which isolation this machine gives (a trivial run with everything requested, nothing required)."""
    with tempfile.TemporaryDirectory(prefix="codecustom-sbx-probe-") as work:
        result = _run([sys.executable, "-I", "-S", "-c", "pass"], Path(work), [Path(work)], [], {},
                      SandboxLimits(wall_seconds=30), {k: True for k in NAMESPACES}, [])
    return result.isolation


__all__ = ["Isolation", "Sandbox", "SandboxError", "SandboxLimits", "SandboxResult", "interpreter_paths", "probe"]
