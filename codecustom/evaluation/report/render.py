"""report.md and a self-contained report.html from report rows."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from codecustom.evaluation.report.columns import Column, ReportRow, active_columns, best_rows, format_value
from codecustom.evaluation.report.samples import Sample, samples_html, samples_markdown


@dataclass
class ReportMeta:
    """Everything around the table: where the numbers come from and how to reproduce them."""

    title: str = "codecustom evaluation"
    facts: dict[str, Any] = field(default_factory=dict)  # project, dataset, revision, split, base model, ...
    commands: list[str] = field(default_factory=list)
    sandbox: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)  # the "Samples" section (pick_samples)
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))


def table_cells(rows: Sequence[ReportRow], cols: Sequence[Column]) -> list[list[tuple[str, bool]]]:
    """(text, is best) for every cell."""
    best = {c.key: best_rows(list(rows), c) for c in cols}
    return [[(format_value(c.get(r), c.kind), r.name in best[c.key]) for c in cols] for r in rows]


def _label(col: Column) -> str:
    return f"{col.label} (%)" if col.kind == "rate" else col.label


def ladder_lines(rows: Sequence[ReportRow]) -> list[tuple[str, str]]:
    """(model, "n samples: built a, passed b, ...") for models whose generated tests were executed."""
    out = []
    for r in rows:
        execution = ((r.summary or {}).get("tests") or {}).get("execution") or {}
        if execution.get("enabled") and execution.get("n_samples"):
            counts = execution.get("ladder", {})
            parts = [f"{counts.get(k, 0)} {k}" for k in ("built", "passed", "flaky", "covered") if k in counts or k
                     in ("built", "passed")]
            out.append((r.name, f"{execution['n_samples']} tests run: " + ", ".join(parts)))
        elif execution.get("note"):
            out.append((r.name, f"not executed: {execution['note']}"))
    return out


def render_markdown(rows: Sequence[ReportRow], meta: ReportMeta, figures: dict[str, str] | None = None) -> str:
    """The report as Markdown; ``figures`` maps a caption to an image file name next to report.md."""
    cols = active_columns(list(rows))
    lines = [f"# {meta.title}", "", f"_Generated {meta.created}._", ""]
    for key, value in meta.facts.items():
        lines.append(f"- **{key}**: {value}")
    lines += ["", "## Results", ""]
    if cols:
        lines.append("| model | " + " | ".join(_label(c) for c in cols) + " |")
        lines.append("|---|" + "|".join("---:" for _ in cols) + "|")
        for row, cells in zip(rows, table_cells(rows, cols)):
            text = [f"**{t}**" if best else t for t, best in cells]
            lines.append(f"| {row.name} | " + " | ".join(text) + " |")
        lines += ["", "Rates are percentages; the best value of each quality column is bold. "
                  "PPL and held-out loss: lower is better.", ""]
        lines += ["| column | meaning |", "|---|---|"]
        lines += [f"| {c.label} | {c.help} |" for c in cols if c.help]
    else:
        lines.append("No metrics.")
    ladder = ladder_lines(rows)
    if ladder:
        lines += ["", "## Execution ladder", ""] + [f"- **{name}**: {text}" for name, text in ladder]
    lines += samples_markdown(meta.samples, {r.name: r.summary for r in rows})
    if figures:
        lines += ["", "## Plots", ""]
        lines += [f"![{caption}]({name})" for caption, name in figures.items()]
    if meta.sandbox:
        lines += ["", "## Sandbox", ""] + [f"- {s}" for s in meta.sandbox]
    if meta.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in meta.notes]
    if meta.commands:
        lines += ["", "## Commands", "", "```bash"] + meta.commands + ["```"]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;
padding:0 1rem}
table{border-collapse:collapse;margin:1rem 0;font-size:0.9rem}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:700;
background:#eef7ee}figure{margin:1.5rem 0}figcaption{font-size:0.9rem;color:#555}pre{background:#f6f6f6;
padding:0.8rem;overflow-x:auto}details{margin:0.6rem 0}summary{cursor:pointer}ul.facts{list-style:none;padding-left:0}small{color:#666}svg{max-width:100%;height:auto}
"""


def render_html(rows: Sequence[ReportRow], meta: ReportMeta, svgs: dict[str, str] | None = None) -> str:
    """The report as one HTML file with the figures inline (no external resources)."""
    esc = html.escape
    cols = active_columns(list(rows))
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{esc(meta.title)}</title><style>{_CSS}</style></head><body>",
           f"<h1>{esc(meta.title)}</h1><p><small>Generated {esc(meta.created)}</small></p>", '<ul class="facts">']
    out += [f"<li><b>{esc(str(k))}</b>: {esc(str(v))}</li>" for k, v in meta.facts.items()]
    out += ["</ul>", "<h2>Results</h2>"]
    if cols:
        out.append("<table><thead><tr><th>model</th>"
                   + "".join(f'<th title="{esc(c.help)}">{esc(_label(c))}</th>' for c in cols) + "</tr></thead><tbody>")
        for row, cells in zip(rows, table_cells(rows, cols)):
            tds = "".join(f'<td class="num{" best" if best else ""}">{esc(text)}</td>' for text, best in cells)
            out.append(f"<tr><th>{esc(row.name)}</th>{tds}</tr>")
        out.append("</tbody></table><p><small>Rates are percentages; the best value of each quality column is "
                   "highlighted. PPL and held-out loss: lower is better.</small></p>")
    ladder = ladder_lines(rows)
    if ladder:
        out.append("<h2>Execution ladder</h2><ul>")
        out += [f"<li><b>{esc(name)}</b>: {esc(text)}</li>" for name, text in ladder]
        out.append("</ul>")
    out += samples_html(meta.samples, {r.name: r.summary for r in rows})
    if svgs:
        out.append("<h2>Plots</h2>")
        out += [f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>" for caption, svg in svgs.items()]
    for title, items in (("Sandbox", meta.sandbox), ("Notes", meta.notes)):
        if items:
            out.append(f"<h2>{title}</h2><ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")
    if meta.commands:
        out.append("<h2>Commands</h2><pre>" + esc("\n".join(meta.commands)) + "</pre>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
