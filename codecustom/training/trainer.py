"""One training run on Hugging Face Trainer: evaluation, early stopping, best checkpoint, resume, cost.

Trainer does the loop; this module chooses its arguments (see :mod:`codecustom.training.config`) and
adds four callbacks: a progress bar with loss and ETA, a cost meter, early stopping, and the mark that
a checkpoint is complete. On CUDA:
bf16 autocast, fused AdamW, dataloader workers, padding-free batches (packing) and optional
torch.compile; on CPU: fp32 and no workers. Token counting happens in ``training_step`` on the
device, so it never forces a host sync.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom.console import Console
from codecustom.data.tasks import TaskData, TorchDataset, get_task
from codecustom.training import distributed
from codecustom.training.config import Plan, TrainConfig, plan
from codecustom.training.cost import CostMeter, TokenCounts
from codecustom.training.runs import CHECKPOINT_PREFIX, mark_complete
from codecustom.training.speed import performance_arguments

log = logging.getLogger(__name__)


def make_training_args(**kwargs: Any) -> Any:
    """``TrainingArguments`` from the keywords this transformers version knows (others are logged, dropped)."""
    from transformers import TrainingArguments

    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        log.debug("TrainingArguments: this transformers version has no %s; skipped", ", ".join(unknown))
    return TrainingArguments(**{k: v for k, v in kwargs.items() if k in known})


def _trainer_classes() -> tuple[type, type, type]:
    from transformers import Trainer, TrainerCallback

    class CodecustomTrainer(Trainer):
        """Trainer that counts the tokens it trains on (on device, no sync per step)."""

        def __init__(self, *args: Any, token_counts: TokenCounts, is_seq2seq: bool, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.token_counts = token_counts
            self.is_seq2seq = is_seq2seq

        def training_step(self, model: Any, inputs: dict[str, Any], num_items_in_batch: Any = None) -> Any:
            self.token_counts.add_batch(inputs, self.is_seq2seq)
            return super().training_step(model, inputs, num_items_in_batch)

    class RunCallback(TrainerCallback):
        """Progress bar (loss, eval loss, ETA), eval lines for logs, and the cost meter."""

        def __init__(self, console: Console, label: str, meter: CostMeter) -> None:
            self.console, self.label, self.meter = console, label, meter
            self.bar: Any = None
            self.best: float | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.meter.begin()
            self.bar = self.console.progress(total=state.max_steps, desc=self.label, unit="step")
            if state.global_step:
                self.bar.update(state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.meter.sample()
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None,
                   **kwargs: Any) -> None:
            if self.bar is not None and logs and "loss" in logs:
                post = {"loss": f"{logs['loss']:.3f}"}
                if self.best is not None:
                    post["eval"] = f"{self.best:.3f}"
                self.bar.set_postfix(post, refresh=False)

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: dict[str, float] | None = None,
                        **kwargs: Any) -> None:
            metrics = metrics or {}
            self.meter.eval_time_s += float(metrics.get("eval_runtime", 0.0))
            loss = metrics.get("eval_loss")
            if loss is None:
                return
            improved = self.best is None or loss < self.best
            self.best = loss if improved else self.best
            line = (f"{self.label}: step {state.global_step}/{state.max_steps} held-out loss {loss:.4f}"
                    + (" (best)" if improved else ""))
            if self.bar is not None and not self.bar.disable:
                self.bar.set_postfix({"eval": f"{self.best:.3f}"}, refresh=True)
            else:
                self.console.info(line)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.meter.end()
            if self.bar is not None:
                self.bar.close()

    class MarkComplete(TrainerCallback):
        """After Trainer wrote a checkpoint (and rotated old ones), mark it complete (runs.mark_complete)."""

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.is_world_process_zero:
                mark_complete(Path(args.output_dir) / f"{CHECKPOINT_PREFIX}{state.global_step}")

    return CodecustomTrainer, RunCallback, MarkComplete


@dataclass
class TrainResult:
    """The trained model (best checkpoint restored) and how the run went."""

    model: Any
    plan: Plan
    history: list[dict[str, Any]]
    best_step: int | None
    best_eval_loss: float | None
    stopped_early: bool
    steps: int
    meter: CostMeter
    counts: TokenCounts
    resumed_from: str | None = None
    notes: list[str] = field(default_factory=list)


def _flattening_is_exact(model: Any, examples: list[dict[str, list[int]]], padded: Any, flat: Any) -> bool:
    """True when padding-free batches (``position_ids`` restart per example) give the same logits as padding.

    Checked on the real model before training: an architecture whose attention ignores the restarts
    would let the second example attend to the first, and its logits would differ.
    """
    import torch

    sample = examples[:2]
    if len(sample) < 2:
        return False
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            a = {k: v.to(device) for k, v in padded(sample).items() if k != "labels"}
            b = {k: v.to(device) for k, v in flat(sample).items() if k != "labels"}
            rows = model(**a).logits.float()
            packed = model(**b).logits.float()[0]
        first, second = (len(ex["input_ids"]) for ex in sample)
        want = torch.cat([rows[0, :first], rows[1, :second]])
        scale = want.abs().max().clamp_min(1e-6)
        return bool(((packed - want).abs().max() / scale) < 1e-2)
    except Exception as exc:  # an architecture that cannot take packed position_ids
        log.debug("padding-free batches rejected: %s", exc)
        return False
    finally:
        model.train(was_training)


def _base_config(model: Any) -> Any:
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def run_training(model: Any, *, data: TaskData, tokenizer: Any, is_seq2seq: bool, default_lr: float,
                 config: TrainConfig, run_dir: Path, resume_from: str | None = None, console: Console | None = None,
                 label: str = "train") -> TrainResult:
    """Train ``model`` (already prepared by a strategy) on ``data`` with Trainer; see module docstring.

    ``run_dir`` (owned by the caller, see :mod:`codecustom.training.runs`) receives the checkpoints, each
    marked complete once fully written; ``resume_from`` is a complete checkpoint to continue from."""
    import torch
    from transformers import EarlyStoppingCallback, PrinterCallback, ProgressCallback, set_seed

    from codecustom.modeling.loading import pick_device

    console = console or Console(quiet=True)
    device = pick_device(config.device)
    cuda = device.startswith("cuda")
    train, valid = data.splits["train"], data.splits.get("valid") or []
    run_plan = plan(config, n_train=len(train), device=device, default_lr=default_lr,
                    bf16_supported=cuda and torch.cuda.is_bf16_supported())
    notes: list[str] = []
    model.to(device)
    # No KV cache while training: it only costs memory, and it hides packed-sequence boundaries from the masks.
    for cfg in {id(c): c for c in (getattr(model, "config", None), getattr(_base_config(model), "config", None))
                if c is not None}.values():
        cfg.use_cache = False
    task = get_task(data.task)
    collator = task.collator(tokenizer, is_seq2seq=is_seq2seq, pad_to_multiple_of=8 if cuda else None)
    want_packing = config.packing if config.packing is not None else cuda
    if want_packing and data.task == "tests" and not is_seq2seq:
        from transformers import DataCollatorWithFlattening

        flat = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)
        if _flattening_is_exact(model, train, collator, flat):
            collator = flat
        else:
            notes.append("padding-free batches are not exact for this architecture; using padded batches")

    run_dir = Path(run_dir)
    world = distributed.world_size()
    parallel: dict[str, Any] = {}
    if world > 1:  # launched by torchrun/accelerate: Trainer wraps the model in DDP
        parallel = {"ddp_backend": "nccl" if cuda else "gloo", "ddp_find_unused_parameters": False}

    has_eval = len(valid) > 0
    if not has_eval:
        notes.append("no held-out examples: no early stopping, the last step is kept")
    causal_kernel = False
    previous_attention = getattr(_base_config(model).config, "_attn_implementation", None) or "sdpa"
    if cuda and data.task == "completion":  # packed blocks without padding: mask-free flash attention
        from codecustom.training.speed import use_causal_kernel

        causal_kernel = use_causal_kernel(model, len(tokenizer))
    args = make_training_args(
        output_dir=str(run_dir),
        per_device_train_batch_size=distributed.per_device_batch(run_plan.batch_size),
        per_device_eval_batch_size=distributed.per_device_batch(run_plan.batch_size),
        gradient_accumulation_steps=run_plan.grad_accum,
        learning_rate=run_plan.learning_rate,
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        max_steps=run_plan.max_steps,
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type="cosine",
        eval_strategy="steps" if has_eval else "no",
        eval_steps=run_plan.eval_steps,
        save_strategy="steps",
        save_steps=run_plan.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=has_eval,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        logging_strategy="steps",
        logging_steps=run_plan.logging_steps,
        report_to="none",
        disable_tqdm=True,
        seed=config.seed,
        data_seed=config.seed,
        prediction_loss_only=True,
        remove_unused_columns=False,
        label_names=["labels"],
        # similar lengths together means less padding (the keyword changed across transformers 5.x)
        train_sampling_strategy="group_by_length" if cuda and data.task == "tests" else "random",
        group_by_length=cuda and data.task == "tests",
        save_only_model=False,
        **performance_arguments(cuda=cuda, bf16=run_plan.bf16, compile=config.compile,
                                num_workers=run_plan.num_workers),
        **parallel,
    )
    set_seed(config.seed)
    counts = TokenCounts()
    meter = CostMeter(device=device)
    trainer_cls, callback_cls, complete_cls = _trainer_classes()
    callbacks: list[Any] = [callback_cls(console, label, meter), complete_cls()]
    if has_eval:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    trainer = trainer_cls(model=model, args=args, train_dataset=TorchDataset(train),
                          eval_dataset=TorchDataset(valid) if has_eval else None, data_collator=collator,
                          callbacks=callbacks, token_counts=counts, is_seq2seq=is_seq2seq)
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    try:
        trainer.train(resume_from_checkpoint=resume_from)
    finally:
        if causal_kernel:
            from codecustom.training.speed import restore_attention

            restore_attention(model, previous_attention)
    counts.sum_over_processes()  # cost covers every worker's tokens
    state = trainer.state
    history = [dict(h) for h in state.log_history]
    best_step = None
    if state.best_model_checkpoint:
        best_step = int(Path(state.best_model_checkpoint).name.rsplit("-", 1)[-1])
    stopped = state.global_step < run_plan.max_steps
    trained = trainer.model
    if hasattr(trained, "_orig_mod"):  # torch.compile wrapper
        trained = trained._orig_mod
    return TrainResult(model=trained, plan=run_plan, history=history, best_step=best_step,
                       best_eval_loss=state.best_metric, stopped_early=stopped, steps=state.global_step,
                       meter=meter, counts=counts, resumed_from=resume_from, notes=notes + data.notes)
