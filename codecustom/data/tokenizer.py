"""Byte-level BPE tokenizer training (for pretraining our own base model and for tests).

The special tokens follow StarCoder's names so that fill-in-the-middle prompts look the same for our
models and for hub models that already have FIM tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

EOS = "<|endoftext|>"
PAD = "<|pad|>"
FIM_PREFIX = "<fim_prefix>"
FIM_MIDDLE = "<fim_middle>"
FIM_SUFFIX = "<fim_suffix>"
FIM_PAD = "<fim_pad>"
SPECIAL_TOKENS = [EOS, PAD, FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD]


def train_tokenizer(texts: Iterable[str], vocab_size: int = 8192, *, min_frequency: int = 2,
                    out_dir: str | Path | None = None):
    """Train a byte-level BPE tokenizer on ``texts``; returns a ``PreTrainedTokenizerFast``.

    The result has eos/pad/bos set to the end-of-text and pad tokens and carries the FIM tokens as
    additional special tokens. If ``out_dir`` is given the tokenizer is saved there.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_nonempty(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=EOS,
        bos_token=EOS,
        pad_token=PAD,
        unk_token=None,
        additional_special_tokens=[FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD],
        clean_up_tokenization_spaces=False,
    )
    fast.model_max_length = 1_000_000
    if out_dir is not None:
        fast.save_pretrained(str(out_dir))
    return fast


def _nonempty(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        if text:
            yield text
