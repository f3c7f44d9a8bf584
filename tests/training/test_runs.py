"""Run folders: one owner, one writer (locks), the settings guard, and only complete checkpoints resumed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from codecustom.cli import main
from codecustom.errors import UsageError
from codecustom.modeling.artifacts import artifact_dir, list_artifacts
from codecustom.training.runs import RunFolder, hold_locks, is_complete, mark_complete

FAST = ["--max-steps", "6", "--eval-steps", "2", "--max-length", "128"]


def _checkpoint(folder: Path, step: int, *, complete: bool) -> Path:
    ckpt = folder / f"checkpoint-{step}"
    ckpt.mkdir(parents=True)
    (ckpt / "model.safetensors").write_bytes(b"w" * 100)
    (ckpt / "optimizer.pt").write_bytes(b"o" * 50)
    if complete:
        mark_complete(ckpt)
    return ckpt


def test_a_checkpoint_counts_only_when_marked_and_whole(tmp_path):
    ckpt = _checkpoint(tmp_path, 2, complete=False)
    assert not is_complete(ckpt)  # written, never marked: a kill came before the end
    mark_complete(ckpt)
    assert is_complete(ckpt)
    os.truncate(ckpt / "optimizer.pt", 10)
    assert not is_complete(ckpt)  # a file was cut short after the mark (a half-deleted rotation)


def test_resume_takes_the_newest_complete_checkpoint_and_says_what_it_skipped(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.start_fresh("fp", "lora")
    _checkpoint(run.path, 2, complete=True)
    four = _checkpoint(run.path, 4, complete=True)
    six = _checkpoint(run.path, 6, complete=False)
    os.truncate(four / "model.safetensors", 1)
    assert run.resume_point("fp", "lora") == run.path / "checkpoint-2"
    assert run.skipped == ["skipped checkpoint-4: incomplete (interrupted while it was being written)",
                           "skipped checkpoint-6: incomplete (interrupted while it was being written)"]
    assert not four.exists() and not six.exists()  # Trainer's rotation must not count them later


def test_resume_with_other_settings_is_refused(tmp_path):
    run = RunFolder(tmp_path / "run")
    run.start_fresh("fp-a", "lora")
    _checkpoint(run.path, 2, complete=True)
    with pytest.raises(UsageError, match="used different settings"):
        run.resume_point("fp-b", "lora")
    (run.path / "run.json").unlink()
    with pytest.raises(UsageError, match="has no record of its settings"):
        run.resume_point("fp-a", "lora")


def test_each_store_has_its_own_run_folder(tmp_path):
    a = RunFolder.of("proj", "tests", "lora", tmp_path / "store-a")
    b = RunFolder.of("proj", "tests", "lora", tmp_path / "store-b")
    assert a.path != b.path and a.path.name == b.path.name == "lora"


def test_a_held_lock_names_its_holder(tmp_path):
    lock = tmp_path / "x.lock"
    with hold_locks([(lock, "the thing")]):
        with pytest.raises(UsageError) as err:
            hold_locks([(lock, "the thing")])
    assert f"the thing is in use by another run (pid {os.getpid()} on" in str(err.value)
    assert "--wait" in str(err.value)
    hold_locks([(lock, "the thing")]).close()  # released: free again


def _locks(dataset_project: str, store: Path, strategy: str) -> list[tuple[Path, str]]:
    final = artifact_dir(dataset_project, "tests", strategy, store)
    run = RunFolder.of(dataset_project, "tests", strategy, store)
    return [(final.parent / f".{strategy}.lock", "artifact"), (run.lock_file, "run folder")]


@pytest.mark.parametrize("held", [0, 1])
def test_a_second_run_stops_with_one_line_naming_the_first(arch_model, dataset, tmp_path, capsys, held):
    store, base = tmp_path / "store", arch_model("gpt2")
    lock = _locks("textkit", store, "l-eo")[held]
    capsys.readouterr()
    with hold_locks([lock]):  # another run holds the artifact (0) or the run folder (1)
        code = main(["customize", str(dataset), "--base", str(base), "--strategy", "l-eo", "--store", str(store),
                     *FAST])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert "is in use by another run" in err and f"pid {os.getpid()}" in err and "--wait" in err
    assert not list_artifacts(store=store)


def test_wait_starts_when_the_other_run_is_done(arch_model, dataset, tmp_path):
    store = tmp_path / "store"  # the child inherits this test's CODECUSTOM_HOME (tests/conftest.py)
    argv = [sys.executable, "-m", "codecustom", "customize", str(dataset), "--base", str(arch_model("gpt2")),
            "--strategy", "l-eo", "--store", str(store), "--wait", "-q", *FAST]
    held = hold_locks(_locks("textkit", store, "l-eo"))
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    waiting = threading.Event()
    lines: list[str] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "waiting for" in line:
                waiting.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert waiting.wait(300), "".join(lines)  # the event, not a guess at how long startup takes
        assert proc.poll() is None  # still waiting while the lock is held
    finally:
        held.close()
    assert proc.wait(timeout=600) == 0, "".join(lines)
    reader.join(60)
    assert "in use by another run" in "".join(lines)
    assert [a.strategy for a in list_artifacts(store=store)] == ["l-eo"]


def _interrupt_at(monkeypatch, step: int) -> None:
    from codecustom.training import trainer as trainer_mod

    original = trainer_mod._trainer_classes

    def interrupting():
        cls, *callbacks = original()

        class Interrupted(cls):
            def training_step(self, model, inputs, num_items_in_batch=None):
                if self.state.global_step == step:
                    raise KeyboardInterrupt  # Ctrl-C
                return super().training_step(model, inputs, num_items_in_batch)

        return (Interrupted, *callbacks)

    monkeypatch.setattr(trainer_mod, "_trainer_classes", interrupting)


def test_the_settings_guard_fires_after_an_interrupted_run(arch_model, dataset, tmp_path, capsys, monkeypatch):
    argv = ["customize", str(dataset), "--base", str(arch_model("llama")), "--strategy", "l-ldb",
            "--store", str(tmp_path / "store"), *FAST]
    with monkeypatch.context() as patch:
        _interrupt_at(patch, 3)
        assert main(argv) == 130
    capsys.readouterr()
    assert main(argv + ["--resume", "--lr", "0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "used different settings, data or base" in err and len(err.splitlines()) == 1


def test_resume_skips_an_incomplete_checkpoint_and_matches_an_uninterrupted_run(arch_model, dataset, tmp_path,
                                                                                 capsys, monkeypatch):
    def argv(store: str) -> list[str]:
        return ["customize", str(dataset), "--base", str(arch_model("llama")), "--strategy", "l-ldb", "--json",
                "--store", str(tmp_path / store), *FAST]

    assert main(argv("reference")) == 0
    reference = json.loads(capsys.readouterr().out)["artifacts"][0]["metrics"]
    with monkeypatch.context() as patch:
        _interrupt_at(patch, 5)  # after the step-4 checkpoint
        assert main(argv("store")) == 130
    capsys.readouterr()
    run = RunFolder.of("textkit", "tests", "l-ldb", tmp_path / "store")
    os.truncate(run.path / "checkpoint-4" / "optimizer.pt", 100)  # as if the kill came while writing it
    assert main(argv("store") + ["--resume"]) == 0
    out = capsys.readouterr()
    metrics = json.loads(out.out)["artifacts"][0]["metrics"]
    assert "skipped checkpoint-4: incomplete" in out.err
    assert metrics["resumed_from_step"] == 2 and metrics["steps"] == 6
    assert metrics["heldout_loss"] == reference["heldout_loss"]
    assert not run.path.exists()
