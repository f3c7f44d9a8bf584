"""Perplexity of the reference tests under a model, in the training format.

Each (focal context, reference test) pair is encoded with ``codecustom.data.tests_task.encode_test_example``
exactly as training encodes it, and only the test tokens (and their end-of-text) are scored. The corpus
perplexity is ``exp(total NLL / total target tokens)``; per-example values come back too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from codecustom.data.tests_task import IGNORE_INDEX, encode_test_example

DEFAULT_MAX_LENGTH = 1024


@dataclass
class PerplexityResult:
    perplexity: float | None  # None when no example had a target token to score
    mean_loss: float | None
    tokens: int
    per_example: list[float | None]  # per-example perplexity
    truncated: int  # examples whose test did not fit and was cut


def model_max_length(loaded: Any, default: int = DEFAULT_MAX_LENGTH) -> int:
    """Positions the model can see (capped at ``default``)."""
    config = loaded.model.config
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(config, attr, None)
        if isinstance(value, int) and value > 0:
            return min(value, default)
    return default


def reference_perplexity(loaded: Any, examples: Sequence[tuple[str, str, str]], *, batch_size: int = 8,
                         max_length: int | None = None) -> PerplexityResult:
    """Perplexity of each ``(context, test, language)`` example's test given its context."""
    import torch
    import torch.nn.functional as F

    tokenizer, model = loaded.tokenizer, loaded.model
    max_length = max_length or model_max_length(loaded)
    encoded = [encode_test_example(tokenizer, ctx, test, lang, is_seq2seq=loaded.is_seq2seq, max_length=max_length,
                                   long_target="cut") for ctx, test, lang in examples]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    nll = [0.0] * len(encoded)
    counts = [0] * len(encoded)
    model.eval()
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].features["input_ids"]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            feats = [encoded[i].features for i in idx]
            width = max(len(f["input_ids"]) for f in feats)
            ids = torch.tensor([f["input_ids"] + [pad] * (width - len(f["input_ids"])) for f in feats], device=device)
            mask = torch.tensor([[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in feats],
                                device=device)
            lwidth = max(len(f["labels"]) for f in feats)
            labels = torch.tensor([f["labels"] + [IGNORE_INDEX] * (lwidth - len(f["labels"])) for f in feats],
                                  device=device)
            if loaded.is_seq2seq:
                logits = model(input_ids=ids, attention_mask=mask, labels=labels).logits
                target = labels
            else:
                logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
                target = labels[:, 1:]
            losses = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), target.reshape(-1),
                                     ignore_index=IGNORE_INDEX, reduction="none").view(target.shape)
            valid = target != IGNORE_INDEX
            for row, i in enumerate(idx):
                nll[i] = float(losses[row][valid[row]].sum())
                counts[i] = int(valid[row].sum())
    tokens = sum(counts)
    mean = sum(nll) / tokens if tokens else None
    return PerplexityResult(
        perplexity=math.exp(mean) if mean is not None else None, mean_loss=mean, tokens=tokens,
        per_example=[math.exp(n / c) if c else None for n, c in zip(nll, counts)],
        truncated=sum(1 for e in encoded if e.target_truncated))
