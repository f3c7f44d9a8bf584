"""What a customization run costs: parameters, time, tokens, memory, FLOPs, bytes.

Training FLOPs are counted per token with the usual dense-transformer accounting (Kaplan et al. 2020,
"Scaling laws"), split by what each strategy actually computes::

    FLOPs = sum over streams s of  T_s * (2 * N_fwd_s                     forward matmuls
                                         + 2 * N_bwd_s                     gradients w.r.t. activations
                                         + 2 * N_train_s)                  gradients w.r.t. trained weights
                                + A_s * 2 * d * (L_s + 2 * L_bwd_s)        attention scores and their backward

* a stream is the decoder (every causal model) or the encoder (seq2seq); ``T_s`` is the number of token
  positions it processed (padding included: the hardware computes it);
* ``N_fwd``: weights used in matrix multiplies (every 2-D weight except embedding-table lookups; the
  output layer counts even when tied); ``N_train``: the trained ones; ``N_bwd``: those that gradients
  pass through: all of them when the strategy trains something at the input end (full, l-eo, prefix,
  lora), only the last decoder block and the output layer for l-ldb;
* ``A_s = sum over batches of rows * seq_len^2`` (attention cost grows with sequence length),
  ``d`` the hidden size, ``L_s`` the stream's layers, ``L_bwd`` those gradients pass through.
Full fine-tuning of a causal model gives the familiar ``6 * N * T`` plus the attention term. Prefix
tuning's extra virtual-token attention and norms/biases are left out (a few percent at most).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from codecustom.modeling import architecture as arch

FLOPS_FORMULA = ("sum_s T_s*(2*N_fwd_s + 2*N_bwd_s + 2*N_train_s) + A_s*2*d*(L_s + 2*L_bwd_s); "
                 "see codecustom/training/cost.py")


@dataclass
class StreamShape:
    """Matmul weights and layers of one stream (encoder or decoder)."""

    n_fwd: int = 0
    n_bwd: int = 0
    n_train: int = 0
    layers: int = 0
    bwd_layers: int = 0


@dataclass
class FlopProfile:
    """Per-token FLOP ingredients of one prepared (strategy-applied) model."""

    hidden: int
    decoder: StreamShape
    encoder: StreamShape | None = None

    def flops(self, counts: TokenCounts) -> float:
        total = 0.0
        streams = [(self.decoder, counts.decoder_positions, counts.decoder_attention)]
        if self.encoder is not None:
            streams.append((self.encoder, counts.encoder_positions, counts.encoder_attention))
        for shape, positions, attention in streams:
            total += positions * 2.0 * (shape.n_fwd + shape.n_bwd + shape.n_train)
            total += attention * 2.0 * self.hidden * (shape.layers + 2 * shape.bwd_layers)
        return total


@dataclass
class TokenCounts:
    """Tokens seen in training, gathered per micro-batch without device syncs."""

    tokens: Any = 0  # non-padding input tokens (a device tensor while training)
    decoder_positions: int = 0
    decoder_attention: int = 0
    encoder_positions: int = 0
    encoder_attention: int = 0

    def sum_over_processes(self) -> None:
        """Add up every rank's counts (data-parallel runs); a no-op in a single process."""
        import torch
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return
        names = ("tokens", "decoder_positions", "decoder_attention", "encoder_positions", "encoder_attention")
        values = torch.tensor([float(getattr(self, n)) for n in names], dtype=torch.float64)
        if dist.get_backend() == "nccl":
            values = values.cuda()
        dist.all_reduce(values)
        for name, value in zip(names, values.tolist()):
            setattr(self, name, int(value))

    def add_batch(self, inputs: dict[str, Any], is_seq2seq: bool) -> None:
        ids = inputs["input_ids"]
        rows, length = (1, ids.shape[-1]) if ids.dim() == 1 else (ids.shape[0], ids.shape[-1])
        if "attention_mask" in inputs:
            real = inputs["attention_mask"].sum()
        elif "labels" in inputs and "position_ids" not in inputs:
            # packed blocks: padding only ever trails the final block, and carries label -100
            real = (inputs["labels"] != -100).sum()
        else:
            real = ids.numel()
        self.tokens = self.tokens + real
        if is_seq2seq:
            self.encoder_positions += rows * length
            self.encoder_attention += rows * length * length
            labels = inputs.get("labels")
            dec_rows, dec_len = (labels.shape[0], labels.shape[-1]) if labels is not None else (rows, 1)
            self.decoder_positions += dec_rows * dec_len
            self.decoder_attention += dec_rows * dec_len * dec_len
        else:
            self.decoder_positions += rows * length
            self.decoder_attention += rows * length * length

    def total_tokens(self) -> int:
        value = self.tokens
        return int(value.item() if hasattr(value, "item") else value)


def _matmul_params(module: Any, embedding_weights: set[int], output_weight: Any) -> list[Any]:
    out = []
    for p in module.parameters():
        if p.dim() < 2:
            continue
        if id(p) in embedding_weights and p is not output_weight:
            continue
        out.append(p)
    return out


def flop_profile(model: Any, *, reaches_input: bool) -> FlopProfile:
    """Measure the FLOP ingredients of a model prepared by a strategy (see module docstring)."""
    import torch

    base = arch.unwrap(model)
    config = base.config
    hidden = int(getattr(config, "hidden_size", 0) or getattr(config, "d_model", 0) or getattr(config, "n_embd", 0))
    output = arch.output_embeddings(base).weight
    embedding_weights = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
    encoder = arch.encoder_stack(base)
    enc_ids = {id(p) for p in encoder.parameters()} if encoder is not None else set()
    dec_blocks = arch.decoder_blocks(base)

    dec, enc = StreamShape(layers=len(dec_blocks)), StreamShape()
    if encoder is not None:
        enc.layers = len(arch.block_stacks(base)[0])
    # peft adds adapter weights inside the base modules (LoRA) or beside them (prefix encoder)
    for name, p in _named_matmul(model, embedding_weights, output):
        stream = enc if id(p) in enc_ids else dec
        stream.n_fwd += p.numel()
        if p.requires_grad:
            stream.n_train += p.numel()
    if reaches_input:
        dec.n_bwd, enc.n_bwd = dec.n_fwd, enc.n_fwd
        dec.bwd_layers, enc.bwd_layers = dec.layers, enc.layers
    else:  # only the tail of the decoder is back-propagated
        tail = _matmul_params(dec_blocks[-1], embedding_weights, output)
        dec.n_bwd = sum(p.numel() for p in tail) + output.numel()
        dec.bwd_layers = 1
    return FlopProfile(hidden=hidden, decoder=dec, encoder=enc if encoder is not None else None)


def _named_matmul(model: Any, embedding_weights: set[int], output: Any) -> list[tuple[str, Any]]:
    seen: set[int] = set()
    found = []
    for name, p in model.named_parameters():
        if id(p) in seen or p.dim() < 2:
            continue
        seen.add(id(p))
        if id(p) in embedding_weights and p is not output:
            continue
        found.append((name, p))
    if all(p is not output for _, p in found):  # a tied output layer is still a matmul
        found.append(("lm_head.weight", output))
    return found


@dataclass
class CostMeter:
    """Wall time, eval time and peak memory of one training run."""

    device: str = "cpu"
    start: float = 0.0
    wall_time_s: float = 0.0
    eval_time_s: float = 0.0
    peak_rss: int = 0
    peak_cuda: int = 0
    samples: int = field(default=0)

    def begin(self) -> None:
        self.start = time.perf_counter()
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.reset_peak_memory_stats()
        self.sample()

    def sample(self) -> None:
        import psutil

        self.peak_rss = max(self.peak_rss, psutil.Process().memory_info().rss)
        self.samples += 1

    def end(self) -> None:
        self.sample()
        self.wall_time_s = time.perf_counter() - self.start
        if self.device.startswith("cuda"):
            import torch

            self.peak_cuda = int(torch.cuda.max_memory_allocated())

    def peak(self) -> tuple[int, str]:
        return (self.peak_cuda, "cuda_allocated") if self.device.startswith("cuda") else (self.peak_rss, "rss")


def cost_record(*, meter: CostMeter, counts: TokenCounts, profile: FlopProfile, trainable: dict[str, Any],
                steps: int) -> dict[str, Any]:
    """The cost block of an artifact manifest (artifact bytes are added when it is saved)."""
    tokens = counts.total_tokens()
    train_time = max(1e-9, meter.wall_time_s - meter.eval_time_s)
    peak, kind = meter.peak()
    return {
        **trainable,
        "steps": steps,
        "wall_time_s": round(meter.wall_time_s, 3),
        "train_time_s": round(train_time, 3),
        "eval_time_s": round(meter.eval_time_s, 3),
        "tokens": tokens,
        "tokens_per_s": round(tokens / train_time, 2),
        "peak_memory_bytes": peak,
        "peak_memory_kind": kind,
        "train_flops": profile.flops(counts),
        "flops_formula": FLOPS_FORMULA,
    }
