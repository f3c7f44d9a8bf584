"""Quality columns for ``codecustom compare`` and its report.

:class:`QualityProvider` is a metric provider for :func:`codecustom.training.compare.compare`: called once
per compared model (base first), it evaluates the model with :func:`evaluate_model` on the dataset's
held-out split, sharing one sandbox workspace (the repo at the mined revision) and one cache of ladder
outcomes between models, and returns the quality columns. :func:`write_compare_report` turns the
comparison and the kept evaluations into report.md / report.html.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codecustom.console import Console
from codecustom.evaluation.evaluate import EvalConfig, Evaluation, evaluate_model, resolve_repo, write_evaluation
from codecustom.evaluation.execution import Workspace
from codecustom.evaluation.report import ReportMeta, ReportRow, cost_from_manifest, write_report
from codecustom.evaluation.report.samples import pick_samples

# column key in the compare table -> (title, where in an evaluation summary)
QUALITY_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bleu": ("BLEU", ("tests", "bleu")),
    "codebleu": ("CodeBLEU", ("tests", "codebleu")),
    "exact_match": ("EM", ("tests", "exact_match")),
    "edit_sim": ("edit sim", ("tests", "edit_similarity")),
    "syntax_valid": ("syntax ok", ("tests", "syntax_valid")),
    "ref_ppl": ("ref test PPL", ("tests", "perplexity")),
    "build@1": ("build@1", ("tests", "execution", "build@1")),
    "pass@1": ("pass@1", ("tests", "execution", "pass@1")),
    "cover@1": ("cover@1", ("tests", "execution", "cover@1")),
    "line_em": ("line EM", ("completion", "exact_match")),
    "line_es": ("line edit sim", ("completion", "edit_similarity")),
    "line_syntax": ("line syntax ok", ("completion", "syntax_valid")),
}


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def quality_columns(summary: dict[str, Any], samples: int) -> dict[str, Any]:
    """The compare-table columns of one evaluation summary (rates rounded to 4 digits)."""
    out = {key: _dig(summary, path) for key, (_, path) in QUALITY_COLUMNS.items()}
    if samples > 1:
        for what in ("build", "pass", "cover"):
            out[f"{what}@{samples}"] = _dig(summary, ("tests", "execution", f"{what}@{samples}"))
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


class QualityProvider:
    """Evaluates each compared model; keeps the evaluations for the report (see module docstring)."""

    def __init__(self, dataset: Path, config: EvalConfig, *, repo: str | Path | None = None,
                 console: Console | None = None, out_dir: Path | None = None) -> None:
        self.dataset = Path(dataset)
        self.config = config
        self.console = console or Console(quiet=True)
        self.out_dir = out_dir
        self.evaluations: dict[str, Evaluation] = {}
        self._cache: dict = {}
        self.workspace: Workspace | None = None
        self.exec_note = ""
        if config.execute:
            repo_path, revision, self.exec_note = resolve_repo(self.dataset, repo)
            if repo_path is not None:
                self.workspace = Workspace.from_git(repo_path, revision)
        else:
            self.exec_note = "disabled (--no-exec)"

    def __call__(self, row: Any) -> dict[str, Any]:
        evaluation = evaluate_model(row.load(), self.dataset, name=row.name, config=self.config,
                                    workspace=self.workspace, exec_note=self.exec_note, console=self.console,
                                    outcome_cache=self._cache)
        self.evaluations[row.name] = evaluation
        if self.out_dir is not None:
            write_evaluation(evaluation, self.out_dir / row.name)
        tests = evaluation.summary.get("tests", {})
        self.console.info(f"{row.name}: CodeBLEU {_pct(tests.get('codebleu'))}, "
                          f"pass@1 {_pct((tests.get('execution') or {}).get('pass@1'))} "
                          f"({evaluation.summary['seconds']:.0f}s)")
        return quality_columns(evaluation.summary, self.config.samples)

    def close(self) -> None:
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None


def _pct(value: Any) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def report_rows(rows: list[Any], evaluations: dict[str, Evaluation]) -> list[ReportRow]:
    """Report rows from compare's model rows (cost from each artifact's manifest) and their evaluations."""
    out = []
    for row in rows:
        manifest = row.manifest or {}
        cost, heldout, curve = cost_from_manifest(manifest) if manifest else ({}, {}, [])
        if not manifest:  # the base: nothing trained, nothing stored
            cost = {"trainable_pct": 0.0, "flops": 0.0, "artifact_bytes": 0, "train_seconds": 0.0}
        loss = row.columns.get("heldout_loss")
        if loss is not None:
            heldout = {**heldout, "loss": loss}
        evaluation = evaluations.get(row.name)
        out.append(ReportRow(row.name, evaluation.summary if evaluation else None, cost=cost, heldout=heldout,
                             curve=curve))
    return out


def write_compare_report(comparison: Any, provider: QualityProvider | None, out_dir: Path, *,
                         command: str = "", sandbox: list[str] | None = None) -> dict[str, Path]:
    """report.md + report.html (+ SVG plots) for a finished comparison."""
    from codecustom.mining.records import read_manifest

    data = read_manifest(comparison.dataset)
    evaluations = provider.evaluations if provider is not None else {}
    first = next(iter(evaluations.values()), None)
    tests = first.summary.get("tests", {}) if first else {}
    facts = {"project": comparison.project, "repository": data.repo, "revision": data.revision,
             "dataset": str(comparison.dataset), "task customized": comparison.task, "base model": comparison.base_id,
             "held-out tests evaluated": tests.get("n_examples", "-"),
             "samples per test": tests.get("samples", "-"),
             "completion cursors": (first.summary.get("completion") or {}).get("n", "-") if first else "-"}
    notes = []
    if provider is None:
        notes.append("quality metrics skipped (--no-eval): cost and held-out loss only")
    elif provider.exec_note:
        notes.append(f"generated tests not executed: {provider.exec_note}")
    meta = ReportMeta(title=f"codecustom compare: {comparison.project}", facts=facts,
                      commands=[command] if command else [], sandbox=sandbox or [], notes=notes,
                      samples=pick_samples(evaluations))
    return write_report(report_rows(comparison.rows, evaluations), out_dir, meta)
