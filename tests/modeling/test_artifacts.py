"""Artifacts: manifest + delta, base check, atomic writes, listing, vocabulary extension."""

from __future__ import annotations

import copy
import json
import os
import shutil

import pytest
import torch

from codecustom.errors import ModelError
from codecustom.modeling import artifacts as art
from codecustom.modeling.artifacts import (artifact_dir, list_artifacts, load_artifact, newest_artifact,
                                           save_artifact)
from codecustom.modeling.loading import load_base
from codecustom.modeling.strategies import STRATEGIES, StrategyOptions
from tests.support.faults import run_with_kill


def _ids(loaded):
    return loaded.tokenizer(["def f(x):\n    return x\n"], return_tensors="pt")["input_ids"]


def _tweak(model, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)
    return model


def test_manifest_layout_and_load_without_a_base(arch_model, tmp_path):
    loaded = load_base(str(arch_model("llama")))
    model = _tweak(STRATEGIES["l-ldb"].prepare(copy.deepcopy(loaded.model), StrategyOptions()))
    record = {"dataset": {"manifest_hash": "abc"}, "hyperparameters": {"lr": 1e-3}, "metrics": {"eval_loss": 1.5},
              "cost": {"wall_time_s": 2.0}}
    info = save_artifact(model, loaded, strategy="l-ldb", task="tests", project="demo", record=record,
                         store=tmp_path)
    assert info.path == artifact_dir("demo", "tests", "l-ldb", tmp_path)
    assert sorted(p.name for p in info.path.iterdir()) == ["delta.safetensors", "manifest.json"]
    manifest = json.loads((info.path / "manifest.json").read_text())
    assert manifest["base"]["hash"] == loaded.base_hash and manifest["base"]["id"] == loaded.base_id
    assert manifest["strategy"] == "l-ldb" and manifest["task"] == "tests" and manifest["project"] == "demo"
    assert manifest["dataset"]["manifest_hash"] == "abc" and manifest["metrics"]["eval_loss"] == 1.5
    assert manifest["artifact_bytes"] == (info.path / "delta.safetensors").stat().st_size
    restored = load_artifact(info.path)  # the base named in the manifest
    assert restored.extra["strategy"] == "l-ldb" and restored.base_hash == loaded.base_hash
    with torch.no_grad():
        torch.testing.assert_close(restored.model(_ids(loaded)).logits, model.eval()(_ids(loaded)).logits)
    assert load_artifact(os.fspath(info)).arch == "llama"  # ArtifactInfo works as a path


def test_a_different_base_is_refused(arch_model, tmp_path):
    loaded = load_base(str(arch_model("llama")))
    model = _tweak(STRATEGIES["l-eo"].prepare(copy.deepcopy(loaded.model), StrategyOptions()))
    info = save_artifact(model, loaded, strategy="l-eo", task="tests", project="demo", store=tmp_path)
    other = load_base(str(arch_model("qwen2")))
    with pytest.raises(ModelError, match=r"was trained on base .* but the base given is .*retrain"):
        load_artifact(info.path, base=other)


def test_not_an_artifact(tmp_path):
    with pytest.raises(ModelError, match="is not a codecustom artifact"):
        load_artifact(tmp_path)


def test_a_failed_save_leaves_the_previous_artifact(arch_model, tmp_path, monkeypatch):
    loaded = load_base(str(arch_model("gpt2")))
    model = _tweak(STRATEGIES["l-eo"].prepare(copy.deepcopy(loaded.model), StrategyOptions()))
    first = save_artifact(model, loaded, strategy="l-eo", task="tests", project="demo", store=tmp_path,
                          record={"metrics": {"run": 1}})

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if the process were interrupted mid-write

    monkeypatch.setattr(art, "_fsync_tree", killed)
    with pytest.raises(KeyboardInterrupt):
        save_artifact(_tweak(model, 2), loaded, strategy="l-eo", task="tests", project="demo", store=tmp_path,
                      record={"metrics": {"run": 2}})
    assert json.loads((first.path / "manifest.json").read_text())["metrics"] == {"run": 1}
    assert [p.name for p in first.path.parent.iterdir()] == ["l-eo"]  # no temporary leftovers
    monkeypatch.undo()
    second = save_artifact(model, loaded, strategy="l-eo", task="tests", project="demo", store=tmp_path,
                           record={"metrics": {"run": 3}})
    assert second.path == first.path and second.manifest["metrics"] == {"run": 3}
    assert [p.name for p in first.path.parent.iterdir()] == ["l-eo"]


@pytest.mark.parametrize("kill_at_replace, served", [(1, 1), (2, 2)])
def test_a_killed_swap_is_repaired_on_the_next_start(arch_model, tmp_path, kill_at_replace, served):
    """kill -9 before the first rename of the swap (the old artifact stays) or between the two renames
    (the artifact is missing, hidden as .old): the next reader restores a whole artifact, no leftovers."""
    loaded = load_base(str(arch_model("gpt2")))
    model = _tweak(STRATEGIES["l-eo"].prepare(copy.deepcopy(loaded.model), StrategyOptions()))
    store = tmp_path / "store"
    save_artifact(model, loaded, strategy="l-eo", task="tests", project="demo", store=store,
                  record={"metrics": {"run": 1}})
    shutil.copytree(store, tmp_path / "count")
    count = run_with_kill(lambda: save_artifact(model, loaded, strategy="l-eo", task="tests", project="demo",
                                                store=tmp_path / "count"), kill_at=None)
    replaces = [i for i, label in enumerate(count.reached, 1) if label == "os.replace"]
    trial = run_with_kill(lambda: save_artifact(model, loaded, strategy="l-eo", task="tests", project="demo",
                                                store=store, record={"metrics": {"run": 2}}),
                          kill_at=replaces[kill_at_replace - 1])
    assert trial.killed
    task_dir = store / "demo" / "tests"
    if kill_at_replace == 2:
        assert not (task_dir / "l-eo").exists()  # what a reader would have found before the repair
    [found] = list_artifacts(store=store)
    assert found.manifest["metrics"] == {"run": served}  # the new one when it was complete, else the old
    assert sorted(p.name for p in task_dir.iterdir()) == ["l-eo"]


def test_list_and_newest(arch_model, tmp_path):
    loaded = load_base(str(arch_model("gpt2")))
    model = STRATEGIES["l-eo"].prepare(copy.deepcopy(loaded.model), StrategyOptions())
    assert list_artifacts(store=tmp_path) == [] and newest_artifact("demo", store=tmp_path) is None
    save_artifact(model, loaded, strategy="l-eo", task="tests", project="demo", store=tmp_path)
    save_artifact(model, loaded, strategy="l-eo", task="completion", project="demo", store=tmp_path)
    save_artifact(model, loaded, strategy="l-eo", task="tests", project="other", store=tmp_path)
    assert len(list_artifacts(store=tmp_path)) == 3
    assert {a.task for a in list_artifacts("demo", store=tmp_path)} == {"tests", "completion"}
    assert newest_artifact("demo", store=tmp_path).task == "completion"
    assert newest_artifact("demo", task="tests", store=tmp_path).project == "demo"
    # the default store is $CODECUSTOM_HOME/store
    save_artifact(model, loaded, strategy="l-eo", task="tests", project="home")
    assert newest_artifact("home").path.parent.parent.parent.name == "store"


@pytest.mark.parametrize("strategy", ["lora", "l-eo", "l-ldb"])
def test_added_tokens_travel_with_the_artifact(arch_model, tmp_path, strategy):
    loaded = load_base(str(arch_model("qwen2")))
    tokenizer = copy.deepcopy(loaded.tokenizer)
    base_vocab = len(tokenizer)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<new_a>", "<new_b>"]})
    model = copy.deepcopy(loaded.model)
    model.resize_token_embeddings(len(tokenizer))
    with torch.no_grad():
        model.get_input_embeddings().weight[base_vocab:].normal_()
        model.get_output_embeddings().weight[base_vocab:].normal_()
    model = _tweak(STRATEGIES[strategy].prepare(model, StrategyOptions(lora_r=2)))
    info = save_artifact(model, loaded, strategy=strategy, task="completion", project="demo", store=tmp_path,
                         record={"tokenizer": tokenizer, "base_vocab_size": base_vocab})
    assert info.manifest["tokenizer"] == {"extended": True, "size": base_vocab + 2}
    restored = load_artifact(info.path, base=loaded)
    assert len(restored.tokenizer) == base_vocab + 2 and len(loaded.tokenizer) == base_vocab
    ids = restored.tokenizer(["x = <new_a> + <new_b>"], return_tensors="pt")["input_ids"]
    assert ids.max().item() >= base_vocab
    with torch.no_grad():
        torch.testing.assert_close(restored.model(ids).logits, model.eval()(ids).logits)
