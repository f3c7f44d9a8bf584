"""kill -9 at a chosen save boundary: run a function in a forked child that SIGKILLs itself there.

A *boundary* is a call of one of the functions that put state on disk (renames, deletes, tensor and
JSON writes). ``run_with_kill(fn, BOUNDARIES, kill_at=k)`` forks; the child wraps every boundary
function, counts their calls in order, and at the ``k``-th call sends itself SIGKILL — before the call
(``torn=False``), or after letting a file write finish and then cutting the file in half (``torn=True``:
the kernel died mid-write). No ``finally`` or ``except`` of the code under test runs, as with a real
kill. With ``kill_at=None`` the child runs to the end; either way the parent learns the boundaries
reached. Fork keeps each trial cheap: the child starts with this process's imports and loaded models.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _file_argument(name: str, args: tuple, kwargs: dict) -> Path | None:
    """The path a boundary function writes, when it writes a file given by name."""
    candidates = {"torch.save": (1, "f"), "safetensors.torch.save_file": (1, "filename"),
                  "TrainerState.save_to_json": (1, "json_path")}
    if name not in candidates:
        return None
    index, key = candidates[name]
    value = kwargs.get(key, args[index] if len(args) > index else None)
    return Path(value) if isinstance(value, (str, os.PathLike)) else None


def boundaries() -> list[tuple[str, Any, str]]:
    """(label, owner object, attribute) of every function through which training and saving touch disk."""
    import shutil

    import peft.peft_model
    import safetensors.torch
    import torch
    import transformers.modeling_utils
    from transformers.trainer_callback import TrainerState

    return [("os.replace", os, "replace"), ("os.rename", os, "rename"), ("shutil.rmtree", shutil, "rmtree"),
            ("torch.save", torch, "save"), ("safetensors.torch.save_file", safetensors.torch, "save_file"),
            # bound at import time by these modules under another name
            ("safetensors.torch.save_file", transformers.modeling_utils, "safe_save_file"),
            ("safetensors.torch.save_file", peft.peft_model, "safe_save_file"),
            ("TrainerState.save_to_json", TrainerState, "save_to_json")]


@dataclass
class Trial:
    """What happened in one child: the boundaries it reached (in order) and how it ended."""

    reached: list[str]
    killed: bool
    exit_code: int | None
    error: str = ""


def run_with_kill(fn: Callable[[], Any], *, kill_at: int | None, torn: bool = False) -> Trial:
    """Run ``fn`` in a forked child killed at boundary number ``kill_at`` (1-based); see the module doc."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_fd)
        code = 0
        try:
            _instrument(write_fd, kill_at, torn)
            fn()
        except BaseException:  # noqa: BLE001 - report and leave
            os.write(write_fd, ("ERROR " + traceback.format_exc().replace("\n", " | ") + "\n").encode())
            code = 1
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        lines = fh.read().decode().splitlines()
    _, status = os.waitpid(pid, 0)
    killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    reached = [line for line in lines if not line.startswith("ERROR ")]
    error = next((line[6:] for line in lines if line.startswith("ERROR ")), "")
    return Trial(reached, killed, os.waitstatus_to_exitcode(status) if not killed else None, error)


def _instrument(report_fd: int, kill_at: int | None, torn: bool) -> None:
    count = [0]
    for label, owner, attr in boundaries():
        real = getattr(owner, attr)

        def wrapped(*args: Any, _real: Callable = real, _label: str = label, **kwargs: Any) -> Any:
            count[0] += 1
            os.write(report_fd, (_label + "\n").encode())
            if count[0] != kill_at:
                return _real(*args, **kwargs)
            target = _file_argument(_label, args, kwargs) if torn else None
            if target is not None:
                _real(*args, **kwargs)
                size = target.stat().st_size
                os.truncate(target, size // 2)
            os.kill(os.getpid(), signal.SIGKILL)

        setattr(owner, attr, wrapped)
