"""Customization training: Trainer runs, cost accounting, held-out loss, comparison; ``pretrain`` builds bases.

Light to import; the public functions load torch/transformers when first used:

* ``eval_loss(loaded, dataset_dir, task="tests", split="test") -> dict`` — held-out loss/perplexity
  of a :class:`~codecustom.modeling.loading.LoadedModel`, examples formatted exactly as in training;
* ``customize(request, console) -> list[RunOutcome]`` and ``compare(request, console, providers)``.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "eval_loss": "codecustom.training.heldout",
    "loss_on_examples": "codecustom.training.heldout",
    "customize": "codecustom.training.customize",
    "CustomizeRequest": "codecustom.training.customize",
    "compare": "codecustom.training.compare",
    "TrainConfig": "codecustom.training.config",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'codecustom.training' has no attribute {name!r}")
