"""Training settings and the defaults that scale with the dataset and the device.

Anything left ``None`` is filled by :func:`plan` from the number of training examples and the device:

* batch size 8 on CPU, 16 on CUDA; gradient accumulation 1 unless asked;
* epochs: 10 for <= 64 examples, 6 for <= 256, 4 for <= 1024, 2 for <= 8192, else 1;
* steps = epochs x batches per epoch, capped at 20 on CPU (a small model customizes in well under a
  minute per strategy on 2 cores) and 3000 on CUDA;
* evaluation (and a checkpoint) about 6 times per run, early stopping after 3 evaluations without
  improvement, the best checkpoint restored at the end;
* learning rate: the strategy's default (full 1e-4, l-eo/l-ldb/lora 1e-3, prefix 1e-2);
* max sequence length: 512 on CPU, 1024 on CUDA, never beyond the model's positions (the tests task gives the
  test a fixed share of it, see ``codecustom.data.tests_task.TestBudget``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

CPU_MAX_STEPS = 20  # the main job (mine + 5 strategies + evaluation) must fit in ~5 minutes on 2 cores
CUDA_MAX_STEPS = 3000


@dataclass
class TrainConfig:
    """User-facing training knobs; ``None`` means "choose for me" (see module docstring)."""

    learning_rate: float | None = None
    epochs: float | None = None
    max_steps: int | None = None
    batch_size: int | None = None
    grad_accum: int = 1
    eval_steps: int | None = None
    patience: int = 3
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    max_length: int | None = None
    device: str | None = None
    bf16: bool | None = None  # default: on when CUDA supports it
    compile: bool = False  # torch.compile the model (CUDA)
    packing: bool | None = None  # padding-free batches for the tests task (default: on for CUDA causal models)
    num_workers: int | None = None
    logging_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    """Concrete values for one run."""

    learning_rate: float
    batch_size: int
    grad_accum: int
    epochs: float
    max_steps: int
    eval_steps: int
    logging_steps: int
    steps_per_epoch: int
    device: str
    bf16: bool
    num_workers: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_epochs(n_examples: int) -> float:
    """More passes over small datasets, fewer over large ones."""
    for limit, epochs in ((64, 10), (256, 6), (1024, 4), (8192, 2)):
        if n_examples <= limit:
            return float(epochs)
    return 1.0


def default_max_length(device: str) -> int:
    return 512 if device == "cpu" else 1024


def plan(config: TrainConfig, *, n_train: int, device: str, default_lr: float, bf16_supported: bool = False) -> Plan:
    """Fill the unset knobs of ``config`` for a run on ``n_train`` examples on ``device``."""
    cuda = device.startswith("cuda")
    batch = config.batch_size or (16 if cuda else 8)
    batch = max(1, min(batch, n_train))
    accum = max(1, config.grad_accum)
    per_epoch = max(1, math.ceil(n_train / (batch * accum)))
    epochs = config.epochs if config.epochs is not None else default_epochs(n_train)
    if config.max_steps is not None:
        steps = config.max_steps
    else:
        steps = max(1, math.ceil(epochs * per_epoch))
        steps = min(steps, CUDA_MAX_STEPS if cuda else CPU_MAX_STEPS)
    eval_steps = config.eval_steps or max(1, math.ceil(steps / 6))
    logging = config.logging_steps or (max(1, min(50, eval_steps)) if cuda else 1)
    bf16 = bf16_supported if config.bf16 is None else config.bf16
    workers = config.num_workers if config.num_workers is not None else (2 if cuda else 0)
    return Plan(learning_rate=config.learning_rate or default_lr, batch_size=batch, grad_accum=accum,
                epochs=steps / per_epoch, max_steps=steps, eval_steps=eval_steps, logging_steps=logging,
                steps_per_epoch=per_epoch, device=device, bf16=bf16 and cuda, num_workers=workers)


def with_overrides(config: TrainConfig, **changes: Any) -> TrainConfig:
    """A copy of ``config`` with some fields changed."""
    return replace(config, **changes)
