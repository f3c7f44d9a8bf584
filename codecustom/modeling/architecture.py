"""Find a model's parts from its own structure, for any Hugging Face causal or seq2seq model.

Strategies need "the token embeddings", "the output layer", "the last decoder block" and "the linear
layers of the blocks". These are found through the model's API (``get_input_embeddings``,
``get_output_embeddings``, ``get_decoder``/``get_encoder``) and its module tree (the block list is
the stack's ``ModuleList`` of identical layers), never by matching one architecture's parameter names.
"""

from __future__ import annotations

from typing import Any

from codecustom.errors import ModelError


def unwrap(model: Any) -> Any:
    """The transformers model inside a peft wrapper (or the model itself)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def input_embeddings(model: Any) -> Any:
    """The token embedding module."""
    emb = unwrap(model).get_input_embeddings()
    if emb is None:
        raise ModelError(f"{type(unwrap(model)).__name__} has no token embeddings")
    return emb


def output_embeddings(model: Any) -> Any:
    """The output projection (lm_head)."""
    out = unwrap(model).get_output_embeddings()
    if out is None:
        raise ModelError(f"{type(unwrap(model)).__name__} has no output layer (lm_head)",
                         hint="use a ...ForCausalLM or ...ForConditionalGeneration model")
    return out


def embeddings_tied(model: Any) -> bool:
    """True when the output layer shares its weight with the token embeddings."""
    return output_embeddings(model).weight is input_embeddings(model).weight


def _block_list(stack: Any) -> Any:
    """The ``ModuleList`` of repeated layers in a decoder/encoder stack (shallowest, then longest)."""
    import torch

    best = None
    for name, module in stack.named_modules():
        if not isinstance(module, torch.nn.ModuleList) or len(module) == 0:
            continue
        if len({type(m) for m in module}) != 1:
            continue
        depth = name.count(".")
        key = (-depth, len(module))
        if best is None or key > best[0]:
            best = (key, module)
    if best is None:
        raise ModelError(f"cannot find the layer list of {type(stack).__name__}",
                         hint="this architecture is not supported by the l-ldb strategy")
    return best[1]


def decoder_stack(model: Any) -> Any:
    """The decoder: the whole base model for causal LMs, the decoder stack for seq2seq models."""
    base = unwrap(model)
    get_decoder = getattr(base, "get_decoder", None)
    decoder = get_decoder() if callable(get_decoder) else None
    if decoder is None:
        raise ModelError(f"{type(base).__name__} does not expose its decoder (get_decoder)")
    return decoder


def decoder_blocks(model: Any) -> Any:
    """The decoder's ``ModuleList`` of transformer blocks, in forward order."""
    return _block_list(decoder_stack(model))


def encoder_stack(model: Any) -> Any | None:
    """The encoder stack of a seq2seq model (``None`` for decoder-only models)."""
    base = unwrap(model)
    if not getattr(base.config, "is_encoder_decoder", False):
        return None
    return base.get_encoder()


def block_stacks(model: Any) -> list[Any]:
    """Every stack's block list: ``[decoder blocks]`` or ``[encoder blocks, decoder blocks]``."""
    enc = encoder_stack(model)
    return ([_block_list(enc)] if enc is not None else []) + [decoder_blocks(model)]


def is_linear(module: Any) -> bool:
    """``nn.Linear`` or GPT-2's ``Conv1D`` (a transposed linear)."""
    import torch

    return isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"


def block_linear_names(model: Any, *, attention_only: bool = False) -> list[str]:
    """Leaf names of the linear layers inside the transformer blocks (e.g. ``q_proj``, ``c_attn``).

    ``attention_only`` keeps layers that live inside a block's attention submodule (the submodule
    whose class name says attention).
    """
    names: set[str] = set()
    for blocks in block_stacks(model):
        for block in blocks:
            for name, module in block.named_modules():
                if not is_linear(module):
                    continue
                if attention_only:
                    parents = name.split(".")[:-1]
                    owners = [block.get_submodule(".".join(parents[: i + 1])) for i in range(len(parents))]
                    if not any("attention" in type(m).__name__.lower() for m in owners):
                        continue
                names.add(name.rsplit(".", 1)[-1])
    if not names:
        raise ModelError(f"no linear layers found in the blocks of {type(unwrap(model)).__name__}")
    return sorted(names)


def max_positions(model: Any) -> int | None:
    """The longest sequence the model's position scheme accepts, if it declares one."""
    config = unwrap(model).config
    for key in ("n_positions", "max_position_embeddings"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
