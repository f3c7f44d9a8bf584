"""Training tasks built from a mined dataset folder: a registry of ``tests`` and ``completion``.

``tests``: each pair of ``pairs.jsonl`` becomes (focal context at the chosen level -> test method),
formatted by :mod:`codecustom.data.tests_task`.
``completion``: the files of ``files.jsonl`` become fill-in-the-middle documents (:mod:`codecustom.data.fim`)
packed into fixed-size blocks (:mod:`codecustom.data.packing`). Decoder-only models only.

The miner splits by file. When a dataset has no validation examples, whole files are moved from train
to valid (deterministically, by path hash) so early stopping still sees held-out code.
"""

from __future__ import annotations

import hashlib
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from codecustom.data.fim import FimFormat, random_fim_split
from codecustom.data.packing import pack
from codecustom.data.tests_task import (DEFAULT_CONTEXT_LEVEL, IGNORE_INDEX, PROMPT_VERSION, encode_test_example,
                                        pick_context, target_ids)
from codecustom.errors import DataError, UsageError
from codecustom.mining.records import CONTEXT_LEVELS, FileRecord, PairRecord, is_dataset, read_jsonl

SPLITS = ("train", "valid", "test")


@dataclass
class TaskConfig:
    """How examples are built; recorded in the artifact manifest."""

    max_length: int = 256
    context_level: str = DEFAULT_CONTEXT_LEVEL
    max_target_length: int | None = None  # tests task: the test's share of the window (None: from the data)
    fim_rate: float = 0.5
    spm_rate: float = 0.5
    seed: int = 0
    valid_fraction: float = 0.1  # used only when the dataset has no validation split
    min_confidence: float = 0.0  # tests task: pairs the miner found with less confidence are left out

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class TaskData:
    """Encoded examples per split, with counts and what was changed to make them fit."""

    task: str
    splits: dict[str, list[dict[str, list[int]]]]
    stats: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fim: FimFormat | None = None
    config: TaskConfig | None = None  # the settings the examples were built with (data-dependent ones resolved)

    def __len__(self) -> int:
        return len(self.splits.get("train", []))


class TorchDataset:
    """A ``torch.utils.data.Dataset`` over encoded examples (features as int lists)."""

    def __init__(self, examples: list[dict[str, list[int]]]) -> None:
        self.examples = examples

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        return self.examples[i]


def _bucket(key: str, seed: int) -> float:
    """A stable number in [0, 1) per key (for choosing files to hold out)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def dataset_fingerprint(dataset_dir: str | Path) -> str:
    """sha256 of the dataset's manifest.json (what the miner wrote, with counts and revision)."""
    return hashlib.sha256((Path(dataset_dir) / "manifest.json").read_bytes()).hexdigest()


class Task(ABC):
    """One way of turning a mined dataset into training examples."""

    name: str = ""
    summary: str = ""
    unit: str = "examples"
    min_train_examples: int = 8
    causal_only: bool = False

    def check(self, is_seq2seq: bool, arch: str) -> None:
        """Raise :class:`UsageError` when the task cannot train this kind of model."""
        if self.causal_only and is_seq2seq:
            raise UsageError(f"the {self.name} task trains decoder-only models; {arch} is an encoder-decoder model",
                             hint="use --task tests with this model, or pick a causal --base")

    def prepare_tokenizer(self, tokenizer: Any) -> FimFormat | None:
        """Add what the task needs to the tokenizer (caller resizes embeddings when it grows)."""
        return None

    def resolve(self, config: TaskConfig, raw: dict[str, list[tuple[str, Any]]], tokenizer: Any,
                is_seq2seq: bool) -> TaskConfig:
        """``config`` with the settings left to the data filled in (recorded in the artifact)."""
        return config

    @abstractmethod
    def read(self, dataset_dir: Path) -> dict[str, list[tuple[str, Any]]]:
        """Raw records per split, each with the key that groups it by file."""

    @abstractmethod
    def encode(self, records: list[Any], tokenizer: Any, *, is_seq2seq: bool, config: TaskConfig,
               fim: FimFormat | None, split: str) -> tuple[list[dict[str, list[int]]], dict[str, int]]:
        """Encoded examples of one split and counts of what was cut."""

    @abstractmethod
    def collator(self, tokenizer: Any, *, is_seq2seq: bool, pad_to_multiple_of: int | None = None) -> Callable:
        """Batches examples for the model."""


class TestsTask(Task):
    name = "tests"
    summary = "focal method context -> unit test (loss on the test tokens)"
    unit = "test/focal pairs"
    min_train_examples = 8

    def read(self, dataset_dir: Path) -> dict[str, list[tuple[str, Any]]]:
        out: dict[str, list[tuple[str, Any]]] = {s: [] for s in SPLITS}
        for rec in read_jsonl(Path(dataset_dir) / "pairs.jsonl", PairRecord):
            if rec.test.strip() and any(v for v in rec.context.values()):
                out.setdefault(rec.split, []).append((rec.focal_path, rec))
        return out

    def encode(self, records: list[PairRecord], tokenizer: Any, *, is_seq2seq: bool, config: TaskConfig,
               fim: FimFormat | None, split: str) -> tuple[list[dict[str, list[int]]], dict[str, int]]:
        examples, cut_prompt, dropped = [], 0, 0
        for rec in records:
            enc = encode_test_example(tokenizer, pick_context(rec.context, config.context_level), rec.test,
                                      rec.language, is_seq2seq=is_seq2seq, max_length=config.max_length,
                                      max_target_length=config.max_target_length)
            cut_prompt += enc.prompt_truncated
            if enc.features is None:
                dropped += 1
                continue
            examples.append(enc.features)
        return examples, {"context_cut": cut_prompt, "test_too_long": dropped}

    def resolve(self, config: TaskConfig, raw: dict[str, list[tuple[str, Any]]], tokenizer: Any,
                is_seq2seq: bool) -> TaskConfig:
        """Fix the test's share of the window when not given: the 90th percentile of the training tests'
        lengths (rounded up to 32 tokens), between 64 tokens and half the window."""
        if config.max_target_length is not None:
            return config
        lengths = sorted(len(target_ids(tokenizer, rec.test, is_seq2seq=is_seq2seq))
                         for _, rec in raw.get("train", []))
        half = max(1, config.max_length // 2)
        if not lengths:
            return replace(config, max_target_length=half)
        p90 = lengths[int(0.9 * (len(lengths) - 1))]
        return replace(config, max_target_length=max(min(64, half), min(half, -(-p90 // 32) * 32)))

    def collator(self, tokenizer: Any, *, is_seq2seq: bool, pad_to_multiple_of: int | None = None) -> Callable:
        from transformers import DataCollatorForSeq2Seq

        return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX,
                                      pad_to_multiple_of=pad_to_multiple_of)


class CompletionTask(Task):
    name = "completion"
    summary = "fill-in-the-middle language modelling on the repository's files, packed"
    unit = "packed blocks"
    min_train_examples = 4
    causal_only = True

    def prepare_tokenizer(self, tokenizer: Any) -> FimFormat | None:
        return FimFormat.for_tokenizer(tokenizer)

    def read(self, dataset_dir: Path) -> dict[str, list[tuple[str, Any]]]:
        path = Path(dataset_dir) / "files.jsonl"
        out: dict[str, list[tuple[str, Any]]] = {s: [] for s in SPLITS}
        if not path.is_file():
            return out
        for rec in read_jsonl(path, FileRecord):
            if rec.content.strip():
                out.setdefault(rec.split, []).append((rec.path, rec))
        return out

    def _pieces(self, tokenizer: Any, text: str, budget: int) -> list[str]:
        """Cut a file at line ends into pieces of at most ``budget`` tokens (each FIM'd on its own)."""
        enc = tokenizer(text, add_special_tokens=False, split_special_tokens=True, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
        if len(offsets) <= budget:
            return [text]
        pieces, start_tok = [], 0
        start_char = 0
        while start_tok < len(offsets):
            end_tok = min(start_tok + budget, len(offsets))
            end_char = offsets[end_tok - 1][1] if end_tok < len(offsets) else len(text)
            if end_tok < len(offsets):
                nl = text.rfind("\n", start_char, end_char)
                if nl > start_char:
                    end_char = nl + 1
            pieces.append(text[start_char:end_char])
            while start_tok < len(offsets) and offsets[start_tok][1] <= end_char:
                start_tok += 1
            start_char = end_char
        return [p for p in pieces if p]

    def encode(self, records: list[FileRecord], tokenizer: Any, *, is_seq2seq: bool, config: TaskConfig,
               fim: FimFormat | None, split: str) -> tuple[list[dict[str, list[int]]], dict[str, int]]:
        assert fim is not None
        rng = random.Random(f"{config.seed}:{split}")
        records = sorted(records, key=lambda r: r.path)
        rng.shuffle(records)
        eos = tokenizer.eos_token_id
        docs: list[list[int]] = []
        is_fim: list[bool] = []
        n_fim = 0
        for rec in records:
            for piece in self._pieces(tokenizer, rec.content, max(8, config.max_length - 8)):
                split_doc = random_fim_split(piece, rng, fim_rate=config.fim_rate, spm_rate=config.spm_rate)
                if split_doc is None:
                    docs.append(tokenizer(piece, add_special_tokens=False, split_special_tokens=True)["input_ids"]
                                + [eos])
                    is_fim.append(False)
                else:
                    n_fim += 1
                    docs.append(fim.encode(tokenizer, split_doc.prefix, split_doc.middle, split_doc.suffix,
                                           split_doc.mode))
                    is_fim.append(True)
        blocks = pack(docs, config.max_length, tokenizer.pad_token_id, whole=is_fim)
        return blocks, {"documents": len(docs), "fim_documents": n_fim, "tokens": sum(len(d) for d in docs)}

    def collator(self, tokenizer: Any, *, is_seq2seq: bool, pad_to_multiple_of: int | None = None) -> Callable:
        from transformers import default_data_collator

        return default_data_collator


TASKS: dict[str, Task] = {t.name: t for t in (TestsTask(), CompletionTask())}


def get_task(name: str) -> Task:
    """Look a task up by name with a clear error."""
    try:
        return TASKS[name]
    except KeyError:
        raise UsageError(f"unknown task {name!r}", hint=f"choose from {', '.join(TASKS)}") from None


def _hold_out(train: list[tuple[str, Any]], fraction: float, seed: int,
              keep_min: int) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Move whole files (by stable hash order) from train to valid: ~``fraction``, at least one file."""
    keys = sorted({k for k, _ in train}, key=lambda k: _bucket(k, seed))
    if len(keys) < 2:
        return train, []
    target = max(1, round(fraction * len(train)))
    chosen: set[str] = set()
    moved = 0
    for key in keys[:-1]:  # never move every file
        if moved >= target:
            break
        n = sum(1 for k, _ in train if k == key)
        if len(train) - moved - n < keep_min:
            continue
        chosen.add(key)
        moved += n
    return [r for r in train if r[0] not in chosen], [r for r in train if r[0] in chosen]


def build_task_data(dataset_dir: str | Path, task: str, tokenizer: Any, *, is_seq2seq: bool, arch: str = "",
                    config: TaskConfig | None = None, splits: tuple[str, ...] = SPLITS,
                    min_examples: int | None = None) -> TaskData:
    """Encode a mined dataset for ``task``; raises :class:`DataError` when there is too little to train on.

    ``tokenizer`` may gain FIM tokens (completion on a model without them): compare ``len(tokenizer)``
    before and after and resize the model's embeddings.
    """
    folder = Path(dataset_dir)
    if not is_dataset(folder):
        raise DataError(f"{folder} is not a mined dataset (no manifest.json + pairs.jsonl)",
                        hint="run 'codecustom mine REPO' first, or pass the repository itself")
    config = config or TaskConfig()
    if config.context_level not in CONTEXT_LEVELS:
        raise UsageError(f"unknown context level {config.context_level!r}",
                         hint=f"choose from {', '.join(CONTEXT_LEVELS)}")
    if config.max_length < 32:
        raise UsageError(f"--max-length {config.max_length} is too short", hint="use at least 32 tokens")
    spec = get_task(task)
    spec.check(is_seq2seq, arch)
    fim = spec.prepare_tokenizer(tokenizer)
    raw = spec.read(folder)
    notes: list[str] = []
    if task == "tests" and config.min_confidence > 0:  # the mining heuristics' confidence (docs/schema.md)
        before = sum(len(v) for v in raw.values())
        raw = {split: [(k, r) for k, r in recs if r.confidence >= config.min_confidence] for split, recs in raw.items()}
        dropped = before - sum(len(v) for v in raw.values())
        if dropped:
            notes.append(f"left out {dropped} of {before} test/focal pairs mined with confidence below "
                         f"{config.min_confidence:g} (--min-confidence)")
    minimum = spec.min_train_examples if min_examples is None else min_examples
    if "train" in splits and "valid" in splits and not raw.get("valid"):
        kept, held = _hold_out(raw.get("train", []), config.valid_fraction, config.seed, 1)
        if held:
            raw["train"], raw["valid"] = kept, held
            notes.append(f"the dataset has no validation split: held out {len(held)} training records from "
                         f"{len({k for k, _ in held})} file(s) for early stopping")
    config = spec.resolve(config, raw, tokenizer, is_seq2seq)
    data = TaskData(task=task, splits={}, fim=fim, config=config)
    stats: dict[str, Any] = {"prompt_version": PROMPT_VERSION}
    for split in splits:
        records = [r for _, r in raw.get(split, [])]
        examples, counts = spec.encode(records, tokenizer, is_seq2seq=is_seq2seq, config=config, fim=fim,
                                       split=split)
        data.splits[split] = examples
        stats[split] = {"records": len(records), "examples": len(examples), **counts}
    data.stats = stats
    long_tests = stats.get("train", {}).get("test_too_long", 0)
    if long_tests:
        notes.append(f"{long_tests} training test(s) longer than {config.max_target_length} tokens were left out "
                     "(a test cut to fit would teach the model never to stop; raise --max-length to keep them)")
    data.notes = notes
    found = len(data.splits.get("train", []))
    if "train" in splits and found < max(1, minimum):
        left_out = f" ({long_tests} more were longer than the test's share of the window)" if long_tests else ""
        raise DataError(f"too little data to train on in {folder}: found {found} training {spec.unit}{left_out}, "
                        f"at least {max(1, minimum)} are needed",
                        hint="raise --max-length" if long_tests else
                        "mine a larger repository (more tests / files), or try the other --task")
    return data
