"""report.md / report.html: one table of quality + cost, plots, ladder counts, sandbox lines."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codecustom.evaluation.report import ReportMeta, ReportRow, cost_from_manifest, plots, table_rows, write_report
from codecustom.evaluation.report.columns import format_value


def _summary(codebleu: float, pass1: float, ppl: float) -> dict:
    return {"tests": {"n_examples": 10, "samples": 1, "bleu": codebleu - 0.1, "codebleu": codebleu,
                      "exact_match": 0.1, "edit_similarity": 0.5, "syntax_valid": 0.9, "perplexity": ppl,
                      "execution": {"enabled": True, "n_samples": 10, "build@1": 0.8, "pass@1": pass1,
                                    "cover@1": pass1 / 2, "ladder": {"built": 8, "passed": int(pass1 * 10)}}},
            "completion": {"n": 50, "exact_match": 0.2, "edit_similarity": 0.6, "syntax_valid": 0.7}}


def _manifest(pct: float, flops: float, size: int, losses: list[float]) -> dict:
    return {"artifact_bytes": size,
            "cost": {"trainable_params": 1000, "total_params": 100000, "trainable_percent": pct,
                     "wall_time_s": 12.5, "train_flops": flops},
            "metrics": {"heldout_loss": losses[-1], "heldout_perplexity": 2.0, "heldout_split": "test",
                        "curve": [{"step": 10 * (i + 1), "eval_loss": v} for i, v in enumerate(losses)]
                        + [{"step": 5, "loss": 9.0}]}}


def _rows() -> list[ReportRow]:
    rows = [ReportRow("base", _summary(0.30, 0.1, 9.0), cost={"trainable_pct": 0.0}, heldout={"loss": 2.2})]
    for name, cb, p1, pct, flops, size in [("full", 0.5, 0.4, 100.0, 1e12, 40_000_000),
                                           ("lora", 0.45, 0.5, 0.8, 3e11, 300_000)]:
        cost, heldout, curve = cost_from_manifest(_manifest(pct, flops, size, [2.0, 1.6, 1.5]))
        rows.append(ReportRow(name, _summary(cb, p1, 4.0), cost=cost, heldout=heldout, curve=curve))
    return rows


def test_manifest_costs_and_curves_are_read() -> None:
    cost, heldout, curve = cost_from_manifest(_manifest(0.5, 2e12, 1234, [3.0, 2.0]))
    assert cost == {"trainable_params": 1000, "trainable_pct": 0.5, "flops": 2e12, "train_seconds": 12.5,
                    "artifact_bytes": 1234}
    assert heldout == {"loss": 2.0, "perplexity": 2.0, "split": "test"}
    assert curve == [(10.0, 3.0), (20.0, 2.0)]  # training-loss points are not held-out points
    assert cost_from_manifest({}) == ({}, {}, [])


def test_markdown_table_marks_the_best_and_keeps_every_row(tmp_path: Path) -> None:
    meta = ReportMeta(title="demo", facts={"dataset": "ds"}, commands=["codecustom compare ."],
                      sandbox=["network: none"], notes=["a note"])
    written = write_report(_rows(), tmp_path, meta)
    md = written["md"].read_text()
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| model | BLEU (%) | CodeBLEU (%)")
    assert "Trainable %" in table[0] and "Storage" in table[0] and "Train FLOPs" in table[0]
    body = {line.split("|")[1].strip(): line for line in table[1:4]}
    assert set(body) == {"base", "full", "lora"}
    assert "**50.0**" in body["full"] and "**50.0**" in body["lora"]  # best CodeBLEU / best Pass@1
    assert "**4**" in body["full"]  # lowest perplexity is best
    assert "38.1 MiB" in body["full"] and "293.0 KiB" in body["lora"]
    assert "## Execution ladder" in md and "network: none" in md and "codecustom compare ." in md


@pytest.mark.skipif(not plots.available(), reason="matplotlib not installed")
def test_html_is_self_contained_with_three_plots(tmp_path: Path) -> None:
    written = write_report(_rows(), tmp_path, ReportMeta(title="demo"))
    html = written["html"].read_text()
    assert html.count("<svg") == 3 and html.count("<figure>") == 3
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html
    for key in ("quality_cost", "loss_curves", "metric_bars"):
        assert written[key].read_text().startswith("<svg")
        assert f"report_{key}.svg" in written["md"].read_text()


def test_without_matplotlib_reports_say_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plots, "available", lambda: False)
    written = write_report(_rows(), tmp_path, ReportMeta())
    assert "plots omitted: matplotlib is not installed" in written["md"].read_text()
    assert "<svg" not in written["html"].read_text()


def test_console_table_and_cell_formats() -> None:
    headers, body = table_rows(_rows())
    assert headers[0] == "model" and "Pass@1 %" in headers and [r[0] for r in body] == ["base", "full", "lora"]
    assert format_value(None, "rate") == "–"
    assert format_value(0.1234, "rate") == "12.3"
    assert format_value(0.8, "pct100") == "0.8%"
    assert format_value(3e11, "flops") == "3.00e+11"
    assert format_value(150, "seconds") == "2.5min"
    assert format_value(2048, "bytes") == "2.0 KiB"


def test_samples_section_shows_reference_generations_and_why_they_ended(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from codecustom.evaluation.report.samples import pick_samples
    from codecustom.inference.params import Generation

    pair = SimpleNamespace(test_id="tests/t.py::::test_f@1", focal_id="m.py::::f@1", language="python",
                           test="def test_f():\n    assert f(1) == 2")
    evaluations = {
        "base": SimpleNamespace(tests=[SimpleNamespace(pair=pair, samples=[Generation("def test_f():\n    assert f(", "length")])]),
        "lora": SimpleNamespace(tests=[SimpleNamespace(pair=pair, samples=[Generation("def test_f():\n    assert f(1) == 2", "eos")])]),
    }
    samples = pick_samples(evaluations)
    assert [g.model for g in samples[0].generated] == ["base", "lora"]
    assert [g.syntax_ok for g in samples[0].generated] == [False, True]
    rows = [ReportRow("base", {"tests": {"stopped_by": {"length": 1.0}}}),
            ReportRow("lora", {"tests": {"stopped_by": {"eos": 0.75, "loop": 0.25}}})]
    written = write_report(rows, tmp_path, ReportMeta(samples=samples))
    md, page = written["md"].read_text(), written["html"].read_text()
    assert "## Samples" in md and "| lora | 75% | 25% | – |" in md and "stopped by: length, does not parse" in md
    assert "<details><summary><code>m.py::::f@1</code></summary>" in page and "assert f(1) == 2" in page
