"""Evaluate one model (a base or a customized artifact) on a mined dataset's held-out split.

``evaluate_model`` runs test generation (text metrics, perplexity of the reference tests, the execution
ladder in the sandbox) and line completion, and returns one JSON-ready result; ``write_evaluation``
stores it with the per-example details. ``compare`` calls ``evaluate_model`` once per model with a
shared :class:`~codecustom.evaluation.execution.Workspace`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from codecustom.console import Console
from codecustom.errors import DataError, UsageError
from codecustom.evaluation.completion import (CompletionCase, completion_metrics, load_files, run_completions,
                                              sample_cases)
from codecustom.evaluation.execution import Workspace
from codecustom.evaluation.testgen import (TestGenExample, execution_metrics, generate_tests, load_pairs, run_ladders,
                                          text_metrics)
from codecustom.mining.records import is_dataset, read_manifest

log = logging.getLogger(__name__)
DEFAULT_SAMPLE_TEMPERATURE = 0.8


@dataclass
class EvalConfig:
    """What to evaluate and how (the CLI flags of ``codecustom evaluate``)."""

    split: str = "test"
    samples: int = 1  # > 1: sampled generations, pass@k / build@k
    temperature: float | None = None  # default: 0 (greedy) for one sample, 0.8 for several
    max_examples: int | None = None
    languages: list[str] | None = None
    context_level: str | None = None  # default: the artifact's training level, else the data stage default
    completion_cases: int = 100  # 0 skips completion
    execute: bool = True
    runs: int = 3
    timeout: float = 60.0  # per test run
    python: str | None = None  # interpreter for Python repos (needs pytest + coverage)
    pytest_plugins: bool = True
    max_new_tokens: int | None = None  # default: the model's own test budget (TestGenEngine.for_model)
    batch_size: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise UsageError(f"--samples must be at least 1, got {self.samples}")
        if self.runs < 1:
            raise UsageError(f"--runs must be at least 1, got {self.runs}")
        if self.temperature is None:
            self.temperature = 0.0 if self.samples == 1 else DEFAULT_SAMPLE_TEMPERATURE
        if self.samples > 1 and self.temperature == 0:
            raise UsageError("--samples > 1 needs --temperature > 0 (greedy samples are all the same)")


@dataclass
class Evaluation:
    """A finished evaluation: the summary and the per-example details behind it."""

    summary: dict[str, Any]
    tests: list[TestGenExample] = field(default_factory=list)
    completions: list[CompletionCase] = field(default_factory=list)


def check_dataset(dataset: str | Path) -> Path:
    """The dataset folder, or a clear error."""
    path = Path(dataset).expanduser()
    if not is_dataset(path):
        raise DataError(f"{path} is not a mined dataset (no manifest.json / pairs.jsonl)",
                        hint="run 'codecustom mine REPO' first, or pass the folder it printed")
    return path


def resolve_repo(dataset: Path, repo: str | Path | None) -> tuple[Path | None, str, str]:
    """(repo path or None, revision, note): where execution can export the mined revision from."""
    manifest = read_manifest(dataset)
    revision = manifest.revision
    candidate = Path(repo).expanduser() if repo else Path(manifest.repo).expanduser() if manifest.repo else None
    if candidate is None or not candidate.exists():
        where = f"{candidate}" if candidate else "the dataset manifest"
        return None, revision, f"repository not found ({where}); pass --repo to run generated tests"
    if not (candidate / ".git").exists() and not (candidate / "HEAD").exists():
        if repo:
            raise DataError(f"{candidate} is not a git repository", hint="pass the clone the dataset was mined from")
        return None, revision, f"{candidate} is not a git repository; pass --repo to run generated tests"
    return candidate, revision, ""


def model_info(loaded: Any, name: str) -> dict[str, Any]:
    """What identifies the evaluated model in reports."""
    extra = getattr(loaded, "extra", {}) or {}
    manifest = extra.get("manifest") or {}
    return {"name": name, "base_id": getattr(loaded, "base_id", None), "arch": getattr(loaded, "arch", None),
            "strategy": manifest.get("strategy") or extra.get("strategy") or ("base" if name == "base" else None),
            "artifact": extra.get("artifact"), "task": manifest.get("task") or extra.get("task"),
            "project": manifest.get("project") or extra.get("project")}


def _context_level(loaded: Any, config: EvalConfig) -> str:
    from codecustom.data.tests_task import DEFAULT_CONTEXT_LEVEL

    if config.context_level:
        return config.context_level
    if loaded is None:
        return DEFAULT_CONTEXT_LEVEL
    return artifact_context_level((getattr(loaded, "extra", {}) or {}).get("manifest") or {})


def artifact_context_level(manifest: dict[str, Any]) -> str:
    """The focal-context level an artifact was trained with (the data stage's default otherwise)."""
    from codecustom.data.tests_task import DEFAULT_CONTEXT_LEVEL

    return (manifest.get("task_config") or {}).get("context_level") or DEFAULT_CONTEXT_LEVEL


def load_predictions(path: str | Path) -> dict[str, list[str]]:
    """Generations made elsewhere: JSONL lines ``{"test_id": ..., "samples": [...]}`` (or ``"prediction": "..."``)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"predictions file {file} does not exist")
    out: dict[str, list[str]] = {}
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            samples = row["samples"] if "samples" in row else [row["prediction"]]
            out[str(row["test_id"])] = [str(s) for s in samples]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{file} line {n} is not a prediction record ({exc})",
                            hint='each line: {"test_id": "...", "samples": ["..."]}') from None
    return out


def evaluate_model(loaded: Any | None, dataset: Path, *, name: str = "model", config: EvalConfig | None = None,
                   workspace: Workspace | None = None, exec_note: str = "", console: Console | None = None,
                   sandbox: Any = None, predictions: dict[str, list[str]] | None = None,
                   outcome_cache: dict | None = None) -> Evaluation:
    """Evaluate ``loaded`` on ``dataset``'s held-out split (see module docstring).

    ``workspace`` is the repo at the mined revision; without one, execution is skipped and ``exec_note``
    says why. With ``predictions`` (test id -> samples made elsewhere) nothing is generated; perplexity and
    completion then need ``loaded`` too and are skipped without it.
    """
    from codecustom.data.tests_task import pick_context

    config = config or EvalConfig()
    console = console or Console(quiet=True)
    started = time.monotonic()
    pairs, methods = load_pairs(dataset, config.split, config.languages, config.max_examples)
    summary: dict[str, Any] = {"model": model_info(loaded, name) if loaded is not None else {"name": name},
                               "dataset": str(dataset), "split": config.split, "config": asdict(config)}
    if predictions is not None:
        missing = [p.test_id for p in pairs if p.test_id not in predictions]
        if len(missing) == len(pairs) and pairs:
            raise DataError(f"the predictions name none of the {len(pairs)} held-out tests of split '{config.split}'",
                            hint="their test_id values must be the test_id of pairs.jsonl")
        if missing:
            summary["predictions_missing"] = len(missing)
        pairs = [p for p in pairs if p.test_id in predictions]
    if loaded is None and predictions is None:
        raise UsageError("nothing to evaluate: give a model or predictions")
    level = _context_level(loaded, config)
    summary["context_level"] = level
    examples = [TestGenExample(pair=p, context=pick_context(p.context, level)) for p in pairs]
    backend = None
    if loaded is not None:
        from codecustom.inference import InProcessBackend

        backend = InProcessBackend(loaded, batch_size=config.batch_size)

    if examples:
        if predictions is not None:
            for e in examples:
                e.samples = predictions[e.pair.test_id]
        else:
            from codecustom.inference import TestGenEngine

            engine = TestGenEngine.for_model(loaded, backend, max_new_tokens=config.max_new_tokens, seed=config.seed)
            with console.progress(total=len(examples), desc=f"{name}: generating tests", unit="test") as bar:
                generate_tests(engine, examples, samples=config.samples, temperature=config.temperature,
                               batch=config.batch_size, progress=bar.update)
        tests = text_metrics(examples)
        if loaded is not None:
            from codecustom.evaluation.metrics.perplexity import reference_perplexity

            ppl = reference_perplexity(loaded, [(e.context, e.pair.test, e.pair.language) for e in examples],
                                       batch_size=config.batch_size)
            for e, value in zip(examples, ppl.per_example):
                e.perplexity = value
            tests["perplexity"] = ppl.perplexity
            tests["perplexity_tokens"] = ppl.tokens
        tests["samples"] = max(len(e.samples) for e in examples)
        tests["temperature"] = None if predictions is not None else config.temperature
        execution: dict[str, Any] = {"enabled": False, "note": exec_note}
        if config.execute and workspace is not None:
            options = {"runs": config.runs, "timeout": config.timeout, "python": config.python,
                       "plugins": config.pytest_plugins}
            if sandbox is not None:
                options["sandbox"] = sandbox
            with console.progress(total=len(examples), desc=f"{name}: running tests", unit="test") as bar:
                notes = run_ladders(examples, workspace, methods, options, progress=bar.update,
                                    shared=outcome_cache)
            execution = {"enabled": True, "languages": notes, **execution_metrics(examples, tests["samples"])}
        elif not config.execute:
            execution["note"] = "disabled (--no-exec)"
        tests["execution"] = execution
    else:
        tests = {"n_examples": 0, "note": f"no held-out pairs in split '{config.split}'"}
    summary["tests"] = tests

    cases: list[CompletionCase] = []
    if config.completion_cases > 0 and backend is not None:
        from codecustom.inference import CompletionEngine

        files = load_files(dataset, config.split)
        cases = sample_cases(files, config.completion_cases, seed=config.seed)
        if cases:
            engine_c = CompletionEngine(backend, loaded.tokenizer)
            with console.progress(total=len(cases), desc=f"{name}: completions", unit="line") as bar:
                run_completions(engine_c, cases, progress=bar.update)
            summary["completion"] = completion_metrics(cases)
        else:
            summary["completion"] = {"n": 0, "note": f"no parseable held-out files in split '{config.split}'"}
    summary["seconds"] = round(time.monotonic() - started, 2)
    return Evaluation(summary=summary, tests=examples, completions=cases)


def write_evaluation(evaluation: Evaluation, out_dir: Path) -> Path:
    """``eval.json`` (summary), ``tests.jsonl`` and ``completions.jsonl`` (per example) under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(json.dumps(evaluation.summary, indent=2, default=str) + "\n", encoding="utf-8")
    with open(out_dir / "tests.jsonl", "w", encoding="utf-8") as fh:
        for e in evaluation.tests:
            fh.write(json.dumps(e.as_dict(), default=str) + "\n")
    with open(out_dir / "completions.jsonl", "w", encoding="utf-8") as fh:
        for c in evaluation.completions:
            fh.write(json.dumps(c.as_dict()) + "\n")
    return out_dir / "eval.json"
