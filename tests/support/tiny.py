"""Tiny random-init models of every architecture codecustom claims, plus a locally trained tokenizer.

Nothing is downloaded: the tokenizer is trained on a few stdlib modules and the models are built
from configs. Each builder saves to a folder so tests exercise the same loading path users do.
"""

from __future__ import annotations

import functools
import json
import sysconfig
from collections.abc import Callable
from pathlib import Path

CAUSAL_ARCHS = ("gpt2", "gpt_neox", "llama", "qwen2", "starcoder2", "codegen")
SEQ2SEQ_ARCHS = ("t5", "bart")
ALL_ARCHS = CAUSAL_ARCHS + SEQ2SEQ_ARCHS

_STDLIB_SAMPLES = ("json/__init__.py", "json/decoder.py", "json/encoder.py", "textwrap.py", "bisect.py",
                   "heapq.py", "unittest/case.py", "fnmatch.py", "colorsys.py", "shlex.py")


def stdlib_texts() -> list[str]:
    """A small real-code corpus available on every machine: some Python stdlib modules."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    return [(lib / rel).read_text(encoding="utf-8") for rel in _STDLIB_SAMPLES if (lib / rel).exists()]


@functools.lru_cache(maxsize=4)
def tiny_tokenizer(vocab_size: int = 512):
    """A byte-level BPE tokenizer with pad/eos/FIM tokens, trained on stdlib code (cached per process)."""
    from codecustom.data.tokenizer import train_tokenizer

    return train_tokenizer(stdlib_texts(), vocab_size=vocab_size)


def _configs(vocab: int, pad: int, eos: int) -> dict[str, Callable[[], object]]:
    import transformers as tf

    small = dict(vocab_size=vocab, pad_token_id=pad, eos_token_id=eos, bos_token_id=eos)
    return {
        "gpt2": lambda: tf.GPT2Config(n_embd=32, n_layer=2, n_head=2, n_positions=256, **small),
        "gpt_neox": lambda: tf.GPTNeoXConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                             intermediate_size=64, max_position_embeddings=256, **small),
        "llama": lambda: tf.LlamaConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=1, intermediate_size=64, max_position_embeddings=256,
                                        tie_word_embeddings=True, **small),
        "qwen2": lambda: tf.Qwen2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                        num_key_value_heads=1, intermediate_size=64, max_position_embeddings=256,
                                        tie_word_embeddings=False, **small),
        "starcoder2": lambda: tf.Starcoder2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                  num_key_value_heads=1, intermediate_size=64,
                                                  max_position_embeddings=256, **small),
        "codegen": lambda: tf.CodeGenConfig(n_embd=32, n_layer=2, n_head=2, n_positions=256, n_ctx=256,
                                            rotary_dim=8, **small),
        "t5": lambda: tf.T5Config(d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2,
                                  decoder_start_token_id=pad, vocab_size=vocab, pad_token_id=pad, eos_token_id=eos),
        "bart": lambda: tf.BartConfig(d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
                                      decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
                                      max_position_embeddings=256, decoder_start_token_id=eos,
                                      forced_eos_token_id=eos, **small),
    }


def make_tiny_model(arch: str, out_dir: str | Path, *, seed: int = 0) -> Path:
    """Build a random-init ``arch`` model with the tiny tokenizer and save both to ``out_dir``."""
    import torch
    import transformers as tf

    tok = tiny_tokenizer()
    config = _configs(len(tok), tok.pad_token_id, tok.eos_token_id)[arch]()
    torch.manual_seed(seed)
    if arch in SEQ2SEQ_ARCHS:
        model = tf.AutoModelForSeq2SeqLM.from_config(config)
    else:
        model = tf.AutoModelForCausalLM.from_config(config)
    out = Path(out_dir)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    (out / "codecustom_tiny.json").write_text(json.dumps({"arch": arch, "seed": seed}))
    return out
