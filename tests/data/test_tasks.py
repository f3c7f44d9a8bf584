"""Building training examples from a mined dataset folder."""

from __future__ import annotations

import copy
import json

import pytest

from codecustom.data import tokenizer as ours
from codecustom.data.packing import pack
from codecustom.data.tasks import TaskConfig, build_task_data, dataset_fingerprint, get_task
from codecustom.data.tests_task import IGNORE_INDEX
from codecustom.errors import DataError, UsageError
from codecustom.mining.records import PairRecord, read_jsonl, write_jsonl
from tests.support.datasets import write_dataset
from tests.support.tiny import tiny_tokenizer


@pytest.fixture()
def tok():
    return copy.deepcopy(tiny_tokenizer())


def test_tests_task_uses_the_miners_splits(tmp_path, tok):
    ds = write_dataset(tmp_path / "ds")
    data = build_task_data(ds, "tests", tok, is_seq2seq=False, config=TaskConfig(max_length=256))
    assert [len(data.splits[s]) for s in ("train", "valid", "test")] == [19, 4, 3]
    assert data.notes == []
    for ex in data.splits["train"]:
        assert len(ex["input_ids"]) <= 256 and ex["input_ids"][-1] == tok.eos_token_id
        assert ex["labels"][0] == IGNORE_INDEX and ex["labels"][-1] == tok.eos_token_id


def test_context_level_changes_the_prompt(tmp_path, tok):
    ds = write_dataset(tmp_path / "ds")
    small = build_task_data(ds, "tests", tok, is_seq2seq=True, config=TaskConfig(context_level="fm", max_length=512))
    big = build_task_data(ds, "tests", tok, is_seq2seq=True,
                          config=TaskConfig(context_level="fm_fc_c_m_f", max_length=512))
    assert sum(map(len, (e["input_ids"] for e in small.splits["train"]))) < \
        sum(map(len, (e["input_ids"] for e in big.splits["train"])))
    with pytest.raises(UsageError, match="unknown context level"):
        build_task_data(ds, "tests", tok, is_seq2seq=False, config=TaskConfig(context_level="all"))


def test_missing_valid_split_holds_out_whole_files(tmp_path, tok):
    ds = write_dataset(tmp_path / "ds")
    pairs = list(read_jsonl(ds / "pairs.jsonl", PairRecord))
    for p in pairs:
        p.split = "train" if p.split == "valid" else p.split
    write_jsonl(ds / "pairs.jsonl", pairs)
    data = build_task_data(ds, "tests", tok, is_seq2seq=False)
    assert len(data.splits["valid"]) >= 1 and len(data.splits["train"]) + len(data.splits["valid"]) == 23
    assert "held out" in data.notes[0]
    again = build_task_data(ds, "tests", copy.deepcopy(tiny_tokenizer()), is_seq2seq=False)
    assert again.splits["valid"] == data.splits["valid"]  # deterministic


def test_too_little_data_says_how_much_was_found(tmp_path, tok):
    ds = write_dataset(tmp_path / "ds")
    pairs = [p for p in read_jsonl(ds / "pairs.jsonl", PairRecord) if p.split != "train"][:3]
    write_jsonl(ds / "pairs.jsonl", pairs + [PairRecord(**{**pairs[0].__dict__, "split": "train"})])
    with pytest.raises(DataError, match=r"found 1 training test/focal pairs, at least 8 are needed"):
        build_task_data(ds, "tests", tok, is_seq2seq=False)
    assert len(build_task_data(ds, "tests", tok, is_seq2seq=False, min_examples=1)) == 1


def test_not_a_dataset(tmp_path, tok):
    with pytest.raises(DataError, match="is not a mined dataset"):
        build_task_data(tmp_path, "tests", tok, is_seq2seq=False)
    with pytest.raises(UsageError, match="unknown task"):
        get_task("docs")


def test_completion_blocks_are_packed_with_fim(tmp_path, tok):
    ds = write_dataset(tmp_path / "ds")
    data = build_task_data(ds, "completion", tok, is_seq2seq=False,
                           config=TaskConfig(max_length=128, fim_rate=1.0, spm_rate=0.0))
    train = data.splits["train"]
    assert all(len(b["input_ids"]) == 128 for b in train)
    flat = [t for b in train for t in b["input_ids"]]
    pre, mid = tok.convert_tokens_to_ids([ours.FIM_PREFIX, ours.FIM_MIDDLE])
    assert flat.count(pre) == data.stats["train"]["documents"] == data.stats["train"]["fim_documents"]
    assert flat.count(mid) == flat.count(pre)
    # a FIM document never straddles two blocks: each middle sees its prefix in its own block
    for block in train:
        ids = block["input_ids"]
        assert ids.count(pre) == ids.count(mid)
        assert all(pre in ids[:i] for i, t in enumerate(ids) if t == mid)
    plain = build_task_data(ds, "completion", copy.deepcopy(tiny_tokenizer()), is_seq2seq=False,
                            config=TaskConfig(max_length=128, fim_rate=0.0))
    assert pre not in [t for b in plain.splits["train"] for t in b["input_ids"]]


def test_completion_needs_a_causal_model(tmp_path, tok):
    ds = write_dataset(tmp_path / "ds")
    with pytest.raises(UsageError, match="t5 is an encoder-decoder model"):
        build_task_data(ds, "completion", tok, is_seq2seq=True, arch="t5")


def test_pack_keeps_every_token_once():
    blocks = pack([[1, 2, 3], [4, 5], [6, 7, 8, 9]], 4, pad_id=0)
    assert [b["input_ids"] for b in blocks] == [[1, 2, 3, 4], [5, 6, 7, 8]]  # a 1-token tail is dropped
    blocks = pack([[1, 2, 3], [4, 5, 6]], 4, pad_id=0)
    assert blocks[-1] == {"input_ids": [5, 6, 0, 0], "labels": [5, 6, IGNORE_INDEX, IGNORE_INDEX]}


def test_pack_keeps_whole_sequences_in_one_block():
    seqs = [[1, 2, 3], [10, 11, 12], [4, 5, 6, 7, 8], [20, 21], [30, 31, 32, 33]]
    whole = [False, True, False, True, True]
    blocks = pack(seqs, 4, pad_id=0, whole=whole)
    rows = [b["input_ids"] for b in blocks]
    for seq, keep in zip(seqs, whole):
        if keep:  # inside exactly one block
            assert any(row[i:i + len(seq)] == seq for row in rows for i in range(len(row) - len(seq) + 1))
    flat = [t for row in rows for t in row if t]
    assert sorted(flat) == sorted(t for s in seqs for t in s)  # every token exactly once
    # the plain text keeps flowing while a whole sequence waits for room
    assert rows[0] == [1, 2, 3, 4]
    assert all(b["labels"][i] == IGNORE_INDEX for b in blocks for i, t in enumerate(b["input_ids"]) if t == 0)
    # a whole sequence longer than a block is packed like any other
    assert [b["input_ids"] for b in pack([[1, 2, 3, 4, 5, 6]], 4, pad_id=0, whole=[True])] == [[1, 2, 3, 4], [5, 6, 0, 0]]


def test_fingerprint_follows_the_manifest(tmp_path):
    ds = write_dataset(tmp_path / "ds")
    first = dataset_fingerprint(ds)
    manifest = json.loads((ds / "manifest.json").read_text())
    manifest["revision"] = "f" * 40
    (ds / "manifest.json").write_text(json.dumps(manifest))
    assert dataset_fingerprint(ds) != first


def test_the_test_budget_comes_from_the_training_tests_and_longer_tests_are_left_out(tmp_path, tok):
    from codecustom.data.tests_task import target_ids

    ds = write_dataset(tmp_path / "ds")
    pairs = list(read_jsonl(ds / "pairs.jsonl", PairRecord))
    long_one = next(p for p in pairs if p.split == "train")
    long_one.test = long_one.test + "".join(f"        self.assertEqual({i}, {i})\n" for i in range(60))
    write_jsonl(ds / "pairs.jsonl", pairs)
    data = build_task_data(ds, "tests", tok, is_seq2seq=False, config=TaskConfig(max_length=512))
    lengths = sorted(len(target_ids(tok, p.test, is_seq2seq=False)) for p in pairs if p.split == "train")
    budget = data.config.max_target_length
    assert budget % 32 == 0 and 64 <= budget <= 256 and budget >= lengths[int(0.9 * (len(lengths) - 1))]
    assert data.stats["train"]["test_too_long"] == 1 and len(data.splits["train"]) == len(lengths) - 1
    assert any("longer than" in n for n in data.notes)
    for ex in data.splits["train"]:  # every kept example ends with its end-of-sequence token
        assert ex["labels"][-1] == tok.eos_token_id
        assert sum(label != IGNORE_INDEX for label in ex["labels"]) <= budget
    fixed = build_task_data(ds, "tests", tok, is_seq2seq=False, config=TaskConfig(max_length=512, max_target_length=96))
    assert fixed.config.max_target_length == 96
