"""Training examples: chunking, FIM cuts and layout, test-task encoding, packing."""

from __future__ import annotations

import random

import numpy as np
import pytest

from codecustom.data.fim import FimFormat, FimSplit
from codecustom.data.tests_task import IGNORE_INDEX, encode_test_example
from codecustom.training.pretrain import examples
from tests.support.tiny import tiny_tokenizer

CODE = "\n".join(f"def f{i}(x):\n    return x * {i} + helper(x, {i})\n" for i in range(40))


def test_chunk_text_cuts_at_line_ends_and_keeps_everything() -> None:
    chunks = examples.chunk_text(CODE, 200)
    assert "".join(chunks) == CODE
    assert all(len(c) <= 200 for c in chunks[:-1]) and all(c.endswith("\n") for c in chunks[:-1])
    assert examples.chunk_text("short", 200) == ["short"]


def test_line_fim_split_ends_the_middle_at_a_line_end() -> None:
    rng = random.Random(0)
    for _ in range(50):
        split = examples.line_fim_split(CODE, rng)
        assert split.prefix + split.middle + split.suffix == CODE
        assert "\n" not in split.middle and split.middle
        assert split.suffix == "" or split.suffix.startswith("\n")
    multi = [examples.line_fim_split(CODE, rng, max_extra_lines=4) for _ in range(50)]
    assert any("\n" in s.middle for s in multi)
    assert all(s.prefix + s.middle + s.suffix == CODE for s in multi)
    assert examples.line_fim_split("\n\n  \n", rng) is None


def test_choose_fim_rate() -> None:
    rng = random.Random(1)
    picks = [examples.choose_fim(CODE, rng, examples.FimOptions(fim_rate=0.5)) for _ in range(400)]
    share = sum(p is not None for p in picks) / len(picks)
    assert 0.4 < share < 0.6
    assert {p.mode for p in picks if p} == {"psm", "spm"}
    assert examples.choose_fim(CODE, rng, examples.FimOptions(fim_rate=0.0)) is None


@pytest.mark.parametrize("mode", ["psm", "spm"])
def test_fim_layout_matches_the_data_module(mode: str) -> None:
    tok = tiny_tokenizer()
    fmt = FimFormat.for_tokenizer(tok, add_missing=False)
    ids = tuple(tok.convert_tokens_to_ids([fmt.prefix_token, fmt.suffix_token, fmt.middle_token]))
    split = FimSplit("def add(a, b):\n    return ", "a + b", "\n\nprint(add(1, 2))\n", mode)
    enc = examples.BatchEncoder(tok)
    pre, mid, suf = enc([split.prefix, split.middle, split.suffix])
    ours = examples.fim_ids(ids, tok.eos_token_id, split, pre, mid, suf)
    assert ours == fmt.encode(tok, split.prefix, split.middle, split.suffix, mode=mode)


def test_literal_special_token_text_stays_text() -> None:
    tok = tiny_tokenizer()
    (ids,) = examples.BatchEncoder(tok)(['EOS = "<|endoftext|>"'])
    assert tok.eos_token_id not in ids
    assert tok.decode(ids) == 'EOS = "<|endoftext|>"'


def test_document_examples_round_trip_and_eos_only_at_document_end() -> None:
    tok = tiny_tokenizer()
    docs = [CODE, "x = 1\n" * 30]
    units = examples.document_examples(docs, tok, seq_len=64, chars_per_token=2.0, rng=random.Random(0),
                                       options=examples.FimOptions(fim_rate=0.0))
    assert len(units) == 2
    for doc, unit in zip(docs, units):
        ids = np.concatenate([ex.ids for ex in unit]).tolist()
        assert ids.count(tok.eos_token_id) == 1 and ids[-1] == tok.eos_token_id
        assert tok.decode(ids[:-1]) == doc
    with_fim = examples.document_examples([CODE], tok, seq_len=64, chars_per_token=2.0, rng=random.Random(0),
                                          options=examples.FimOptions(fim_rate=1.0))
    assert all(ex.kind == "fim" for ex in with_fim[0])
    assert all(ex.atomic for ex in with_fim[0] if len(ex.ids) <= 64)


def test_packed_fim_examples_keep_prefix_and_middle_in_one_block() -> None:
    tok = tiny_tokenizer()
    pre, mid = tok.convert_tokens_to_ids(["<fim_prefix>", "<fim_middle>"])
    docs = [CODE, "x = 1\n" * 30, CODE.replace("helper", "other")]
    units = examples.document_examples(docs, tok, seq_len=64, chars_per_token=1.0, rng=random.Random(1),
                                       options=examples.FimOptions(fim_rate=0.5, spm_rate=0.0))
    fims = [ex for unit in units for ex in unit if ex.kind == "fim"]
    assert len(fims) >= 5 and all(ex.atomic for ex in fims)  # chunks sized to fit a block
    packed = examples.pack(units, 64, pad_id=tok.pad_token_id)
    for row in packed.input_ids.tolist():
        assert row.count(pre) == row.count(mid)
        assert all(pre in row[:i] for i, t in enumerate(row) if t == mid)


def test_test_examples_match_encode_test_example() -> None:
    tok = tiny_tokenizer()
    context = "class Calc:\n    def add(self, a, b):\n        return a + b\n"
    test = "def test_add():\n    assert Calc().add(1, 2) == 3\n"
    (ex,) = examples.test_examples([(context, test, "python")], tok, seq_len=128)
    ref = encode_test_example(tok, context, test, "python", is_seq2seq=False, max_length=128)
    assert ex.ids.tolist() == ref.features["input_ids"]
    assert ex.masked.tolist() == [label == IGNORE_INDEX for label in ref.features["labels"]]
    assert ex.atomic and ex.kind == "test"
    many = examples.test_examples([(context, test, "python")] * 200, tok, seq_len=128, workers=2)
    assert len(many) == 200 and all(m.ids.tolist() == ex.ids.tolist() for m in many)


def _ex(n: int, start: int, *, atomic: bool = False) -> examples.Example:
    masked = np.zeros(n, dtype=bool)
    if atomic:
        masked[: n // 2] = True
    return examples.Example(np.arange(start, start + n, dtype=np.int32), masked if atomic else None, atomic,
                            "test" if atomic else "lm")


def test_pack_blocks_masks_and_atomic_examples() -> None:
    seq = 10
    units = [[_ex(7, 100)], [_ex(6, 200, atomic=True)], [_ex(9, 300)], [_ex(4, 400, atomic=True)]]
    packed = examples.pack(units, seq, pad_id=0)
    assert packed.input_ids.shape[1] == seq and packed.loss_mask.shape == packed.input_ids.shape
    flat = packed.input_ids.reshape(-1).tolist()
    # the 6-token task example did not fit after 7 LM tokens: it starts a block instead of straddling
    start = flat.index(200)
    assert start % seq == 0 or start % seq + 6 <= seq
    assert flat[start:start + 6] == list(range(200, 206))
    mask = packed.loss_mask.reshape(-1)
    assert not mask[start:start + 3].any() and mask[start + 3:start + 6].all()  # prompt half masked
    assert packed.token_counts == {"lm": 16, "test": 10}
    assert sorted(t for t in flat if t) == sorted(list(range(100, 107)) + list(range(200, 206))
                                                  + list(range(300, 309)) + list(range(400, 404)))
    assert not mask[np.asarray(flat) == 0].any()  # padding never trains
