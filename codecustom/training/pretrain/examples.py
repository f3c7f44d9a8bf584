"""Turn corpus documents (and mined test pairs) into packed training blocks.

* Documents are cut at line boundaries into chunks of about one context window, so that a FIM
  example's prefix, middle and suffix land in the same window.
* Each chunk becomes a fill-in-the-middle example with probability ``fim_rate`` (StarCoder-style PSM
  or SPM, laid out exactly as :class:`codecustom.data.fim.FimFormat` lays out its training sequences),
  otherwise plain text; a document's last plain chunk ends with end-of-text. FIM examples are atomic
  (never cut across blocks): a PSM middle cut off from its ``<pre> prefix`` teaches the model to
  ignore the prefix, which is what the first shipped model learnt (it needs SPM prompts).
  FIM middles are StarCoder's two uniformly random cut points for half of the examples; the other
  half end the middle at a line end (the rest of one line, or of a few lines), which is what
  single-line and multi-line completion ask of the model.
* Test-generation pairs use ``codecustom.data.tests_task.encode_test_example``: the same text and
  the same loss mask (prompt tokens masked) as customization, so the model already writes tests.
* Everything is tokenized in batches by the Rust tokenizer (all cores), shuffled by document with a
  seed, and packed into ``seq_len`` blocks; a task example never straddles two blocks.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from codecustom.data.fim import FimFormat, FimSplit, random_fim_split

SPAN_KINDS = ("random", "line", "lines")


@dataclass(frozen=True)
class FimOptions:
    """How often and how chunks are turned into FIM examples."""

    fim_rate: float = 0.5
    spm_rate: float = 0.25  # we prompt with PSM, so it gets most of the examples
    span_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)  # random, rest of line, rest of a few lines


@dataclass
class Example:
    """Token ids for one training example; ``masked`` marks positions with no loss (task prompts)."""

    ids: np.ndarray
    masked: np.ndarray | None = None
    atomic: bool = False  # must not be split across blocks
    kind: str = "lm"  # lm | fim | test


@dataclass
class PackedData:
    """Fixed-length blocks ready for the Trainer."""

    input_ids: np.ndarray  # int32 [n_blocks, seq_len]
    loss_mask: np.ndarray  # bool [n_blocks, seq_len]; False = label -100
    token_counts: dict[str, int] = field(default_factory=dict)  # tokens by example kind

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def n_tokens(self) -> int:
        return int(self.input_ids.size)


def chunk_text(text: str, max_chars: int) -> list[str]:
    """Cut ``text`` into pieces of at most ~``max_chars`` at line boundaries (a longer line stays whole)."""
    if len(text) <= max_chars:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.splitlines(keepends=True):
        if current and size + len(line) > max_chars:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line)
    if current:
        chunks.append("".join(current))
    return chunks


def line_fim_split(text: str, rng: random.Random, *, max_extra_lines: int = 0, spm_rate: float = 0.25) -> FimSplit | None:
    """A FIM cut whose middle runs from a random cursor in a random line to the end of that line
    (or of up to ``max_extra_lines`` more lines); the newline stays in the suffix."""
    starts: list[int] = []
    candidates = []
    pos = 0
    for li, line in enumerate(text.split("\n")):
        starts.append(pos)
        body = line.lstrip()
        if len(body.rstrip()) >= 2:
            candidates.append((li, pos + len(line) - len(body), pos + len(line)))
        pos += len(line) + 1
    if not candidates:
        return None
    li, indent, end = candidates[rng.randrange(len(candidates))]
    cursor = rng.randrange(indent, end)
    if max_extra_lines:
        last = min(len(starts) - 1, li + rng.randint(1, max_extra_lines))
        nxt = text.find("\n", starts[last])
        end = len(text) if nxt == -1 else nxt
    mode = "spm" if rng.random() < spm_rate else "psm"
    return FimSplit(text[:cursor], text[cursor:end], text[end:], mode)


def choose_fim(text: str, rng: random.Random, options: FimOptions) -> FimSplit | None:
    """Whether and where to cut ``text`` for FIM (``None`` = keep as plain text)."""
    if len(text) < 2 or rng.random() >= options.fim_rate:
        return None
    kind = rng.choices(SPAN_KINDS, weights=options.span_weights)[0]
    if kind == "random":
        return random_fim_split(text, rng, fim_rate=1.0, spm_rate=options.spm_rate)
    return line_fim_split(text, rng, max_extra_lines=0 if kind == "line" else 4, spm_rate=options.spm_rate)


class BatchEncoder:
    """Encode many texts at once with the Rust tokenizer, literal special-token text kept as text."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.backend = tokenizer.backend_tokenizer

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        previous = self.backend.encode_special_tokens
        self.backend.encode_special_tokens = True  # "<|endoftext|>" inside a file is text, not a control token
        try:
            encodings = self.backend.encode_batch(list(texts), add_special_tokens=False)
        finally:
            self.backend.encode_special_tokens = previous
        return [e.ids for e in encodings]


def fim_ids(fmt_ids: tuple[int, int, int], eos: int, split: FimSplit, pre: list[int], mid: list[int],
            suf: list[int]) -> list[int]:
    """Token layout of a FIM training sequence (the same as ``FimFormat.encode``)."""
    pre_id, suf_id, mid_id = fmt_ids
    if split.mode == "psm":
        return [pre_id, *pre, suf_id, *suf, mid_id, *mid, eos]
    return [pre_id, suf_id, *suf, mid_id, *pre, *mid, eos]


def document_examples(texts: Sequence[str], tokenizer: Any, *, seq_len: int, chars_per_token: float,
                      rng: random.Random, options: FimOptions, batch_size: int = 4096) -> list[list[Example]]:
    """One list of examples per document (chunks in order), LM and FIM mixed as ``options`` say."""
    fmt = FimFormat.for_tokenizer(tokenizer, add_missing=False)
    fmt_ids = tuple(tokenizer.convert_tokens_to_ids([fmt.prefix_token, fmt.suffix_token, fmt.middle_token]))
    eos = tokenizer.eos_token_id
    encode = BatchEncoder(tokenizer)
    max_chars = max(64, int(seq_len * chars_per_token * 0.9))  # FIM adds 4 tokens; leave room
    out: list[list[Example]] = []
    for start in range(0, len(texts), batch_size):
        plans: list[list[tuple[str, FimSplit | None, bool]]] = []
        pieces: list[str] = []
        for text in texts[start:start + batch_size]:
            chunks = chunk_text(text, max_chars)
            plan = []
            for ci, chunk in enumerate(chunks):
                split = choose_fim(chunk, rng, options)
                plan.append((chunk, split, ci == len(chunks) - 1))
                pieces.extend([split.prefix, split.middle, split.suffix] if split else [chunk])
            plans.append(plan)
        encoded = iter(encode(pieces))
        for plan in plans:
            doc: list[Example] = []
            for _chunk, split, last in plan:
                if split is None:
                    ids = next(encoded) + ([eos] if last else [])
                    doc.append(Example(np.asarray(ids, dtype=np.int32), kind="lm"))
                else:
                    pre, mid, suf = next(encoded), next(encoded), next(encoded)
                    ids = np.asarray(fim_ids(fmt_ids, eos, split, pre, mid, suf), dtype=np.int32)
                    doc.append(Example(ids, atomic=len(ids) <= seq_len, kind="fim"))
            out.append(doc)
    return out


_WORKER_TOKENIZER: Any = None
_WORKER_SEQ_LEN = 0


def _encode_pair(pair: tuple[str, str, str]) -> Example | None:
    from codecustom.data.tests_task import IGNORE_INDEX, encode_test_example

    context, test, language = pair
    try:
        enc = encode_test_example(_WORKER_TOKENIZER, context, test, language, is_seq2seq=False,
                                  max_length=_WORKER_SEQ_LEN)
    except ValueError:
        return None  # a context header alone fills the window
    if enc.features is None:
        return None  # the test is longer than its share of the window: never train on a test without its end
    labels = np.asarray(enc.features["labels"], dtype=np.int64)
    return Example(np.asarray(enc.features["input_ids"], dtype=np.int32), masked=labels == IGNORE_INDEX,
                   atomic=True, kind="test")


def test_examples(pairs: Sequence[tuple[str, str, str]], tokenizer: Any, *, seq_len: int,
                  workers: int = 1) -> list[Example]:
    """Test-generation examples from ``(context, test, language)`` triples, formatted as customization does.

    ``encode_test_example`` tokenizes one pair at a time (it fits the context to the window), so large
    pair sets are spread over ``workers`` forked processes.
    """
    import os

    from codecustom.training.pretrain.corpus import parallel_map

    global _WORKER_TOKENIZER, _WORKER_SEQ_LEN
    _WORKER_TOKENIZER, _WORKER_SEQ_LEN = tokenizer, seq_len
    previous = os.environ.get("TOKENIZERS_PARALLELISM")
    if workers > 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"  # forked children must not start Rust thread pools
    try:
        results = list(parallel_map(_encode_pair, list(pairs), workers, chunksize=64))
    finally:
        _WORKER_TOKENIZER = None
        if workers > 1:
            if previous is None:
                os.environ.pop("TOKENIZERS_PARALLELISM", None)
            else:
                os.environ["TOKENIZERS_PARALLELISM"] = previous
    return [ex for ex in results if ex is not None]


def estimate_chars_per_token(texts: Sequence[str], tokenizer: Any, sample: int = 200) -> float:
    """Average characters per token on a sample of ``texts``."""
    picked = list(texts[:sample])
    ids = BatchEncoder(tokenizer)(picked)
    n_tokens = sum(len(i) for i in ids)
    return max(1.0, sum(len(t) for t in picked) / max(1, n_tokens))


def pack(units: Sequence[list[Example]], seq_len: int, *, pad_id: int) -> PackedData:
    """Concatenate example groups (in the given order) into ``seq_len`` blocks.

    LM examples may run across block boundaries (ordinary packing); an atomic example (a test pair, a FIM
    example) that does not fit in the rest of the current block waits until a block has room for it. The
    tail that does not fill a block is padded with ``pad_id`` and masked.
    """
    ids_parts: list[np.ndarray] = []
    mask_parts: list[np.ndarray] = []
    counts: dict[str, int] = {}
    length = 0
    pending: deque[Example] = deque()

    def put(ex: Example) -> None:
        nonlocal length
        ids_parts.append(ex.ids)
        mask_parts.append(~ex.masked if ex.masked is not None else np.ones(len(ex.ids), dtype=bool))
        counts[ex.kind] = counts.get(ex.kind, 0) + len(ex.ids)
        length += len(ex.ids)

    def room() -> int:
        return seq_len - length % seq_len

    for group in units:
        for ex in group:
            if ex.atomic and len(ex.ids) > seq_len:
                ex = Example(ex.ids[:seq_len], None if ex.masked is None else ex.masked[:seq_len], True, ex.kind)
            if ex.atomic and len(ex.ids) > room():
                pending.append(ex)
                continue
            put(ex)
            while pending and len(pending[0].ids) <= room():
                put(pending.popleft())
    for ex in pending:  # whatever is left goes at block starts
        if room() < len(ex.ids):
            pad = room()
            put(Example(np.full(pad, pad_id, dtype=np.int32), np.ones(pad, dtype=bool), kind="pad"))
        put(ex)
    tail = (-length) % seq_len
    if tail:
        put(Example(np.full(tail, pad_id, dtype=np.int32), np.ones(tail, dtype=bool), kind="pad"))
    if not ids_parts:
        return PackedData(np.zeros((0, seq_len), np.int32), np.zeros((0, seq_len), bool), {})
    ids = np.concatenate(ids_parts).reshape(-1, seq_len)
    mask = np.concatenate(mask_parts).reshape(-1, seq_len)
    counts.pop("pad", None)
    return PackedData(ids, mask, counts)


def interleave(doc_units: list[list[Example]], task_units: list[Example], rng: random.Random) -> list[list[Example]]:
    """Shuffle documents and task examples together (each document stays in order)."""
    units: list[list[Example]] = list(doc_units) + [[ex] for ex in task_units]
    rng.shuffle(units)
    return units
