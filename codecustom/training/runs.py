"""A strategy's run folder and who may write it: locks, the settings record, complete checkpoints.

One run folder per (store, project, task, strategy), under ``<home>/runs/``; :class:`RunFolder` is its
only owner. A run holds two exclusive locks while it trains and saves — one on its artifact's place in
the store, one on its run folder — so a second run of the same strategy stops with one line naming the
holder (or waits for it). Locks are ``flock`` locks: the kernel drops them when a process dies, however
it dies, so there is never a stale lock to delete by hand.

A checkpoint counts only when complete: Trainer writes ``checkpoint-N/`` file by file, and a kill in the
middle leaves a folder Trainer cannot resume from. After Trainer saved one, :func:`mark_complete`
records every file and its size in ``checkpoint-N/codecustom-complete.json`` (written last, atomically);
resuming takes the newest checkpoint whose files all match, and removes the others.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom import paths
from codecustom.errors import UsageError

SETTINGS = "run.json"
COMPLETE = "codecustom-complete.json"
CHECKPOINT_PREFIX = "checkpoint-"


# -- locks -------------------------------------------------------------------------------------------

def _holder_line() -> str:
    command = " ".join([Path(sys.argv[0]).name] + sys.argv[1:]) if sys.argv and sys.argv[0] else "python"
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    return f"pid {os.getpid()} on {socket.gethostname()}, since {started}: {command}"[:400]


def _lock_one(path: Path, what: str, *, wait: bool, on_wait: Callable[[str], None] | None) -> Any:
    """An open file holding an exclusive flock on ``path``; the holder's description is written into it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            if not wait:
                raise UsageError(f"{what} is in use by another run ({holder})",
                                 hint="let it finish, or rerun with --wait to start when it is done") from None
            if on_wait is not None:
                on_wait(f"waiting for {what}, in use by another run ({holder})")
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(_holder_line() + "\n")
        fh.flush()
        return fh
    except BaseException:
        fh.close()
        raise


def hold_locks(locks: list[tuple[Path, str]], *, wait: bool = False,
               on_wait: Callable[[str], None] | None = None) -> ExitStack:
    """Take every (lock file, description) in order; the returned stack releases them on close."""
    stack = ExitStack()
    try:
        for path, what in locks:
            stack.enter_context(_lock_one(path, what, wait=wait, on_wait=on_wait))
    except BaseException:
        stack.close()
        raise
    return stack


# -- checkpoints -------------------------------------------------------------------------------------

def _files(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != COMPLETE}


def mark_complete(checkpoint: Path) -> None:
    """Record that ``checkpoint`` is fully written (its files and sizes), atomically, as its last file."""
    tmp = checkpoint / f".{COMPLETE}.tmp"
    tmp.write_text(json.dumps({"files": _files(checkpoint)}, indent=1), encoding="utf-8")
    os.replace(tmp, checkpoint / COMPLETE)


def is_complete(checkpoint: Path) -> bool:
    """True when ``checkpoint`` was marked complete and every file it listed is still there, whole."""
    try:
        listed = json.loads((checkpoint / COMPLETE).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    try:
        return bool(listed) and all((checkpoint / name).stat().st_size == size for name, size in listed.items())
    except OSError:
        return False


def _step(checkpoint: Path) -> int:
    tail = checkpoint.name[len(CHECKPOINT_PREFIX):]
    return int(tail) if tail.isdigit() else -1


def checkpoints(folder: Path) -> list[Path]:
    """``checkpoint-N`` folders in ``folder``, oldest step first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and _step(p) >= 0]
    return sorted(found, key=_step)


# -- the run folder ------------------------------------------------------------------------------------

def store_key(store: str | os.PathLike[str] | None) -> str:
    """A short stable id of an artifact store, so runs for different stores never share a folder."""
    resolved = Path(store or paths.store_dir()).expanduser().resolve()
    return hashlib.sha256(str(resolved).encode()).hexdigest()[:12]


@dataclass
class RunFolder:
    """``<home>/runs/<store key>/<project>/<task>/<strategy>/``: settings record and checkpoints of one run."""

    path: Path
    notes: list[str] = field(default_factory=list)  # what resuming did
    skipped: list[str] = field(default_factory=list)  # incomplete checkpoints it removed

    @classmethod
    def of(cls, project: str, task: str, strategy: str, store: str | os.PathLike[str] | None) -> RunFolder:
        return cls(paths.home() / "runs" / store_key(store) / project / task / strategy)

    @property
    def lock_file(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    def start_fresh(self, fingerprint: str, strategy: str) -> None:
        """Clear what an earlier run left and record this run's settings (before any checkpoint exists)."""
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir(parents=True)
        tmp = self.path / f".{SETTINGS}.tmp"
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "strategy": strategy}), encoding="utf-8")
        os.replace(tmp, self.path / SETTINGS)

    def resume_point(self, fingerprint: str, strategy: str) -> Path | None:
        """The newest complete checkpoint of an interrupted run with these exact settings (None: start over).

        Refuses (UsageError) a run folder whose recorded settings differ. Incomplete checkpoints are
        removed and named in :attr:`skipped`."""
        record = self.path / SETTINGS
        if not record.is_file():
            if checkpoints(self.path):
                raise UsageError(f"the interrupted {strategy} run in {self.path} has no record of its settings",
                                 hint="rerun without --resume to start over")
            self.notes.append(f"nothing to resume in {self.path}; training from the start")
            self.start_fresh(fingerprint, strategy)
            return None
        try:
            previous = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {record}: {exc}", hint="rerun without --resume to start over") from exc
        if previous.get("fingerprint") != fingerprint:
            raise UsageError(f"the interrupted {strategy} run in {self.path} used different settings, data or base",
                             hint="rerun without --resume to start over, or resume with the same options")
        found = checkpoints(self.path)
        last = self.newest_complete()
        complete = [c for c in found if is_complete(c)]
        for checkpoint in found:
            if checkpoint not in complete:
                self.skipped.append(f"skipped {checkpoint.name}: incomplete (interrupted while it was being written)")
                shutil.rmtree(checkpoint, ignore_errors=True)
        if last is None:
            self.notes.append(f"no complete checkpoint in {self.path}; training from the start")
        else:
            self.notes.append(f"resuming from {last.name}")
        return last

    def newest_complete(self) -> Path | None:
        complete = [c for c in checkpoints(self.path) if is_complete(c)]
        return complete[-1] if complete else None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
