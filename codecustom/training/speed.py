"""GPU throughput settings shared by ``customize`` and ``scripts/bench_train.py``.

* :func:`performance_arguments`: the ``TrainingArguments`` that keep a CUDA step free of host syncs
  and idle time: bf16 autocast, fused AdamW, TF32, no NaN check per step, no token counting in
  Trainer, pinned memory with non-blocking copies, dataloader workers, optional torch.compile.
* :func:`use_causal_kernel`: packed blocks have no padding, so attention needs no mask at all. Under
  torch.compile some transformers/torch versions still build an explicit causal mask, which keeps
  SDPA off its flash kernel. The ``codecustom_causal`` attention (registered through transformers'
  ``AttentionInterface``) always calls SDPA with ``is_causal=True`` and no mask. It is switched on
  only after checking, on the real model, that it gives the same logits as the model's own
  attention (so never for prefix tuning, padded batches or architectures that bypass the interface).
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)
CAUSAL_KERNEL = "codecustom_causal"
_registered = False


def performance_arguments(*, cuda: bool, bf16: bool, compile: bool = False, compile_mode: str | None = None,
                          num_workers: int = 0) -> dict[str, Any]:
    """Keyword arguments for ``TrainingArguments`` that decide step speed (see module docstring)."""
    args: dict[str, Any] = {
        "bf16": bool(bf16 and cuda),
        "tf32": True if cuda else None,
        "optim": "adamw_torch_fused" if cuda else "adamw_torch",
        "logging_nan_inf_filter": not cuda,  # its isnan() check syncs host and GPU every step
        "include_num_input_tokens_seen": "no",  # its .item() would sync every step; we count on device
        "dataloader_num_workers": num_workers,
        "dataloader_pin_memory": cuda,
        "dataloader_persistent_workers": num_workers > 0,
        "torch_compile": compile,
        "use_cpu": not cuda,
    }
    if cuda:
        args["accelerator_config"] = {"non_blocking": True}  # host->device copies overlap the running step
    if compile and compile_mode:
        args["torch_compile_mode"] = compile_mode
    return {k: v for k, v in args.items() if v is not None}


def register_causal_kernel() -> None:
    """Register the ``codecustom_causal`` attention and its (empty) mask with transformers."""
    global _registered
    if _registered:
        return
    import torch
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    def causal_attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, dropout: float = 0.0,
                         scaling: float | None = None, **kwargs: Any) -> tuple[Any, None]:
        groups = getattr(module, "num_key_value_groups", 1)
        if groups > 1:
            key = key.repeat_interleave(groups, dim=1)
            value = value.repeat_interleave(groups, dim=1)
        out = torch.nn.functional.scaled_dot_product_attention(
            query, key, value, dropout_p=dropout, scale=scaling, is_causal=query.shape[2] > 1)
        return out.transpose(1, 2).contiguous(), None

    def no_mask(*args: Any, **kwargs: Any) -> None:
        return None

    AttentionInterface.register(CAUSAL_KERNEL, causal_attention)
    AttentionMaskInterface.register(CAUSAL_KERNEL, no_mask)
    _registered = True


def use_causal_kernel(model: Any, vocab_size: int, *, length: int = 32) -> bool:
    """Switch ``model`` to the mask-free causal kernel if it reproduces the current logits; returns whether it did."""
    import torch

    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(target.config, "is_encoder_decoder", False) or not hasattr(target, "set_attn_implementation"):
        return False
    register_causal_kernel()
    previous = target.config._attn_implementation
    device = next(model.parameters()).device
    ids = torch.randint(0, vocab_size, (2, length), generator=torch.Generator().manual_seed(0)).to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            want = model(input_ids=ids, use_cache=False).logits.float()
            target.set_attn_implementation(CAUSAL_KERNEL)
            if target.config._attn_implementation != CAUSAL_KERNEL:
                return False
            got = model(input_ids=ids, use_cache=False).logits.float()
        ok = bool(((got - want).abs().max() / want.abs().max().clamp_min(1e-6)) < 1e-2)
    except Exception as exc:  # an architecture or peft wrapper that cannot run it
        log.debug("mask-free causal kernel rejected: %s", exc)
        ok = False
    finally:
        model.train(was_training)
    if not ok:
        restore_attention(model, previous)
    return ok


def restore_attention(model: Any, implementation: str = "sdpa") -> None:
    """Put the model back on a standard attention implementation (for generation after training)."""
    target = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(target.config, "_attn_implementation", None) != implementation:
        try:
            target.set_attn_implementation(implementation)
        except Exception as exc:  # the model still works with what it has
            log.debug("could not restore attention %s: %s", implementation, exc)
