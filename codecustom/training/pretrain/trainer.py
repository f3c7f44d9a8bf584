"""The training run: a Llama-style decoder from scratch with the Hugging Face Trainer.

CUDA: bf16 autocast (fp16 on GPUs without bf16), fused AdamW, TF32 matmuls, optional torch.compile.
CPU: fp32, plain AdamW. The learning rate warms up linearly and then follows a cosine whose progress
is the larger of ``step / max_steps`` and ``elapsed / budget``, so a ``--minutes`` run anneals fully
by the time the budget stops it. A budget (or a first Ctrl-C) ends training after the current step and
the model is still saved.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codecustom.console import Console
from codecustom.training.pretrain.examples import PackedData

IGNORE_INDEX = -100


@dataclass
class TrainSettings:
    """Optimisation settings for one run (resolved from the size and the command line)."""

    device: str  # cpu | cuda | cuda:N
    micro_batch: int
    grad_accum: int
    learning_rate: float
    warmup_steps: int
    max_steps: int
    budget_s: float | None  # stop after this many seconds of training
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.1
    compile: bool = False
    seed: int = 0
    eval_every_s: float | None = None  # evaluate on the held-out blocks this often (seconds)
    logging_steps: int = 10
    workers: int = 0  # dataloader workers

    @property
    def precision(self) -> str:
        if not self.device.startswith("cuda"):
            return "fp32"
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


@dataclass
class TrainOutcome:
    """What happened during training (for the card and the command's result)."""

    model: Any
    steps: int
    tokens: int
    train_seconds: float
    stopped_by: str  # max_steps | budget | interrupt
    curve: list[dict[str, float]] = field(default_factory=list)
    eval_curve: list[dict[str, float]] = field(default_factory=list)
    final_eval: dict[str, float] = field(default_factory=dict)
    peak_memory_mb: float | None = None


class PackedDataset:
    """Map-style dataset over packed blocks; labels are the inputs with masked positions set to -100."""

    def __init__(self, data: PackedData) -> None:
        import torch

        self.ids = torch.from_numpy(np.ascontiguousarray(data.input_ids))
        self.mask = torch.from_numpy(np.ascontiguousarray(data.loss_mask))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, Any]:
        ids = self.ids[i].long()
        labels = ids.masked_fill(~self.mask[i], IGNORE_INDEX)
        return {"input_ids": ids, "labels": labels}


class BudgetCosine:
    """LR multiplier: linear warmup, then cosine over max(step progress, time progress) down to ``min_ratio``."""

    def __init__(self, warmup_steps: int, max_steps: int, budget_s: float | None, min_ratio: float,
                 clock: Callable[[], float]) -> None:
        self.warmup_steps, self.max_steps, self.budget_s = warmup_steps, max_steps, budget_s
        self.min_ratio, self.clock = min_ratio, clock

    def progress(self, step: int) -> float:
        span = max(1, self.max_steps - self.warmup_steps)
        done = (step - self.warmup_steps) / span
        if self.budget_s:
            done = max(done, self.clock() / self.budget_s)
        return min(1.0, max(0.0, done))

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * self.progress(step)))
        return self.min_ratio + (1.0 - self.min_ratio) * cosine


class _Clock:
    """Seconds since training started (0 before it starts)."""

    def __init__(self) -> None:
        self.start: float | None = None

    def __call__(self) -> float:
        return 0.0 if self.start is None else time.monotonic() - self.start


def _callbacks(settings: TrainSettings, console: Console, clock: _Clock, tokens_per_step: int,
               outcome: dict[str, Any], stop_flag: threading.Event):
    from transformers import TrainerCallback

    class BudgetAndProgress(TrainerCallback):
        """Progress bar, tokens/s, loss curve, time budget, evaluation cadence, Ctrl-C stop."""

        bar: Any = None
        last_eval = 0.0
        last_line = 0.0

        def on_train_begin(self, args, state, control, **kwargs):
            clock.start = time.monotonic()
            self.bar = console.progress(total=settings.max_steps, desc="pretrain", unit="step")

        def on_step_end(self, args, state, control, **kwargs):
            elapsed = clock()
            self.bar.update(1)
            if settings.budget_s is not None and elapsed >= settings.budget_s:
                outcome["stopped_by"] = "budget"
                control.should_training_stop = True
            if stop_flag.is_set():
                outcome["stopped_by"] = "interrupt"
                control.should_training_stop = True
            if settings.eval_every_s and elapsed - self.last_eval >= settings.eval_every_s:
                self.last_eval = elapsed
                control.should_evaluate = True
            if control.should_training_stop:
                control.should_log = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            elapsed = clock()
            tokens = state.global_step * tokens_per_step
            if "loss" in logs:
                point = {"step": state.global_step, "tokens": tokens, "loss": round(float(logs["loss"]), 4),
                         "lr": float(logs.get("learning_rate", 0.0)), "elapsed_s": round(elapsed, 2),
                         "tokens_per_s": round(tokens / elapsed, 1) if elapsed > 0 else 0.0}
                outcome["curve"].append(point)
                self.bar.set_postfix(loss=f"{point['loss']:.3f}", tok_s=f"{point['tokens_per_s']:,.0f}")
                if self.bar.disable and (elapsed - self.last_line >= 30 or control.should_training_stop):
                    self.last_line = elapsed
                    console.info(f"  step {state.global_step:,}  loss {point['loss']:.3f}  lr {point['lr']:.2e}  "
                                 f"{point['tokens_per_s']:,.0f} tok/s  {elapsed:,.0f}s")
            evals = {k: v for k, v in logs.items() if k.startswith("eval_") and k.endswith("_loss")}
            if evals:
                outcome["eval_curve"].append({"step": state.global_step, "tokens": tokens,
                                              **{k: round(float(v), 4) for k, v in evals.items()}})

        def on_train_end(self, args, state, control, **kwargs):
            self.bar.close()

    return BudgetAndProgress()


def train(model: Any, train_data: PackedData, eval_data: dict[str, PackedData], settings: TrainSettings,
          workdir: Path, console: Console) -> TrainOutcome:
    """Train ``model`` on packed blocks with the HF Trainer; returns the trained model and its history."""
    import torch
    from transformers import PrinterCallback, ProgressCallback, Trainer, TrainingArguments, default_data_collator

    on_cuda = settings.device.startswith("cuda")
    if on_cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    precision = settings.precision
    clock = _Clock()
    schedule = BudgetCosine(settings.warmup_steps, settings.max_steps, settings.budget_s, settings.min_lr_ratio, clock)

    class PretrainTrainer(Trainer):
        def create_scheduler(self, num_training_steps, optimizer=None):
            if self.lr_scheduler is None:
                self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer, schedule)
            return self.lr_scheduler

    args = TrainingArguments(
        output_dir=str(workdir),
        per_device_train_batch_size=settings.micro_batch,
        per_device_eval_batch_size=settings.micro_batch,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.learning_rate,
        weight_decay=settings.weight_decay,
        adam_beta1=0.9,
        adam_beta2=0.95,
        adam_epsilon=1e-8,
        max_grad_norm=1.0,
        max_steps=settings.max_steps,
        warmup_steps=settings.warmup_steps,
        logging_steps=settings.logging_steps,
        logging_first_step=True,
        eval_strategy="no",  # evaluation is triggered by time in the callback
        save_strategy="no",
        report_to="none",
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        optim="adamw_torch_fused" if on_cuda else "adamw_torch",
        torch_compile=settings.compile,
        use_cpu=not on_cuda,
        dataloader_num_workers=settings.workers,
        dataloader_pin_memory=on_cuda,
        dataloader_drop_last=True,
        seed=settings.seed,
        disable_tqdm=True,
        remove_unused_columns=False,
    )
    if on_cuda and ":" in settings.device:
        torch.cuda.set_device(settings.device)
    outcome: dict[str, Any] = {"stopped_by": "max_steps", "curve": [], "eval_curve": []}
    stop_flag = threading.Event()
    tokens_per_step = settings.micro_batch * settings.grad_accum * train_data.input_ids.shape[1]
    trainer = PretrainTrainer(
        model=model, args=args, train_dataset=PackedDataset(train_data),
        eval_dataset={name: PackedDataset(d) for name, d in eval_data.items() if len(d)} or None,
        data_collator=default_data_collator,
        callbacks=[_callbacks(settings, console, clock, tokens_per_step, outcome, stop_flag)],
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()

    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):  # first Ctrl-C: finish the step, save; second: abort
            if stop_flag.is_set():
                raise KeyboardInterrupt
            stop_flag.set()
            console.warn("stopping after this step and saving the model (Ctrl-C again to abort)")
        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        result = trainer.train()
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    train_seconds = clock()
    final_eval: dict[str, float] = {}
    if trainer.eval_dataset:
        metrics = trainer.evaluate()
        final_eval = {k: float(v) for k, v in metrics.items() if k.startswith("eval_") and k.endswith("_loss")}
    unwrapped = trainer.accelerator.unwrap_model(trainer.model)
    unwrapped = getattr(unwrapped, "_orig_mod", unwrapped)
    peak = torch.cuda.max_memory_allocated() / 2**20 if on_cuda else None
    return TrainOutcome(model=unwrapped, steps=result.global_step, tokens=result.global_step * tokens_per_step,
                        train_seconds=train_seconds, stopped_by=outcome["stopped_by"], curve=outcome["curve"],
                        eval_curve=outcome["eval_curve"], final_eval=final_eval, peak_memory_mb=peak)
