"""The report's columns: one registry of quality and cost metrics, each with how to read and show it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReportRow:
    """One model in a report: its evaluation summary and what customizing it cost."""

    name: str  # base | full | l-eo | l-ldb | prefix | lora | any label
    summary: dict[str, Any] | None = None  # evaluate_model(...).summary
    cost: dict[str, Any] = field(default_factory=dict)  # trainable_params, trainable_pct, flops, artifact_bytes, ...
    heldout: dict[str, Any] = field(default_factory=dict)  # held-out loss / perplexity from training
    curve: list[tuple[float, float]] = field(default_factory=list)  # (step, held-out loss) during training


def _get(*path: str) -> Callable[[ReportRow], Any]:
    def read(row: ReportRow) -> Any:
        node: Any = row.summary or {}
        for key in path:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node

    return read


def _exec(key: str) -> Callable[[ReportRow], Any]:
    return _get("tests", "execution", key)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    group: str  # quality | cost
    get: Callable[[ReportRow], Any]
    kind: str = "rate"  # rate (0..1, shown as %) | float | int | bytes | flops | seconds
    higher_is_better: bool | None = True
    help: str = ""


QUALITY: list[Column] = [
    Column("bleu", "BLEU", "quality", _get("tests", "bleu"), help="sacrebleu corpus BLEU of the first sample"),
    Column("codebleu", "CodeBLEU", "quality", _get("tests", "codebleu"), help="n-gram, weighted n-gram, AST, data flow"),
    Column("exact_match", "EM", "quality", _get("tests", "exact_match"), help="equal to the reference up to whitespace"),
    Column("edit_similarity", "EditSim", "quality", _get("tests", "edit_similarity"),
           help="1 - Levenshtein / max length"),
    Column("syntax_valid", "Syntax", "quality", _get("tests", "syntax_valid"), help="parses with no ERROR/MISSING"),
    Column("perplexity", "PPL", "quality", _get("tests", "perplexity"), kind="float", higher_is_better=False,
           help="perplexity of the reference tests"),
    Column("build@1", "Build@1", "quality", _exec("build@1"), help="generated test collects/compiles"),
    Column("pass@1", "Pass@1", "quality", _exec("pass@1"), help="passes all 3 runs"),
    Column("cover@1", "Cover@1", "quality", _exec("cover@1"), help="passes and executes the focal method"),
    Column("completion_em", "Line EM", "quality", _get("completion", "exact_match"),
           help="line completion exact match"),
    Column("completion_es", "Line ES", "quality", _get("completion", "edit_similarity"),
           help="line completion edit similarity"),
    Column("completion_syntax", "Line Syntax", "quality", _get("completion", "syntax_valid"),
           help="file still parses with the completion"),
]

COST: list[Column] = [
    Column("heldout_loss", "Held-out loss", "cost", lambda r: r.heldout.get("loss"), kind="float",
           higher_is_better=False, help="training's held-out loss"),
    Column("trainable_pct", "Trainable %", "cost", lambda r: r.cost.get("trainable_pct"), kind="pct100",
           higher_is_better=None),
    Column("trainable_params", "Trainable", "cost", lambda r: r.cost.get("trainable_params"), kind="int",
           higher_is_better=None),
    Column("flops", "Train FLOPs", "cost", lambda r: r.cost.get("flops"), kind="flops", higher_is_better=False),
    Column("train_seconds", "Train time", "cost", lambda r: r.cost.get("train_seconds"), kind="seconds",
           higher_is_better=False),
    Column("artifact_bytes", "Storage", "cost", lambda r: r.cost.get("artifact_bytes"), kind="bytes",
           higher_is_better=False),
]


def k_columns(rows: list[ReportRow]) -> list[Column]:
    """build@k / pass@k / cover@k columns when some row sampled k > 1."""
    ks = sorted({int(s) for r in rows if (s := _get("tests", "samples")(r)) and int(s) > 1})
    cols = []
    for k in ks:
        for what in ("build", "pass", "cover"):
            cols.append(Column(f"{what}@{k}", f"{what.capitalize()}@{k}", "quality", _exec(f"{what}@{k}")))
    return cols


def active_columns(rows: list[ReportRow]) -> list[Column]:
    """Columns that have a value in at least one row (quality first, then cost)."""
    cols = QUALITY[:9] + k_columns(rows) + QUALITY[9:] + COST
    return [c for c in cols if any(c.get(r) is not None for r in rows)]


def format_value(value: Any, kind: str) -> str:
    """A cell's text."""
    if value is None:
        return "–"
    if kind == "rate":
        return f"{100 * float(value):.1f}"
    if kind == "pct100":
        return f"{float(value):.3g}%"
    if kind == "int":
        return f"{int(value):,}"
    if kind == "bytes":
        size = float(value)
        for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
            if size < 1024 or unit == "TiB":
                return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            size /= 1024
    if kind == "flops":
        return f"{float(value):.2e}"
    if kind == "seconds":
        s = float(value)
        return f"{s:.0f}s" if s < 120 else f"{s / 60:.1f}min"
    return f"{float(value):.4g}"


def best_rows(rows: list[ReportRow], col: Column) -> set[str]:
    """Names of the rows holding the best value of a column (for bold)."""
    if col.higher_is_better is None:
        return set()
    values = [(r.name, col.get(r)) for r in rows if col.get(r) is not None]
    if len(values) < 2:
        return set()
    best = max(v for _, v in values) if col.higher_is_better else min(v for _, v in values)
    return {n for n, v in values if v == best}
