"""kill -9 at every save boundary of `codecustom customize`, then `--resume`: it always recovers.

The run replaces an earlier artifact, so its boundaries cover the settings record, both checkpoints
(each file Trainer writes, the rotation, our completeness mark), the artifact's files and both
renames of its swap, and the run folder's removal. Each boundary is tried twice: killed before the
call, and — for file writes — killed after the file was half written. After each kill, `--resume`
must finish with exactly the loss of an uninterrupted run, one artifact (the new one) in the store,
no temporary folder left, and no run folder.
"""

from __future__ import annotations

import json
import shutil

from codecustom.cli import main
from codecustom.modeling.artifacts import list_artifacts
from codecustom.training.runs import RunFolder
from tests.support.faults import run_with_kill

STRATEGY = "l-ldb"
FILE_WRITES = {"torch.save", "safetensors.torch.save_file", "TrainerState.save_to_json"}


def test_a_kill_at_any_save_boundary_is_recovered_by_resume(arch_model, dataset, tmp_path, capsys, monkeypatch):
    base = arch_model("llama")

    def argv(store, *extra):
        return ["customize", str(dataset), "--base", str(base), "--strategy", STRATEGY, "--store", str(store),
                "--max-steps", "4", "--eval-steps", "2", "--max-length", "128", "-q", "--json", *extra]

    def run(args) -> dict:
        capsys.readouterr()
        code = main(args)
        out = capsys.readouterr()
        assert code == 0, out.err
        return json.loads(out.out)["artifacts"][0]

    reference = run(argv(tmp_path / "reference"))
    previous = tmp_path / "previous"
    run(argv(previous, "--seed", "1"))  # the artifact the killed run replaces
    fingerprint = json.loads((previous / "textkit" / "tests" / STRATEGY / "manifest.json").read_text())

    def fresh(name):
        store = tmp_path / name
        shutil.copytree(previous, store)
        monkeypatch.setenv("CODECUSTOM_HOME", str(tmp_path / f"{name}-home"))
        return store

    store = fresh("count")
    whole = run_with_kill(lambda: main(argv(store)), kill_at=None)
    assert whole.exit_code == 0 and not whole.error, whole.error
    trials = [(k, label, torn) for k, label in enumerate(whole.reached, 1) for torn in (False, True)
              if not torn or label in FILE_WRITES]
    assert len(whole.reached) >= 15 and sum(t for *_, t in trials) >= 8, whole.reached

    failures = []
    for k, label, torn in trials:
        where = f"boundary {k} ({label}{', torn' if torn else ''})"
        store = fresh(f"t{k}{'torn' if torn else ''}")
        trial = run_with_kill(lambda: main(argv(store)), kill_at=k, torn=torn)
        if not trial.killed:
            failures.append(f"{where}: not reached ({trial.error or trial.exit_code})")
            continue
        capsys.readouterr()
        code = main(argv(store, "--resume"))
        out = capsys.readouterr()
        if code != 0:
            failures.append(f"{where}: --resume exited {code}: {out.err.strip()[-300:]}")
            continue
        art = json.loads(out.out)["artifacts"][0]
        task_dir = store / "textkit" / "tests"  # checked before anything else could repair the store
        leftovers = sorted(p.name for p in task_dir.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock"))
        found = list_artifacts(store=store)
        problems = [
            f"loss {art['metrics']['heldout_loss']} != {reference['metrics']['heldout_loss']}"
            if art["metrics"]["heldout_loss"] != reference["metrics"]["heldout_loss"] else "",
            f"{len(found)} artifacts" if len(found) != 1 else "",
            "the earlier artifact is still served" if found and found[0].manifest.get("run_fingerprint")
            == fingerprint.get("run_fingerprint") else "",
            f"leftovers {leftovers}" if leftovers else "",
            "run folder left" if RunFolder.of("textkit", "tests", STRATEGY, store).path.exists() else "",
        ]
        if any(problems):
            failures.append(f"{where}: " + "; ".join(p for p in problems if p))
    assert not failures, "\n".join(failures)
