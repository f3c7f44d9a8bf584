"""Environmental failures (disk full, read-only output, a damaged pickle, ...) end with exit 2 and a
one-line hint, through the real CLI; a bug of ours stays an "internal error" with exit 1."""

from __future__ import annotations

import ctypes
import errno
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from codecustom.cli import main
from codecustom.errors import environment_problem
from tests.support.datasets import write_dataset
from tests.support.fixture_repos import build_fixture_repo

MS_RDONLY, MS_REC, MS_PRIVATE = 1, 16384, 1 << 18
CLONE_NEWNS = 0x00020000


def test_environmental_causes_are_recognized_anywhere_in_the_chain():
    full = environment_problem(OSError(errno.ENOSPC, "No space left on device", "/data/ds/files.jsonl"))
    assert full.one_line().startswith("no space left on the device: /data/ds/files.jsonl (free some space")
    rust = environment_problem(RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"))
    assert rust.message.startswith("no space left on the device (Error while serializing")
    try:
        try:
            raise PermissionError(errno.EROFS, "Read-only file system", "/ro/store")
        except OSError as exc:
            raise ValueError("could not save") from exc
    except ValueError as wrapped:
        assert environment_problem(wrapped).message == "the filesystem is read-only: /ro/store"
    assert "pickled weights" in environment_problem(pickle.UnpicklingError("invalid load key, 'g'.")).message
    assert environment_problem(MemoryError()).message == "out of memory"
    assert environment_problem(ValueError("a bug")) is None


def test_a_bug_is_still_an_internal_error(monkeypatch, capsys):
    from codecustom.cli import mine as mine_cli

    def broken(args, console):
        raise ValueError("line one\nline two")

    monkeypatch.setattr(mine_cli, "run", broken)
    assert main(["mine", "."]) == 1
    err = capsys.readouterr().err
    assert "internal error: ValueError: line one line two" in err and len(err.strip().splitlines()) == 1


def _private_tmpfs(target: Path, options: str, flags: int = 0):
    """A preexec_fn: the child gets its own mount namespace with a tmpfs (``options``) on ``target``."""
    def enter() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(CLONE_NEWNS) != 0 or libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) != 0 or \
                libc.mount(b"tmpfs", str(target).encode(), b"tmpfs", flags, options.encode()) != 0:
            os._exit(99)
    return enter


needs_root = pytest.mark.skipif(os.getuid() != 0, reason="mounting a small or read-only tmpfs needs root")


def _codecustom(args: list[str], preexec=None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "codecustom", *args], capture_output=True, text=True,
                          preexec_fn=preexec, timeout=600)
    assert done.returncode != 99, "could not set up the mount"
    return done


@needs_root
@pytest.mark.parametrize("options, flags, message", [
    ("size=8k", 0, "no space left on the device"),
    ("size=1m", MS_RDONLY, "the filesystem is read-only"),
])
def test_full_or_read_only_output_is_a_one_line_error(tmp_path, options, flags, message):
    repo = build_fixture_repo("python_repo", tmp_path / "repo")
    target = tmp_path / "out"
    target.mkdir()
    done = _codecustom(["mine", str(repo), "--out", str(target / "ds")], _private_tmpfs(target, options, flags))
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert message in err and "write elsewhere (--out, --store, $CODECUSTOM_HOME)" in err
    assert not any((repo / name).exists() for name in ("ds", "manifest.json"))


def test_a_damaged_pickled_model_is_a_one_line_error(tiny_model, tmp_path):
    import shutil

    import torch
    from safetensors.torch import load_file

    model = tmp_path / "pickled"
    shutil.copytree(tiny_model("gpt2"), model)
    weights = model / "model.safetensors"
    torch.save(load_file(str(weights)), model / "pytorch_model.bin")
    weights.unlink()
    data = (model / "pytorch_model.bin").read_bytes()
    (model / "pytorch_model.bin").write_bytes(data[: len(data) // 2])  # cut short, as by a failed download
    dataset = write_dataset(tmp_path / "ds")
    done = _codecustom(["customize", str(dataset), "--base", str(model), "--allow-pickle", "--strategy", "l-eo"])
    err = done.stderr.strip()
    assert done.returncode == 2 and len(err.splitlines()) == 1, err
    assert "a pickled weights file cannot be loaded" in err and "safetensors" in err
