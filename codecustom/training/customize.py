"""The customization pipeline: dataset -> examples -> strategy -> Trainer -> held-out loss -> artifact.

``customize`` runs one or more strategies on the same split of the same dataset, one after another,
each on a fresh copy of the base. Checkpoints live in ``<home>/runs/<project>/<task>/<strategy>/``
until the artifact is saved; with ``resume=True`` a strategy whose artifact already matches this
exact run is skipped and an interrupted one continues from its last checkpoint.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom import paths
from codecustom.console import Console
from codecustom.data.tasks import TaskConfig, TaskData, build_task_data, dataset_fingerprint, get_task
from codecustom.data.tests_task import PROMPT_VERSION
from codecustom.errors import DataError, UsageError
from codecustom.mining.records import is_dataset, read_manifest
from codecustom.modeling import architecture as arch
from codecustom.modeling.strategies import (StrategyOptions, TensorStrategy, get_strategy, trainable_summary)
from codecustom.training import distributed
from codecustom.training.config import TrainConfig, default_max_length


@dataclass
class CustomizeRequest:
    """Everything one ``customize``/``compare`` invocation needs."""

    source: str
    base: str | None = None
    strategies: list[str] = field(default_factory=lambda: ["lora"])
    task: str = "tests"
    train: TrainConfig = field(default_factory=TrainConfig)
    task_config: TaskConfig = field(default_factory=TaskConfig)
    max_length: int | None = None
    options: StrategyOptions = field(default_factory=StrategyOptions)
    project: str | None = None
    store: Path | None = None
    resume: bool = False
    rev: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    min_examples: int | None = None
    eval_split: str = "test"


@dataclass
class RunOutcome:
    """One strategy's result: where its artifact is and what it scored and cost."""

    strategy: str
    artifact: Path
    manifest: dict[str, Any]
    reused: bool = False

    @property
    def metrics(self) -> dict[str, Any]:
        return self.manifest.get("metrics", {})

    @property
    def cost(self) -> dict[str, Any]:
        return self.manifest.get("cost", {})


@dataclass
class Prepared:
    """The resolved dataset, project and loaded base shared by every strategy of a run."""

    dataset_dir: Path
    project: str
    loaded: Any
    device: str


def resolve_dataset(source: str, *, rev: str | None, console: Console) -> tuple[Path, str]:
    """A dataset folder as is, or a git repository mined now; returns (dataset folder, project name)."""
    path = Path(source).expanduser()
    if path.is_dir() and is_dataset(path):
        manifest = read_manifest(path)
        return path, paths.project_name(manifest.repo or path.name)
    looks_remote = "://" in source or source.startswith("git@")
    if not path.exists() and not looks_remote:
        raise UsageError(f"{source} does not exist", hint="pass a git repository or a folder written by 'codecustom mine'")
    try:
        from codecustom.mining import mine
    except ImportError as exc:
        raise DataError("this installation cannot mine repositories", hint="pass a dataset folder from 'codecustom mine'") from exc
    console.info(f"mining {source} ...")
    out = Path(mine(source, rev=rev, console=console))
    return out, paths.project_name(source)


def quiet_libraries() -> None:
    """No per-checkpoint progress bars or known-harmless deprecation chatter from the libraries."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def prepare(request: CustomizeRequest, console: Console) -> Prepared:
    """Resolve the dataset and load the base once."""
    from codecustom.modeling.loading import load_base, pick_device

    quiet_libraries()

    get_task(request.task)
    for name in request.strategies:
        get_strategy(name)
    dataset_dir, project = resolve_dataset(request.source, rev=request.rev, console=console)
    device = pick_device(request.train.device)
    loaded = load_base(request.base, trust_remote_code=request.trust_remote_code, allow_pickle=request.allow_pickle,
                       device=device, dtype=_load_dtype(device))
    return Prepared(dataset_dir=dataset_dir, project=request.project or project, loaded=loaded, device=device)


def _load_dtype(device: str) -> Any:
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16  # frozen weights in bf16; trained tensors are upcast (see _fresh_model)
    return torch.float32


def task_config_for(request: CustomizeRequest, loaded: Any, device: str, extra_positions: int) -> TaskConfig:
    """The task settings with the sequence length resolved for this model and strategy."""
    want = request.max_length or default_max_length(device)
    limit = arch.max_positions(loaded.model)
    if limit is not None:
        want = min(want, limit - extra_positions)
    cfg = copy.copy(request.task_config)
    cfg.max_length = want
    cfg.seed = request.train.seed
    return cfg


def run_fingerprint(parts: dict[str, Any]) -> str:
    """A stable id of everything that determines a run's result."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fresh_model(loaded: Any, strategy: Any) -> Any:
    model = copy.deepcopy(loaded.model)
    if isinstance(strategy, TensorStrategy):
        model.float()  # trained tensors keep fp32 master weights (bf16 is only the autocast compute type)
    return model


def run_strategy(prep: Prepared, request: CustomizeRequest, name: str, console: Console,
                 data_cache: dict[int, tuple[Any, TaskData]] | None = None) -> RunOutcome:
    """Train one strategy and save its artifact (or reuse a finished one when resuming)."""
    from transformers import set_seed

    from codecustom.modeling.artifacts import artifact_dir, read_manifest as read_artifact, save_artifact
    from codecustom.training.cost import cost_record, flop_profile
    from codecustom.training.heldout import loss_on_examples
    from codecustom.training.trainer import run_training

    loaded = prep.loaded
    strategy = get_strategy(name)
    task_cfg = task_config_for(request, loaded, prep.device, strategy.extra_positions(request.options))
    data_cache = {} if data_cache is None else data_cache
    if task_cfg.max_length not in data_cache:
        tokenizer = copy.deepcopy(loaded.tokenizer)
        data = build_task_data(prep.dataset_dir, request.task, tokenizer, is_seq2seq=loaded.is_seq2seq,
                               arch=loaded.arch, config=task_cfg, min_examples=request.min_examples)
        data_cache[task_cfg.max_length] = (tokenizer, data)
    tokenizer, data = data_cache[task_cfg.max_length]
    fingerprint = run_fingerprint({
        "base": loaded.base_hash, "dataset": dataset_fingerprint(prep.dataset_dir), "task": request.task,
        "strategy": name, "task_config": task_cfg.to_dict(), "train": request.train.to_dict(),
        "options": request.options.to_dict(), "prompt_version": PROMPT_VERSION, "device": prep.device})
    store = request.store
    final = artifact_dir(prep.project, request.task, name, store)
    run_dir = paths.home() / "runs" / prep.project / request.task / name
    if request.resume and (final / "manifest.json").is_file():
        manifest = read_artifact(final)
        if manifest.get("run_fingerprint") == fingerprint:
            console.info(f"{name}: already trained with these settings ({final}); skipping")
            return RunOutcome(name, final, manifest, reused=True)
    if request.resume and (run_dir / "run.json").is_file():
        previous = json.loads((run_dir / "run.json").read_text())
        if previous.get("fingerprint") != fingerprint:
            raise UsageError(f"the interrupted {name} run in {run_dir} used different settings, data or base",
                             hint="rerun without --resume to start over")

    set_seed(request.train.seed)
    model = _fresh_model(loaded, strategy)
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    model = strategy.prepare(model, request.options)
    summary = trainable_summary(model)
    console.info(f"{name}: training {summary.trainable:,} of {summary.total:,} parameters "
                 f"({summary.percent:.3g}%) on {len(data.splits['train'])} {get_task(request.task).unit}")
    profile = flop_profile(model, reaches_input=strategy.reaches_input)
    if not request.resume and run_dir.exists() and distributed.is_main_process():
        shutil.rmtree(run_dir)
    distributed.barrier()
    run_dir.mkdir(parents=True, exist_ok=True)
    if distributed.is_main_process():
        (run_dir / "run.json").write_text(json.dumps({"fingerprint": fingerprint, "strategy": name}))
    result = run_training(model, data=data, tokenizer=tokenizer, is_seq2seq=loaded.is_seq2seq,
                          default_lr=strategy.default_lr, config=request.train, run_dir=run_dir,
                          resume=request.resume, console=console, label=name)
    for note in result.notes:
        console.info(f"{name}: {note}")

    split = request.eval_split if data.splits.get(request.eval_split) else "valid"
    heldout = None
    if data.splits.get(split):
        collator = get_task(request.task).collator(tokenizer, is_seq2seq=loaded.is_seq2seq)
        heldout = loss_on_examples(result.model, data.splits[split], collator, is_seq2seq=loaded.is_seq2seq,
                                   batch_size=result.plan.batch_size)
    curve = [{"step": h["step"], **({"loss": h["loss"]} if "loss" in h else {}),
              **({"eval_loss": h["eval_loss"]} if "eval_loss" in h else {})}
             for h in result.history if "loss" in h or "eval_loss" in h]
    metrics = {
        "heldout_split": split if heldout else None,
        "heldout_loss": heldout["loss"] if heldout else None,
        "heldout_perplexity": heldout["perplexity"] if heldout else None,
        "heldout_tokens": heldout["tokens"] if heldout else 0,
        "best_eval_loss": result.best_eval_loss,
        "best_step": result.best_step,
        "steps": result.steps,
        "stopped_early": result.stopped_early,
        "resumed_from_step": _checkpoint_step(result.resumed_from),
        "curve": curve,
    }
    record = {
        "run_fingerprint": fingerprint,
        "dataset": {"path": str(prep.dataset_dir), "manifest_hash": dataset_fingerprint(prep.dataset_dir),
                    **_dataset_identity(prep.dataset_dir), "examples": {k: len(v) for k, v in data.splits.items()},
                    "stats": data.stats, "notes": data.notes},
        "task_config": (data.config or task_cfg).to_dict(),
        "task_format": {"prompt_version": PROMPT_VERSION,
                        "fim": data.fim.tokens if data.fim is not None else None},
        "strategy_options": request.options.to_dict(),
        "hyperparameters": {**result.plan.to_dict(), "train_config": request.train.to_dict()},
        "metrics": metrics,
        "cost": cost_record(meter=result.meter, counts=result.counts, profile=profile,
                            trainable=summary.to_dict(), steps=result.steps),
        "tokenizer": tokenizer,
        "base_vocab_size": len(loaded.tokenizer),
    }
    record["cost"]["processes"] = distributed.world_size()
    if distributed.is_main_process():  # one writer; the others wait for the artifact to exist
        info = save_artifact(result.model, loaded, strategy=name, task=request.task, project=prep.project,
                             record=record, store=store)
        shutil.rmtree(run_dir, ignore_errors=True)
    distributed.barrier()
    del model, result
    if not distributed.is_main_process():
        return RunOutcome(name, final, read_artifact(final))
    return RunOutcome(name, info.path, info.manifest)


def _checkpoint_step(checkpoint: str | None) -> int | None:
    return int(Path(checkpoint).name.rsplit("-", 1)[-1]) if checkpoint else None


def _dataset_identity(dataset_dir: Path) -> dict[str, Any]:
    manifest = read_manifest(dataset_dir)
    return {"repo": manifest.repo, "revision": manifest.revision}


def customize(request: CustomizeRequest, console: Console, prep: Prepared | None = None) -> list[RunOutcome]:
    """Run every requested strategy; returns their outcomes in registry order."""
    prep = prep or prepare(request, console)
    cache: dict[int, tuple[Any, TaskData]] = {}
    return [run_strategy(prep, request, name, console, cache) for name in request.strategies]
