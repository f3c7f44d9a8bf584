"""Report figures as SVG text (matplotlib, headless): quality vs cost, held-out loss curves, metric bars."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from codecustom.evaluation.report.columns import QUALITY, Column, ReportRow

COLORS = {"base": "#555555", "full": "#1f77b4", "l-eo": "#ff7f0e", "l-ldb": "#2ca02c", "prefix": "#d62728",
          "lora": "#9467bd"}
_FALLBACK = ["#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def available() -> bool:
    """True when matplotlib can be imported (plots are optional)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _color(name: str, i: int) -> str:
    return COLORS.get(name, _FALLBACK[i % len(_FALLBACK)])


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog so the SVG can sit inline in HTML


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    matplotlib.rcParams["svg.fonttype"] = "none"  # real text, smaller files
    matplotlib.rcParams["svg.hashsalt"] = "codecustom"  # stable ids: reproducible files
    import matplotlib.pyplot as plt

    return plt


def quality_vs_cost(rows: Sequence[ReportRow], quality: Column) -> str | None:
    """One panel per cost (trainable %, FLOPs, storage): ``quality`` of each customized model, base as a line."""
    costs = [("trainable_pct", "trainable parameters (%)"), ("flops", "training FLOPs"),
             ("artifact_bytes", "artifact size (bytes)")]
    points = [(r, quality.get(r)) for r in rows if quality.get(r) is not None]
    if not any(r.cost for r, _ in points):
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(costs), figsize=(4.2 * len(costs), 3.4), squeeze=False)
    base = next((q for r, q in points if r.name == "base"), None)
    for ax, (key, label) in zip(axes[0], costs):
        drawn = False
        for i, (row, q) in enumerate(points):
            x = row.cost.get(key)
            if x is None or x <= 0:
                continue
            ax.scatter([x], [q], color=_color(row.name, i), s=48, zorder=3)
            ax.annotate(row.name, (x, q), textcoords="offset points", xytext=(5, 4), fontsize=8)
            drawn = True
        if base is not None:
            ax.axhline(base, color=COLORS["base"], linestyle="--", linewidth=1, label="base")
            ax.legend(fontsize=8, loc="best")
        if drawn:
            ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(quality.label)
        ax.grid(True, alpha=0.3)
    fig.suptitle(f"{quality.label} vs cost")
    fig.tight_layout()
    return _svg(fig)


def loss_curves(rows: Sequence[ReportRow]) -> str | None:
    """Held-out loss during training, one line per strategy."""
    curves = [(i, r) for i, r in enumerate(rows) if len(r.curve) >= 1]
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, row in curves:
        steps, losses = zip(*row.curve)
        ax.plot(steps, losses, marker="o", markersize=3, label=row.name, color=_color(row.name, i))
    base_loss = next((r.heldout.get("loss") for r in rows if r.name == "base" and r.heldout.get("loss")), None)
    if base_loss is not None:
        ax.axhline(base_loss, color=COLORS["base"], linestyle="--", linewidth=1, label="base")
    ax.set_xlabel("training step")
    ax.set_ylabel("held-out loss")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _svg(fig)


def metric_bars(rows: Sequence[ReportRow], columns: Sequence[Column] | None = None) -> str | None:
    """Grouped bars of every rate metric (0-100) per model."""
    cols = [c for c in (columns or QUALITY) if c.kind == "rate" and any(c.get(r) is not None for r in rows)]
    if not cols or not rows:
        return None
    plt = _pyplot()
    import numpy as np

    width = 0.8 / len(rows)
    x = np.arange(len(cols))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.0 * len(cols) + 2), 3.8))
    for i, row in enumerate(rows):
        values = [100 * float(c.get(row)) if c.get(row) is not None else 0.0 for c in cols]
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width, label=row.name, color=_color(row.name, i))
    ax.set_xticks(x, [c.label for c in cols], rotation=30, ha="right")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(rows), 6), loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    fig.tight_layout()
    return _svg(fig)
