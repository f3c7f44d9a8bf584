"""Test-generation pairs for pretraining, mined from the corpus by codecustom's own miner.

The miner's git-free layer (``codecustom.mining.mine_tree``) reads the kept corpus documents, one
tree per corpus folder with paths as Python imports see them (the stdlib's ``test/`` against its
modules, site-packages' bundled tests against their packages). Only pairs whose test file and focal
file are both in the kept corpus are used, so license filtering and evaluation-repo exclusion apply
to them too; a pair is held out when its test file is. Contexts are taken at customization's
default level (``codecustom.data.tests_task.DEFAULT_CONTEXT_LEVEL``) and formatted by the same
prompt builder.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from codecustom.console import Console
from codecustom.errors import CodecustomError
from codecustom.training.pretrain.corpus import Corpus, Document


@dataclass(frozen=True)
class TaskPair:
    """One (focal context -> test) example."""

    context: str
    test: str
    language: str
    split: str  # train | valid


def miner_available() -> bool:
    """Whether the miner's git-free layer (and its tree-sitter grammars) can be imported here."""
    try:
        import tree_sitter  # noqa: F401

        from codecustom.mining import mine_tree  # noqa: F401
    except ImportError:
        return False
    return True


_TEST_DIRS = frozenset({"test", "tests", "testing", "unittests"})


def is_test_file(path: str) -> bool:
    """A cheap test-file test (names and folders); the miner decides for real."""
    parts = PurePosixPath(path).parts
    name = parts[-1]
    stem = name.rsplit(".", 1)[0]
    return (any(p in _TEST_DIRS for p in parts[:-1]) or stem.startswith("test_") or stem.endswith(("_test", "_tests"))
            or stem.endswith(("Test", "Tests")))


def packages_with_tests(docs: list[Document]) -> list[Document]:
    """The documents worth mining: top-level packages that hold tests (a top-level ``test``/``tests``
    folder, as in the stdlib, keeps everything). Packages without tests cannot give pairs."""
    by_top: dict[str, list[Document]] = defaultdict(list)
    for doc in docs:
        by_top[PurePosixPath(doc.path).parts[0] if "/" in doc.path else ""].append(doc)
    tested = {top for top, group in by_top.items() if any(is_test_file(d.path) for d in group)}
    if tested & _TEST_DIRS:
        return docs
    return [d for d in docs if (PurePosixPath(d.path).parts[0] if "/" in d.path else "") in tested]


def mining_languages(languages: list[str]) -> list[str]:
    """The corpus languages the miner knows."""
    from codecustom.mining import registry

    known = set(getattr(registry, "LANGUAGES", {}) or {})
    return [lang for lang in languages if not known or lang in known]


def collect_pairs(corpus: Corpus, *, workers: int, console: Console) -> list[TaskPair]:
    """Mine (focal context, test) pairs from the corpus documents, one tree per corpus folder."""
    from codecustom.data.tests_task import DEFAULT_CONTEXT_LEVEL, pick_context
    from codecustom.mining import mine_tree
    from codecustom.mining.records import PairRecord, read_jsonl

    roots = {str(s.summary["name"]): str(s.summary["root"]) for s in corpus.sources}
    groups: dict[str, list[Document]] = defaultdict(list)
    for doc in corpus.documents:
        groups[roots[doc.source]].append(doc)
    groups = {root: packages_with_tests(docs) for root, docs in groups.items()}
    groups = {root: docs for root, docs in groups.items() if docs}
    languages = mining_languages(corpus.languages)
    quiet = Console(quiet=True)
    pairs: list[TaskPair] = []
    with tempfile.TemporaryDirectory(prefix="codecustom-pretrain-mine-") as tmp:
        for i, (root, docs) in enumerate(sorted(groups.items())):
            split_of = {d.path: d.split for d in docs}
            try:
                out = mine_tree(((d.path, d.text.encode("utf-8", errors="surrogatepass")) for d in docs),
                                out=Path(tmp) / str(i), languages=languages, console=quiet, workers=workers,
                                project=Path(root).name)
            except CodecustomError as exc:
                console.warn(f"no test pairs from {root}: {exc.one_line()}")
                continue
            n = 0
            for rec in read_jsonl(out / "pairs.jsonl", PairRecord):
                if rec.test_path not in split_of or rec.focal_path not in split_of or not rec.test.strip():
                    continue
                context = pick_context(rec.context, DEFAULT_CONTEXT_LEVEL)
                if context:
                    pairs.append(TaskPair(context, rec.test, rec.language, split_of[rec.test_path]))
                    n += 1
            console.info(f"  {n:,} test pairs from {root}")
    return pairs
