"""`codecustom customize` end to end through the real CLI: artifacts, errors, resume, repos, seq2seq."""

from __future__ import annotations

import json
import math

import pytest

from codecustom.cli import main
from codecustom.mining.records import PairRecord, read_jsonl, write_jsonl
from codecustom.modeling.artifacts import load_artifact, newest_artifact
from codecustom.training import eval_loss
from tests.support.datasets import write_dataset

FAST = ["--max-steps", "4", "--eval-steps", "2", "--max-length", "192"]


def _run_json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return json.loads(out.out)


def test_customize_writes_an_artifact_with_cost_and_heldout_loss(arch_model, dataset, capsys):
    result = _run_json(capsys, ["customize", str(dataset), "--base", str(arch_model("llama")), "--strategy", "lora",
                                "--json", *FAST])
    [art] = result["artifacts"]
    manifest = json.loads(open(f"{art['path']}/manifest.json").read())
    assert manifest["project"] == "textkit" and manifest["task"] == "tests" and manifest["strategy"] == "lora"
    assert manifest["dataset"]["examples"] == {"train": 19, "valid": 4, "test": 3}
    metrics, cost = manifest["metrics"], manifest["cost"]
    assert metrics["heldout_split"] == "test" and math.isfinite(metrics["heldout_loss"])
    assert metrics["steps"] == 4 and [c["step"] for c in metrics["curve"] if "eval_loss" in c] == [2, 4]
    assert 0 < cost["trainable_percent"] < 100 and cost["trainable_params"] > 0
    assert cost["tokens"] > 0 and cost["tokens_per_s"] > 0 and cost["wall_time_s"] > 0
    assert cost["peak_memory_bytes"] > 0 and cost["peak_memory_kind"] == "rss"
    assert cost["train_flops"] > 0 and "cost.py" in cost["flops_formula"]
    assert cost["artifact_bytes"] == manifest["artifact_bytes"] > 0
    # what training measured is what evaluation measures later
    loaded = load_artifact(art["path"])
    again = eval_loss(loaded, dataset, "tests", "test")
    assert again["loss"] == pytest.approx(metrics["heldout_loss"], rel=1e-5)
    assert newest_artifact("textkit").strategy == "lora"


def test_human_output_is_a_table(arch_model, dataset, capsys):
    assert main(["customize", str(dataset), "--base", str(arch_model("gpt2")), "--strategy", "l-eo", *FAST]) == 0
    out = capsys.readouterr().out
    assert "l-eo: training" in out and "held-out loss" in out and "artifact MB" in out
    assert "l-eo: step 2/4 held-out loss" in out  # eval lines when stderr is not a terminal


def test_too_little_data_is_one_clear_line(arch_model, tmp_path, capsys):
    ds = write_dataset(tmp_path / "ds")
    pairs = list(read_jsonl(ds / "pairs.jsonl", PairRecord))
    shortest = sorted((p for p in pairs if p.split == "train"), key=lambda p: len(p.test))[:5]
    write_jsonl(ds / "pairs.jsonl", [p for p in pairs if p.split != "train"] + shortest)
    arch_model("llama")  # built before the run, so its progress output is not part of what is checked
    capsys.readouterr()
    code = main(["customize", str(ds), "--base", str(arch_model("llama")), "--strategy", "lora"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "found 5 training test/focal pairs, at least 8 are needed" in err


@pytest.mark.parametrize("argv, message", [
    (["--strategy", "adapter"], "unknown strategy 'adapter'"),
    (["--max-steps", "0"], "--max-steps must be at least 1"),
    (["--fim-rate", "2"], "--fim-rate must be between 0 and 1"),
    (["--base", "/nonexistent/model"], "model folder /nonexistent/model does not exist"),
])
def test_bad_input_is_one_clear_line(arch_model, dataset, capsys, argv, message):
    code = main(["customize", str(dataset), "--base", str(arch_model("llama")), *argv])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1


def test_missing_repo_is_a_usage_error(capsys, tmp_path):
    assert main(["customize", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_resume_continues_after_an_interruption(arch_model, dataset, capsys, monkeypatch):
    from codecustom.training import trainer as trainer_mod

    original = trainer_mod._trainer_classes

    def interrupting():
        cls, cb = original()

        class Interrupted(cls):
            def training_step(self, model, inputs, num_items_in_batch=None):
                if self.state.global_step == 3:
                    raise KeyboardInterrupt  # as if the user pressed Ctrl-C after the step-2 checkpoint
                return super().training_step(model, inputs, num_items_in_batch)

        return Interrupted, cb

    argv = ["customize", str(dataset), "--base", str(arch_model("llama")), "--strategy", "l-ldb", "--json",
            "--max-steps", "6", "--eval-steps", "2", "--max-length", "192"]
    monkeypatch.setattr(trainer_mod, "_trainer_classes", interrupting)
    assert main(argv) == 130
    capsys.readouterr()
    assert newest_artifact("textkit") is None  # no half artifact
    monkeypatch.setattr(trainer_mod, "_trainer_classes", original)
    [art] = _run_json(capsys, argv + ["--resume"])["artifacts"]
    assert art["metrics"]["resumed_from_step"] == 2 and art["metrics"]["steps"] == 6
    # resuming a finished run reuses the artifact; other settings refuse to resume a run
    assert _run_json(capsys, argv + ["--resume"])["artifacts"][0]["reused"]


def test_seeded_runs_are_reproducible(arch_model, dataset, capsys):
    argv = ["customize", str(dataset), "--base", str(arch_model("gpt_neox")), "--strategy", "prefix", "--json",
            "--max-steps", "3", "--eval-steps", "3", "--max-length", "192"]
    first = _run_json(capsys, argv)["artifacts"][0]["metrics"]["heldout_loss"]
    second = _run_json(capsys, argv)["artifacts"][0]["metrics"]["heldout_loss"]
    third = _run_json(capsys, argv + ["--seed", "1"])["artifacts"][0]["metrics"]["heldout_loss"]
    assert first == second and third != first


def test_customize_a_git_repository_mines_it_first(arch_model, tmp_path, capsys):
    from tests.support.fixture_repos import build_fixture_repo

    repo = build_fixture_repo("python_repo", tmp_path / "ledger-repo")
    result = _run_json(capsys, ["customize", str(repo), "--base", str(arch_model("qwen2")), "--strategy", "l-ldb",
                                "--json", *FAST])
    manifest = json.loads(open(f"{result['artifacts'][0]['path']}/manifest.json").read())
    assert manifest["project"] == "ledger-repo" and manifest["dataset"]["examples"]["train"] >= 8
    assert not (repo / "manifest.json").exists()  # nothing written into the repository


def test_seq2seq_model_on_the_tests_task(arch_model, dataset, capsys):
    result = _run_json(capsys, ["customize", str(dataset), "--base", str(arch_model("t5")), "--strategy", "l-ldb",
                                "--json", *FAST])
    assert math.isfinite(result["artifacts"][0]["metrics"]["heldout_loss"])
    code = main(["customize", str(dataset), "--base", str(arch_model("t5")), "--task", "completion"])
    assert code == 2 and "t5 is an encoder-decoder model" in capsys.readouterr().err


def test_completion_task(arch_model, dataset, capsys):
    result = _run_json(capsys, ["customize", str(dataset), "--base", str(arch_model("starcoder2")), "--task",
                                "completion", "--strategy", "lora", "--json", *FAST])
    [art] = result["artifacts"]
    manifest = json.loads(open(f"{art['path']}/manifest.json").read())
    assert manifest["task"] == "completion" and manifest["task_format"]["fim"]["prefix"] == "<fim_prefix>"
    assert manifest["dataset"]["stats"]["train"]["fim_documents"] > 0
    assert math.isfinite(art["metrics"]["heldout_loss"])
