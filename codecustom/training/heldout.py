"""Held-out loss and perplexity of a model on a dataset split, formatted exactly as in training.

The loss is averaged over target tokens (the test method for ``tests``; every real token for
``completion``), summed across batches first, so batch size and padding do not change it.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from codecustom.data.tasks import TaskConfig, build_task_data, get_task
from codecustom.data.tests_task import IGNORE_INDEX
from codecustom.errors import DataError


def loss_on_examples(model: Any, examples: list[dict[str, list[int]]], collator: Any, *, is_seq2seq: bool,
                     batch_size: int = 8) -> dict[str, float]:
    """Token-averaged cross-entropy of ``model`` on encoded ``examples``."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for start in range(0, len(examples), batch_size):
                batch = {k: v.to(device) for k, v in collator(examples[start:start + batch_size]).items()}
                labels = batch.pop("labels")
                logits = model(**batch, **({"labels": labels} if is_seq2seq else {})).logits.float()
                if not is_seq2seq:  # position i predicts token i + 1
                    logits, labels = logits[:, :-1], labels[:, 1:]
                total += torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                                           ignore_index=IGNORE_INDEX, reduction="sum").item()
                count += int((labels != IGNORE_INDEX).sum())
    finally:
        model.train(was_training)
    loss = total / count if count else float("nan")
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0)) if count else float("nan"), "tokens": count,
            "examples": len(examples)}


def task_config_of(loaded: Any) -> TaskConfig | None:
    """The task settings an artifact was trained with (``None`` for a plain base)."""
    saved = (getattr(loaded, "extra", None) or {}).get("manifest", {}).get("task_config")
    if not saved:
        return None
    known = TaskConfig.__dataclass_fields__
    return TaskConfig(**{k: v for k, v in saved.items() if k in known})


def eval_loss(loaded: Any, dataset_dir: str | Path, task: str = "tests", split: str = "test", *,
              config: TaskConfig | None = None, batch_size: int = 8) -> dict[str, Any]:
    """Held-out loss/perplexity of a :class:`~codecustom.modeling.loading.LoadedModel` on one split.

    The examples are built the way training built them: with the artifact's recorded task settings
    when ``loaded`` is a customized model, else ``config`` (default settings). A base model whose
    tokenizer lacks the FIM tokens gets them added (mean-initialised rows) on a copy, as
    customization would. Returns ``loss``, ``perplexity``, ``tokens``, ``examples``, ``split``, ``task``.
    """
    config = config or task_config_of(loaded) or TaskConfig()
    tokenizer = copy.deepcopy(loaded.tokenizer)
    data = build_task_data(dataset_dir, task, tokenizer, is_seq2seq=loaded.is_seq2seq, arch=loaded.arch,
                           config=config, splits=(split,), min_examples=0)
    examples = data.splits[split]
    if not examples:
        raise DataError(f"the dataset {dataset_dir} has no {split} examples for the {task} task",
                        hint="evaluate on another --split, or mine a larger repository")
    model = loaded.model
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model = copy.deepcopy(model)
        model.resize_token_embeddings(len(tokenizer), mean_resizing=True)
    collator = get_task(task).collator(tokenizer, is_seq2seq=loaded.is_seq2seq)
    result = loss_on_examples(model, examples, collator, is_seq2seq=loaded.is_seq2seq, batch_size=batch_size)
    return {**result, "split": split, "task": task}
