"""Reports: one table (rows = models, columns = quality + cost) as report.md and self-contained report.html.

Plots (quality vs cost, held-out loss curves, per-metric bars) are rendered with matplotlib to SVG:
inline in the HTML, as files next to the Markdown. Without matplotlib the reports have tables only and
say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codecustom.evaluation.report import plots
from codecustom.evaluation.report.columns import QUALITY, ReportRow, active_columns, format_value
from codecustom.evaluation.report.render import ReportMeta, render_html, render_markdown

FIGURES = {"quality_cost": "Quality vs cost", "loss_curves": "Held-out loss during training",
           "metric_bars": "Metrics per model"}


def cost_from_manifest(manifest: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[tuple[float, float]]]:
    """(cost, held-out metrics, held-out loss curve) from an artifact manifest (see codecustom.training)."""
    cost_in = dict(manifest.get("cost") or {})
    metrics = dict(manifest.get("metrics") or {})
    pct = cost_in.get("trainable_percent", cost_in.get("trainable_pct"))
    if pct is None and cost_in.get("trainable_params") and cost_in.get("total_params"):
        pct = 100.0 * cost_in["trainable_params"] / cost_in["total_params"]
    cost = {
        "trainable_params": cost_in.get("trainable_params"),
        "trainable_pct": pct,
        "flops": cost_in.get("train_flops", cost_in.get("flops")),
        "train_seconds": cost_in.get("wall_time_s", cost_in.get("train_time_s")),
        "tokens_per_s": cost_in.get("tokens_per_s"),
        "peak_memory_bytes": cost_in.get("peak_memory_bytes"),
        "artifact_bytes": manifest.get("artifact_bytes", cost_in.get("artifact_bytes")),
    }
    heldout = {"loss": metrics.get("heldout_loss"), "perplexity": metrics.get("heldout_perplexity"),
               "split": metrics.get("heldout_split")}
    curve = [(float(p["step"]), float(p["eval_loss"])) for p in metrics.get("curve") or []
             if isinstance(p, dict) and p.get("step") is not None and p.get("eval_loss") is not None]
    return {k: v for k, v in cost.items() if v is not None}, {k: v for k, v in heldout.items() if v is not None}, curve


def figures(rows: Sequence[ReportRow]) -> dict[str, str]:
    """Figure key -> SVG text (empty without matplotlib)."""
    if not plots.available():
        return {}
    primary = next((c for c in QUALITY if c.key == "pass@1" and any(c.get(r) is not None for r in rows)), None) \
        or next(c for c in QUALITY if c.key == "codebleu")
    made = {"quality_cost": plots.quality_vs_cost(rows, primary), "loss_curves": plots.loss_curves(rows),
            "metric_bars": plots.metric_bars(rows)}
    return {k: v for k, v in made.items() if v}


def write_report(rows: Sequence[ReportRow], out_dir: str | Path, meta: ReportMeta | None = None) -> dict[str, Path]:
    """Write report.md (+ SVG files) and report.html into ``out_dir``; returns the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = meta or ReportMeta()
    svgs = figures(rows)
    if not plots.available():
        meta.notes.append("plots omitted: matplotlib is not installed (pip install matplotlib)")
    written: dict[str, Path] = {}
    md_figs = {}
    for key, svg in svgs.items():
        path = out / f"report_{key}.svg"
        path.write_text(svg, encoding="utf-8")
        written[key] = path
        md_figs[FIGURES[key]] = path.name
    written["md"] = out / "report.md"
    written["md"].write_text(render_markdown(rows, meta, md_figs), encoding="utf-8")
    written["html"] = out / "report.html"
    written["html"].write_text(render_html(rows, meta, {FIGURES[k]: v for k, v in svgs.items()}), encoding="utf-8")
    return written


def table_rows(rows: Sequence[ReportRow]) -> tuple[list[str], list[list[Any]]]:
    """Headers and plain values for a console table (same columns as the report)."""
    cols = active_columns(list(rows))
    headers = ["model"] + [c.label + (" %" if c.kind == "rate" else "") for c in cols]
    body = [[r.name] + [format_value(c.get(r), c.kind) for c in cols] for r in rows]
    return headers, body


__all__ = ["ReportMeta", "ReportRow", "cost_from_manifest", "figures", "table_rows", "write_report"]
