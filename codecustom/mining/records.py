"""The miner's output records: the versioned JSONL schema every later stage reads.

A mined dataset is a folder with ``methods.jsonl``, ``pairs.jsonl``, ``files.jsonl`` and
``manifest.json``. Fields may be added in a minor schema version; renaming or removing one bumps
the major version. docs/schema.md documents every field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

SCHEMA_VERSION = "1.2"

# methods2test's focal-context levels, smallest to largest.
CONTEXT_LEVELS = ("fm", "fm_fc", "fm_fc_c", "fm_fc_c_m", "fm_fc_c_m_f")
SPLITS = ("train", "valid", "test")


@dataclass
class MethodRecord:
    """One function, method or constructor."""

    id: str  # "<path>::<Class.Nested>::<name>@<start_line>" (class part empty for module functions)
    language: str
    path: str
    class_name: str | None  # qualified, dotted for nested classes
    name: str
    signature: str
    params: list[str]
    return_type: str | None
    modifiers: list[str]  # Java modifiers / annotations, Python decorators
    docstring: str | None
    body: str  # full source text of the definition, decorators/annotations included
    start_line: int  # 1-based, inclusive
    end_line: int
    is_test: bool
    is_constructor: bool
    calls: list[str]  # called names in evaluation order (method/function names, no receivers; Java: "new Foo")
    split: str = "train"
    # added in schema 1.1
    framework: str | None = None  # tests: junit3 | junit4 | junit5 | pytest | unittest | go test
    is_fixture: bool = False  # pytest fixtures, setUp/@BeforeEach and friends (never focal)
    # added in schema 1.2
    duplicate_of: str | None = None  # tests: id of an earlier test with the same (whitespace-normalised) text


@dataclass
class PairRecord:
    """A unit test and the focal method it exercises."""

    test_id: str
    focal_id: str
    language: str
    heuristic: str  # name | unique_call | import | last_call | overload | ...
    confidence: float  # 0..1
    test_path: str
    focal_path: str
    test: str  # the test method's source
    focal: str  # the focal method's source
    context: dict[str, str]  # CONTEXT_LEVELS -> focal context text
    split: str = "train"
    # added in schema 1.1
    class_rule: str = ""  # how the focal class/module was found: path | package | import | name | ...
    framework: str | None = None  # the test's framework (junit4, junit5, pytest, unittest, ...)
    test_class: str | None = None  # qualified test class (None for module-level pytest functions)
    focal_class: str | None = None  # qualified focal class (None for module functions)
    focal_signature: str = ""
    # added in schema 1.2
    factory_id: str | None = None  # a factory function that built the object the focal method runs on (Python)


@dataclass
class FileRecord:
    """A source file kept for the completion corpus (after filters)."""

    path: str
    language: str
    content: str
    sha: str  # git blob sha
    split: str = "train"
    # added in schema 1.1
    is_test: bool = False  # a test file by the language's rules


@dataclass
class Manifest:
    """What was mined, from where, and what was filtered out and why."""

    repo: str
    revision: str
    tool_version: str
    schema_version: str = SCHEMA_VERSION
    languages: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    filters: dict[str, int] = field(default_factory=dict)  # reason -> files/methods rejected
    split_rule: str = "file"
    split_sizes: dict[str, dict[str, int]] = field(default_factory=dict)  # record kind -> split -> n
    extra: dict[str, Any] = field(default_factory=dict)


R = TypeVar("R", MethodRecord, PairRecord, FileRecord)

FILE_NAMES = {MethodRecord: "methods.jsonl", PairRecord: "pairs.jsonl", FileRecord: "files.jsonl"}


def write_jsonl(path: Path, records: Iterable[Any]) -> int:
    """Write dataclass records (or dicts) one JSON object per line; returns the count."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(asdict(rec) if hasattr(rec, "__dataclass_fields__") else rec, ensure_ascii=False))
            fh.write("\n")
            n += 1
    return n


def read_jsonl(path: Path, cls: type[R]) -> Iterator[R]:
    """Stream records of ``cls`` from a JSONL file, ignoring fields this version does not know."""
    known = {f.name for f in fields(cls)}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                data = json.loads(line)
                yield cls(**{k: v for k, v in data.items() if k in known})


def read_manifest(dataset_dir: Path) -> Manifest:
    """Load ``manifest.json`` from a mined dataset folder."""
    data = json.loads((Path(dataset_dir) / "manifest.json").read_text(encoding="utf-8"))
    known = {f.name for f in fields(Manifest)}
    return Manifest(**{k: v for k, v in data.items() if k in known})


def is_dataset(path: Path) -> bool:
    """True if ``path`` is a folder written by ``codecustom mine``."""
    p = Path(path)
    return (p / "manifest.json").is_file() and (p / "pairs.jsonl").is_file()
