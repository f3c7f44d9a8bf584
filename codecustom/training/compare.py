"""Compare the base and the five strategies on the same held-out split: one table of quality and cost.

Rows are produced by ``customize`` (one artifact per strategy) plus the base. Columns come from a list
of *metric providers*: functions ``provider(row: ModelRow) -> dict[column, value]`` called once per row
and merged in order. The default providers give held-out loss/perplexity and the cost recorded in each
artifact's manifest; the evaluation stage adds its quality columns by passing more providers (or
appending to :data:`DEFAULT_PROVIDERS`). A provider can load the customized model with ``row.load()``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom.console import Console
from codecustom.training.customize import CustomizeRequest, Prepared, RunOutcome, customize, prepare, task_config_for


@dataclass
class ModelRow:
    """One compared model: the base (``strategy=None``) or a strategy's artifact."""

    name: str
    strategy: str | None
    prep: Prepared
    request: CustomizeRequest
    outcome: RunOutcome | None = None
    columns: dict[str, Any] = field(default_factory=dict)
    _loaded: Any = None

    @property
    def manifest(self) -> dict[str, Any]:
        return self.outcome.manifest if self.outcome else {}

    @property
    def artifact(self) -> Path | None:
        return self.outcome.artifact if self.outcome else None

    @property
    def split(self) -> str:
        return self.request.eval_split

    def load(self) -> Any:
        """The model as a :class:`~codecustom.modeling.loading.LoadedModel` (loaded once)."""
        if self._loaded is None:
            if self.outcome is None:
                self._loaded = self.prep.loaded
            else:
                from codecustom.modeling.artifacts import load_artifact

                self._loaded = load_artifact(self.outcome.artifact, base=self.prep.loaded)
        return self._loaded


MetricProvider = Callable[[ModelRow], dict[str, Any]]


def heldout_columns(row: ModelRow) -> dict[str, Any]:
    """Held-out loss and perplexity (recorded at training time; computed now for the base)."""
    if row.outcome is not None:
        m = row.outcome.metrics
        return {"split": m.get("heldout_split"), "heldout_loss": m.get("heldout_loss"),
                "perplexity": m.get("heldout_perplexity")}
    from codecustom.errors import DataError
    from codecustom.training.heldout import eval_loss

    cfg = task_config_for(row.request, row.prep.loaded, row.prep.device, 0)
    for split in (row.request.eval_split, "valid"):
        try:
            result = eval_loss(row.prep.loaded, row.prep.dataset_dir, row.request.task, split, config=cfg)
        except DataError:
            continue
        return {"split": split, "heldout_loss": result["loss"], "perplexity": result["perplexity"]}
    return {"split": None, "heldout_loss": None, "perplexity": None}


def cost_columns(row: ModelRow) -> dict[str, Any]:
    """Cost from the artifact manifest (zero training cost for the base)."""
    if row.outcome is None:
        return {"trainable_pct": 0.0, "steps": 0, "train_time_s": 0.0, "tokens_per_s": None,
                "peak_mem_mb": None, "train_gflops": 0.0, "artifact_mb": 0.0}
    c = row.outcome.cost
    peak = c.get("peak_memory_bytes")
    return {"trainable_pct": c.get("trainable_percent"), "steps": c.get("steps"),
            "train_time_s": c.get("wall_time_s"), "tokens_per_s": c.get("tokens_per_s"),
            "peak_mem_mb": round(peak / 2**20, 1) if peak else None,
            "train_gflops": round(c.get("train_flops", 0.0) / 1e9, 3),
            "artifact_mb": round(c.get("artifact_bytes", 0) / 2**20, 3)}


DEFAULT_PROVIDERS: list[MetricProvider] = [heldout_columns, cost_columns]

COLUMN_TITLES = {
    "heldout_loss": "held-out loss", "perplexity": "perplexity", "trainable_pct": "trainable %",
    "steps": "steps", "train_time_s": "train s", "tokens_per_s": "tokens/s", "peak_mem_mb": "peak MB",
    "train_gflops": "train GFLOPs", "artifact_mb": "artifact MB",
    # quality columns (codecustom.evaluation.compare.QualityProvider); rates are fractions in [0, 1]
    "bleu": "BLEU", "codebleu": "CodeBLEU", "exact_match": "EM", "edit_sim": "edit sim", "syntax_valid": "syntax ok",
    "ref_ppl": "ref test PPL", "line_em": "line EM", "line_es": "line edit sim", "line_syntax": "line syntax ok",
}


@dataclass
class Comparison:
    """The comparison table and where it came from."""

    project: str
    dataset: Path
    task: str
    base_id: str
    rows: list[ModelRow]

    def columns(self) -> list[str]:
        seen: list[str] = []
        for row in self.rows:
            for key in row.columns:
                if key not in seen and key != "split":
                    seen.append(key)
        return seen

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "dataset": str(self.dataset), "task": self.task, "base": self.base_id,
                "rows": [{"model": r.name, "artifact": str(r.artifact) if r.artifact else None, **r.columns}
                         for r in self.rows]}

    def table(self) -> tuple[list[list[Any]], list[str]]:
        cols = self.columns()
        headers = ["model"] + [COLUMN_TITLES.get(c, c.replace("_", " ")) for c in cols]
        return [[r.name] + [r.columns.get(c) for c in cols] for r in self.rows], headers


def compare(request: CustomizeRequest, console: Console, providers: list[MetricProvider] | None = None) -> Comparison:
    """Train every requested strategy on the same split and tabulate them beside the base."""
    prep = prepare(request, console)
    outcomes = customize(request, console, prep=prep)
    rows = [ModelRow("base", None, prep, request)] + [ModelRow(o.strategy, o.strategy, prep, request, o)
                                                      for o in outcomes]
    for row in rows:
        for provider in providers if providers is not None else DEFAULT_PROVIDERS:
            row.columns.update(provider(row))
    return Comparison(project=prep.project, dataset=prep.dataset_dir, task=request.task,
                      base_id=prep.loaded.base_id, rows=rows)
