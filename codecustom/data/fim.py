"""Fill-in-the-middle: prompt format per tokenizer and the training-time transformation.

A model that already knows FIM tokens (StarCoder, SantaCoder, Qwen2.5-Coder, DeepSeek-Coder, our own
models) is prompted with its own tokens; otherwise ours (``codecustom.data.tokenizer``) are added to
the tokenizer as special tokens and the caller resizes the model's embeddings.

PSM: ``<pre>prefix<suf>suffix<mid>`` then the model writes the middle.
SPM (StarCoder's variant): ``<pre><suf>suffix<mid>prefix`` then the middle.
During training a document becomes ``prompt + middle + eos`` with probability ``fim_rate`` (SPM for
``spm_rate`` of those), split at two uniformly random character positions, as in StarCoder.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from codecustom.data import tokenizer as ours

FIM_MODES = ("psm", "spm")

# Known FIM token families: (prefix, suffix, middle, pad). The first family whose three main tokens
# are all in the vocabulary wins.
KNOWN_FAMILIES: tuple[tuple[str, str, str, str | None], ...] = (
    (ours.FIM_PREFIX, ours.FIM_SUFFIX, ours.FIM_MIDDLE, ours.FIM_PAD),  # StarCoder / codecustom
    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|fim_pad|>"),  # Qwen2.5-Coder, CodeGemma
    ("<fim-prefix>", "<fim-suffix>", "<fim-middle>", "<fim-pad>"),  # SantaCoder
    ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", None),  # DeepSeek-Coder
)


@dataclass(frozen=True)
class FimFormat:
    """The FIM tokens of one tokenizer and how prompts and training sequences are laid out."""

    prefix_token: str
    suffix_token: str
    middle_token: str
    pad_token: str | None = None
    added: tuple[str, ...] = field(default=())  # tokens this format had to add to the tokenizer

    @classmethod
    def for_tokenizer(cls, tokenizer: Any, *, add_missing: bool = True) -> FimFormat:
        """The tokenizer's own FIM tokens, or codecustom's added as special tokens.

        When tokens are added, ``tokenizer`` is modified and ``.added`` lists them: resize the model's
        embeddings to ``len(tokenizer)``. With ``add_missing=False`` a tokenizer without FIM tokens
        raises ``ValueError``.
        """
        vocab = tokenizer.get_vocab()
        for pre, suf, mid, pad in KNOWN_FAMILIES:
            if pre in vocab and suf in vocab and mid in vocab:
                return cls(pre, suf, mid, pad if pad in vocab else None)
        if not add_missing:
            raise ValueError("the tokenizer has no fill-in-the-middle tokens")
        new = [ours.FIM_PREFIX, ours.FIM_SUFFIX, ours.FIM_MIDDLE, ours.FIM_PAD]
        # positional: the keyword is replace_extra_special_tokens in transformers 5 (additional_... before)
        tokenizer.add_special_tokens({"additional_special_tokens": new}, False)
        return cls(ours.FIM_PREFIX, ours.FIM_SUFFIX, ours.FIM_MIDDLE, ours.FIM_PAD, added=tuple(new))

    @property
    def tokens(self) -> dict[str, str | None]:
        """The format's tokens by role (for manifests and the inference engine's stop rules)."""
        return {"prefix": self.prefix_token, "suffix": self.suffix_token, "middle": self.middle_token,
                "pad": self.pad_token}

    def prompt(self, prefix: str, suffix: str, mode: str = "psm") -> str:
        """The text after which the model generates the middle."""
        if mode == "psm":
            return f"{self.prefix_token}{prefix}{self.suffix_token}{suffix}{self.middle_token}"
        if mode == "spm":
            return f"{self.prefix_token}{self.suffix_token}{suffix}{self.middle_token}{prefix}"
        raise ValueError(f"unknown FIM mode {mode!r}; use one of {', '.join(FIM_MODES)}")

    def encode(self, tokenizer: Any, prefix: str, middle: str, suffix: str, mode: str = "psm") -> list[int]:
        """Token ids of ``prompt(prefix, suffix, mode) + middle + eos`` for training.

        Each text part is tokenized on its own, which is what tokenizing the whole prompt does (special
        tokens split the text), but also keeps literal FIM-token text inside a file from turning into
        control tokens.
        """
        ids = tokenizer.convert_tokens_to_ids([self.prefix_token, self.suffix_token, self.middle_token])
        pre_id, suf_id, mid_id = ids

        def enc(text: str) -> list[int]:
            if not text:
                return []
            return tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"]

        if mode == "psm":
            out = [pre_id, *enc(prefix), suf_id, *enc(suffix), mid_id, *enc(middle)]
        elif mode == "spm":
            out = [pre_id, suf_id, *enc(suffix), mid_id, *enc(prefix), *enc(middle)]
        else:
            raise ValueError(f"unknown FIM mode {mode!r}; use one of {', '.join(FIM_MODES)}")
        return out + [tokenizer.eos_token_id]


@dataclass(frozen=True)
class FimSplit:
    """A document cut for FIM training."""

    prefix: str
    middle: str
    suffix: str
    mode: str


def random_fim_split(text: str, rng: random.Random, *, fim_rate: float = 0.5,
                     spm_rate: float = 0.5) -> FimSplit | None:
    """Cut ``text`` at two random character positions with probability ``fim_rate`` (else ``None``)."""
    if not 0.0 <= fim_rate <= 1.0 or not 0.0 <= spm_rate <= 1.0:
        raise ValueError("fim_rate and spm_rate must be between 0 and 1")
    if len(text) < 2 or rng.random() >= fim_rate:
        return None
    a, b = sorted(rng.randint(0, len(text)) for _ in range(2))
    mode = "spm" if rng.random() < spm_rate else "psm"
    return FimSplit(text[:a], text[a:b], text[b:], mode)
