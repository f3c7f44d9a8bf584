"""A throw-away pids cgroup per sandboxed run: a hard cap on processes, and a list of who to kill.

Uses the cgroup-v1 ``pids`` hierarchy or a cgroup-v2 tree with the ``pids`` controller delegated to us.
When neither is writable (most unprivileged desktops), :meth:`PidsCgroup.create` returns None and the
sandbox falls back to RLIMIT_NPROC plus a watchdog.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

_counter = itertools.count()


def _mounts() -> list[tuple[str, str, str]]:
    """(mount point, fs type, super options) from /proc/self/mountinfo."""
    out = []
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, rfields = left.split(), right.split()
        if len(fields) >= 5 and len(rfields) >= 3:
            out.append((fields[4].replace("\\040", " "), rfields[0], rfields[2]))
    return out


def _own_paths() -> dict[str, str]:
    """controller (or '' for v2) -> our cgroup path, from /proc/self/cgroup."""
    paths: dict[str, str] = {}
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                paths[c] = path
    except (OSError, ValueError):
        pass
    return paths


def _candidate_parents() -> list[Path]:
    own = _own_paths()
    parents = []
    for mount, fstype, opts in _mounts():
        if fstype == "cgroup" and "pids" in opts.split(","):
            parents.append(Path(mount) / own.get("pids", "/").lstrip("/"))
        elif fstype == "cgroup2":
            base = Path(mount) / own.get("", "/").lstrip("/")
            try:
                if "pids" in (base / "cgroup.subtree_control").read_text().split():
                    parents.append(base)
            except OSError:
                continue
    return parents


class PidsCgroup:
    """A cgroup that allows at most ``max_pids`` processes; remove() kills its members and deletes it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> PidsCgroup | None:
        for parent in _candidate_parents():
            path = parent / f"codecustom-sandbox-{os.getpid()}-{next(_counter)}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(max_pids))
                return cls(path)
            except OSError:
                path.rmdir()
        return None

    @property
    def procs_file(self) -> Path:
        return self.path / "cgroup.procs"

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except OSError:
            return []

    def peak(self) -> int | None:
        """Most processes alive at once (kernels that report pids.peak), else None."""
        try:
            return int((self.path / "pids.peak").read_text())
        except (OSError, ValueError):
            return None

    def kill_all(self, timeout: float = 5.0) -> None:
        """SIGKILL every member until the cgroup is empty (or ``timeout`` passes)."""
        kill_file = self.path / "cgroup.kill"  # v2: one write kills the whole tree
        if kill_file.exists():
            try:
                kill_file.write_text("1")
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:  # members still exiting
                time.sleep(0.02)
