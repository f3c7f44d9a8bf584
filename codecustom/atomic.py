"""Folders that appear whole or not at all, and the repair of a swap that a kill interrupted.

A writer fills a hidden sibling ``.<name>.tmp-<pid>-<tag>`` and swaps it into place with
:func:`swap_into_place`: the previous version is renamed to ``.<name>.old-<pid>-<tag>``, the new one
to ``<name>``, then the old one is deleted. A kill can stop this between any two steps. The next
start calls :func:`recover`, which, once the writer is gone, puts a complete version back where a
kill left none (the new one when it was complete, else the old one) and deletes the leftovers.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

LEFTOVER = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?P<pid>\d+)(?:-[0-9a-f]+)?$")


def temp_sibling(target: Path, kind: str = "tmp") -> Path:
    """A fresh hidden sibling of ``target`` for this process (``kind`` tmp: being written; old: replaced)."""
    return target.parent / f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def swap_into_place(tmp: Path, target: Path) -> None:
    """Replace ``target`` (if any) with the complete folder ``tmp``; :func:`recover` finishes it after a kill."""
    old = None
    if target.exists():
        old = temp_sibling(target, "old")
        os.replace(target, old)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _writer_gone(pid: int, path: Path) -> bool:
    """True when the process that made ``path`` has ended (a live process that reused the pid started later)."""
    import psutil

    if pid == os.getpid():
        return False
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False
    try:
        return started > path.lstat().st_ctime + 1.0
    except OSError:
        return False


def leftovers(parent: Path) -> dict[str, list[tuple[str, Path]]]:
    """Hidden tmp/old siblings in ``parent`` whose writer is gone, by the name they were for."""
    found: dict[str, list[tuple[str, Path]]] = {}
    try:
        entries = list(parent.iterdir())
    except OSError:
        return found
    for entry in entries:
        match = LEFTOVER.match(entry.name)
        if match and _writer_gone(int(match["pid"]), entry):
            found.setdefault(match["name"], []).append((match["kind"], entry))
    return found


def recover(parent: Path, complete: Callable[[Path], bool], *, only: str | None = None) -> list[str]:
    """Repair every interrupted write or swap in ``parent`` (of the folder named ``only``, when given);
    returns one line per repair, for the user.

    ``complete(folder)`` says whether a folder holds a whole version (e.g. its manifest, written last)."""
    notes: list[str] = []
    for name, items in leftovers(parent).items():
        if only is not None and name != only:
            continue
        target = parent / name
        try:
            if not target.exists():
                olds = [p for kind, p in items if kind == "old" and complete(p)]
                news = [p for kind, p in items if kind == "tmp" and complete(p)]
                # a kill between the swap's two renames: its new version was complete, else keep the old one
                restore = max(news, key=lambda p: p.stat().st_mtime) if olds and news else (olds or [None])[0]
                if restore is not None:
                    os.replace(restore, target)
                    notes.append(f"restored {target} (a replacement was interrupted)")
            for _, leftover in items:
                if leftover.exists():
                    shutil.rmtree(leftover, ignore_errors=True)
                    notes.append(f"removed {leftover.name}, left by an interrupted write")
        except OSError:  # a read-only store: nothing to repair from here
            continue
    return notes
