"""`codecustom compare`: every strategy on the same split, one table with the base, JSON too."""

from __future__ import annotations

import json
import math

from codecustom.cli import main
from codecustom.training.compare import DEFAULT_PROVIDERS, compare
from codecustom.training.customize import CustomizeRequest
from codecustom.training.config import TrainConfig
from codecustom.console import Console

FAST = ["--max-steps", "3", "--eval-steps", "3", "--max-length", "160"]


def test_compare_all_strategies_json(arch_model, dataset, capsys):
    code = main(["compare", str(dataset), "--strategies", "all", "--base", str(arch_model("llama")), "--json", *FAST])
    out = capsys.readouterr()
    assert code == 0, out.err
    result = json.loads(out.out)
    assert [r["model"] for r in result["rows"]] == ["base", "full", "l-eo", "l-ldb", "prefix", "lora"]
    base, *trained = result["rows"]
    assert base["artifact"] is None and base["trainable_pct"] == 0.0 and base["split"] == "test"
    assert all(math.isfinite(r["heldout_loss"]) and r["perplexity"] > 1 for r in result["rows"])
    assert all(r["split"] == "test" and r["artifact"] for r in trained)
    pct = {r["model"]: r["trainable_pct"] for r in trained}
    assert pct["full"] == 100.0 and all(0 < pct[k] < 100 for k in ("l-eo", "l-ldb", "prefix", "lora"))
    gflops = {r["model"]: r["train_gflops"] for r in trained}
    assert gflops["l-ldb"] < gflops["full"]
    assert all(r["steps"] == 3 and r["tokens_per_s"] > 0 and r["peak_mem_mb"] > 0 and r["artifact_mb"] > 0
               for r in trained)


def test_compare_table_and_extra_metric_providers(arch_model, dataset, capsys):
    # the evaluation stage plugs quality columns in as providers; a provider can load each model
    def vocab_column(row):
        return {"vocab": len(row.load().tokenizer)}

    request = CustomizeRequest(source=str(dataset), base=str(arch_model("gpt2")), strategies=["l-eo", "lora"],
                               train=TrainConfig(max_steps=2, eval_steps=2), max_length=160)
    result = compare(request, Console(), providers=DEFAULT_PROVIDERS + [vocab_column])
    rows, headers = result.table()
    assert headers[0] == "model" and headers[-1] == "vocab" and "held-out loss" in headers
    assert [r[0] for r in rows] == ["base", "l-eo", "lora"] and all(r[-1] == 512 for r in rows)

    assert main(["compare", str(dataset), "--strategies", "l-eo", "--base", str(arch_model("gpt2")), *FAST]) == 0
    out = capsys.readouterr().out
    assert "textkit: tests task" in out and "held-out split: test" in out
    assert out.count("\nbase ") == 1 and "\nl-eo " in out
