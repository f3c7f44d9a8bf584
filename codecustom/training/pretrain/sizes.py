"""Model sizes for ``codecustom pretrain``: a registry of Llama-style shapes and their training defaults.

``tiny`` is the model shipped with codecustom: small enough for a <= 20 MB bf16 download and for
single-line completions well under the language server's latency budget on a 2-core CPU. ``base``
(~100M parameters) is the stronger local base for evaluation; ``small`` sits between. ``micro``
exists for smoke tests and CI (seconds on a CPU).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from codecustom.errors import UsageError


@dataclass(frozen=True)
class ModelSize:
    """A decoder shape plus the optimisation defaults that go with it (CUDA batch sizes)."""

    name: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    intermediate_size: int
    seq_len: int
    micro_batch: int  # sequences per device step on CUDA
    grad_accum: int  # micro-batches per optimizer step on CUDA
    learning_rate: float
    warmup_steps: int
    tokenizer_sample_bytes: int  # text the tokenizer is trained on (a seeded sample of the corpus)
    min_lr_ratio: float = 0.1  # cosine decays to this fraction of the peak
    weight_decay: float = 0.1
    rope_theta: float = 10_000.0
    description: str = ""

    def llama_config(self, vocab_size: int, *, pad_token_id: int, eos_token_id: int) -> Any:
        """A ``transformers.LlamaConfig`` of this shape (SDPA attention, tied embeddings)."""
        from transformers import LlamaConfig

        config = LlamaConfig(
            vocab_size=vocab_size, hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads, max_position_embeddings=self.seq_len,
            rope_theta=self.rope_theta, rms_norm_eps=1e-5, tie_word_embeddings=True,
            pad_token_id=pad_token_id, eos_token_id=eos_token_id, bos_token_id=eos_token_id,
            attention_dropout=0.0, initializer_range=0.02, use_cache=True,
        )
        config._attn_implementation = "sdpa"
        return config

    def parameter_count(self, vocab_size: int | None = None) -> int:
        """Parameters of the model (tied embeddings counted once)."""
        v = vocab_size or self.vocab_size
        h, kv_dim = self.hidden_size, self.hidden_size // self.num_heads * self.num_kv_heads
        attn = 2 * h * h + 2 * h * kv_dim
        mlp = 3 * h * self.intermediate_size
        return v * h + self.num_layers * (attn + mlp + 2 * h) + h

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


SIZES: dict[str, ModelSize] = {
    "micro": ModelSize("micro", vocab_size=512, hidden_size=64, num_layers=2, num_heads=4, num_kv_heads=2,
                       intermediate_size=176, seq_len=128, micro_batch=8, grad_accum=1, learning_rate=3e-3,
                       warmup_steps=2, tokenizer_sample_bytes=2_000_000,
                       description="smoke tests and CI: trains in seconds on a CPU"),
    "tiny": ModelSize("tiny", vocab_size=12288, hidden_size=256, num_layers=8, num_heads=8, num_kv_heads=4,
                      intermediate_size=704, seq_len=1024, micro_batch=64, grad_accum=1, learning_rate=2e-3,
                      warmup_steps=200, tokenizer_sample_bytes=20_000_000,
                      description="the shipped default base: ~9M parameters, 18 MB in bf16, fast on a laptop CPU"),
    "small": ModelSize("small", vocab_size=16384, hidden_size=512, num_layers=8, num_heads=8, num_kv_heads=4,
                       intermediate_size=1408, seq_len=1024, micro_batch=32, grad_accum=2, learning_rate=1e-3,
                       warmup_steps=300, tokenizer_sample_bytes=30_000_000,
                       description="~32M parameters: between the shipped model and base"),
    "base": ModelSize("base", vocab_size=32768, hidden_size=768, num_layers=12, num_heads=12, num_kv_heads=4,
                      intermediate_size=2048, seq_len=1024, micro_batch=32, grad_accum=2, learning_rate=6e-4,
                      warmup_steps=300, tokenizer_sample_bytes=40_000_000,
                      description="~100M parameters: a stronger local base for evaluation (GPU)"),
}


def get_size(name: str) -> ModelSize:
    """The registered size called ``name``."""
    try:
        return SIZES[name]
    except KeyError:
        raise UsageError(f"unknown model size {name!r}", hint=f"choose one of {', '.join(SIZES)}") from None
