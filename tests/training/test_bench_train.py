"""scripts/bench_train.py on CPU with a tiny model: the same code path the GPU run takes."""

from __future__ import annotations

import json

from tests.support.scripts import load_script


def test_tiny_cpu_run_prints_a_table_and_writes_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    code = load_script("bench_train").main(["--device", "cpu", "--tiny", "--strategies", "full,prefix,lora",
                                            "--variants", "plain,tuned", "--peak-flops", "1e12", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    data = json.loads(out.read_text())
    assert data["cuda"] is False and data["seq"] == 64 and data["batch"] == 2
    rows = {(r["strategy"], r["variant"]): r for r in data["rows"]}
    assert set(rows) == {("full", "plain"), ("full", "tuned"), ("prefix", "tuned"), ("lora", "tuned")}
    for r in rows.values():
        assert r["tokens_per_s"] > 0 and r["step_ms"] > 0 and 0 < r["mfu"] < 1 and r["hfu_formula"] > 0
        assert r["mfu"] == round(6 * r["params"] * r["tokens_per_s"] / 1e12, 4)
    assert rows[("full", "tuned")]["attention"] == "codecustom_causal"  # exact for unpadded causal blocks
    assert rows[("prefix", "tuned")]["attention"] == "sdpa"  # virtual tokens: the mask-free kernel is refused
    assert rows[("full", "plain")]["trainable_percent"] == 100.0 > rows[("lora", "tuned")]["trainable_percent"]
    assert "MFU %" in printed and "tokens/s" in printed and f"wrote {out}" in printed


def test_unknown_variant_is_refused():
    import pytest

    with pytest.raises(SystemExit, match="unknown variant"):
        load_script("bench_train").main(["--device", "cpu", "--tiny", "--variants", "turbo"])
