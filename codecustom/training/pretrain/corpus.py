"""Build the pretraining corpus: sources and licenses, file filters, dedupe, evaluation-repo exclusion.

Reading, filtering and hashing run in a process pool (``workers``); everything that decides what is
kept runs afterwards in one process, in a fixed order, so the same folders always give the same corpus.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import codecustom
from codecustom.console import Console
from codecustom.errors import DataError
from codecustom.training.pretrain import dedupe, sources
from codecustom.training.pretrain.filters import SKIPPED_DIRS, FileLimits, reject_reason
from codecustom.training.pretrain.languages import LANGUAGES, CorpusLanguage, language_by_extension

# Reject reasons that mean "the text is somewhere else already / must not be trained on" rather than bad data.
EXCLUSION_REASONS = ("excluded_repo_exact", "excluded_repo_near")
DEDUPE_REASONS = ("duplicate_exact", "duplicate_near")
NEAR_THRESHOLD = 0.85  # estimated Jaccard over normalised lines


@dataclass
class Document:
    """One corpus file that survived every filter."""

    source: str
    path: str  # relative to the source's root
    language: str
    text: str
    sha: str
    split: str = "train"  # train | valid


@dataclass
class SourceStats:
    """Per-source counts for the model card."""

    summary: dict[str, object]
    candidates: int = 0
    kept: int = 0
    kept_bytes: int = 0
    rejects: Counter = field(default_factory=Counter)

    def to_dict(self) -> dict[str, object]:
        return {**self.summary, "candidate_files": self.candidates, "files": self.kept, "bytes": self.kept_bytes,
                "rejected": dict(sorted(self.rejects.items()))}


@dataclass
class Corpus:
    """The documents to pretrain on and the record of how they were chosen."""

    documents: list[Document]
    sources: list[SourceStats]  # permissive sources that were read
    excluded_sources: list[dict[str, object]]  # not permissive (or unknown): never read
    rejects: Counter  # reason -> files, over all sources
    exclude_repos: list[dict[str, object]]  # evaluation repos whose files were kept out
    languages: list[str]

    def split(self, name: str) -> list[Document]:
        """Documents of one split (``train`` / ``valid``)."""
        return [d for d in self.documents if d.split == name]

    @property
    def n_bytes(self) -> int:
        return sum(len(d.text.encode("utf-8", errors="surrogatepass")) for d in self.documents)

    def card(self) -> dict[str, object]:
        """The corpus section of the model card."""
        by_split = Counter(d.split for d in self.documents)
        return {
            "languages": self.languages,
            "files": len(self.documents),
            "bytes": self.n_bytes,
            "split_files": dict(by_split),
            "sources": [s.to_dict() for s in self.sources if s.kept],
            "sources_without_kept_files": [s.summary["name"] for s in self.sources if not s.kept],
            "excluded_sources": self.excluded_sources,
            "rejected_files": dict(sorted(self.rejects.items())),
            "exclude_repos": self.exclude_repos,
            "dedupe": {"method": "exact sha256 + MinHash LSH over normalised lines",
                       "near_duplicate_threshold": NEAR_THRESHOLD},
        }


def codecustom_repo() -> Path:
    """This codecustom checkout (or installed package folder): always excluded from pretraining."""
    package = Path(codecustom.__file__).resolve().parent
    repo = package.parent
    pyproject = repo / "pyproject.toml"
    if pyproject.is_file() and 'name = "codecustom"' in pyproject.read_text(encoding="utf-8", errors="replace"):
        return repo
    return package


def _process(item: tuple[str, str, FileLimits]) -> tuple[str | None, str, str, np.ndarray | None]:
    """Worker: read one file, filter it, hash it. Returns ``(reason, text, sha, minhash)``."""
    path, language, limits = item
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)
    except OSError:
        return "unreadable", "", "", None
    reason, text = reject_reason(data, LANGUAGES[language], limits)
    if reason is not None:
        return reason, "", "", None
    return None, text, dedupe.exact_hash(text), dedupe.minhash(text)


def _fingerprint(path: str) -> tuple[str, np.ndarray | None] | None:
    """Worker: hash a file of an excluded repository (no quality filters: any copy must go)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(4_000_001)
        text = data.decode("utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return None
    if not text.strip() or len(data) > 4_000_000:
        return None
    return dedupe.exact_hash(text), dedupe.minhash(text)


def parallel_map(fn: Callable, items: list, workers: int, *, chunksize: int = 32) -> Iterator:
    """``map`` over a fork-based process pool (in-process when ``workers <= 1``), results in order."""
    if workers <= 1 or len(items) < 2 * chunksize:
        yield from map(fn, items)
        return
    ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        yield from pool.map(fn, items, chunksize=chunksize)


def default_workers() -> int:
    """Worker processes for data preparation: every core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _repo_files(root: Path, extensions: frozenset[str]) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith("."))
        out.extend(os.path.join(dirpath, f) for f in sorted(filenames) if os.path.splitext(f)[1] in extensions)
    return out


def build_corpus(corpus_args: Iterable[str], languages: list[CorpusLanguage], *,
                 exclude_repos: Iterable[str] = (), assume_license: str | None = None,
                 limits: FileLimits = FileLimits(), max_bytes: int | None = None, valid_fraction: float = 0.01,
                 workers: int | None = None, seed: int = 0, console: Console | None = None) -> Corpus:
    """Gather, license-check, filter, dedupe and split the corpus (see module docstring)."""
    console = console or Console(quiet=True)
    workers = workers or default_workers()
    by_ext = language_by_extension(languages)
    extensions = frozenset(by_ext)

    folders: list[Path] = []
    for arg in corpus_args:
        for folder in sources.expand_corpus_arg(arg):
            if folder not in folders:
                folders.append(folder)
    if not folders:
        raise DataError("no corpus folders given", hint="pass --corpus DIR (or 'stdlib', 'site-packages')")

    found: list[sources.Source] = []
    for folder in folders:
        found.extend(sources.discover(folder, extensions, assume_license=assume_license))
    permissive = [s for s in found if s.license.permissive]
    excluded_sources = [{**s.summary(), "files": len(s.files)} for s in found if not s.license.permissive and s.files]
    for s in found:
        if not s.license.permissive and s.files:
            console.info(f"  leaving out {s.name} ({s.license.license}, {s.license.evidence}): {len(s.files)} files")

    # fingerprints of the evaluation repos (and of codecustom itself)
    repo_paths = [Path(r).expanduser() for r in exclude_repos]
    for repo in repo_paths:
        if not repo.is_dir():
            raise DataError(f"--exclude-repo {repo} is not a folder", hint="pass the checkout of the evaluation repo")
    repo_paths.append(codecustom_repo())
    all_ext = frozenset(ext for lang in LANGUAGES.values() for ext in lang.extensions)
    excluded_exact: dict[str, int] = {}
    excluded_near = dedupe.NearDuplicateIndex(NEAR_THRESHOLD)
    exclude_report: list[dict[str, object]] = []
    for i, repo in enumerate(repo_paths):
        files = _repo_files(repo.resolve(), all_ext)
        n = 0
        for fp in parallel_map(_fingerprint, files, workers):
            if fp is None:
                continue
            sha, sig = fp
            excluded_exact.setdefault(sha, i)
            if sig is not None:
                excluded_near.add(sig, i)
            n += 1
        exclude_report.append({"repo": str(repo), "files": n, "dropped_exact": 0, "dropped_near": 0})

    # read + filter + hash every candidate file of the permissive sources
    items: list[tuple[str, str, FileLimits]] = []
    owners: list[tuple[int, str]] = []
    stats = [SourceStats(summary=s.summary(), candidates=len(s.files), rejects=Counter(s.path_rejects))
             for s in permissive]
    for si, src in enumerate(permissive):
        for rel in src.files:
            items.append((str(src.root / rel), by_ext[os.path.splitext(rel)[1]].name, limits))
            owners.append((si, rel))
    console.info(f"reading {len(items):,} files from {len(permissive)} permissive sources "
                 f"({len(excluded_sources)} left out for their license) with {workers} workers")
    rejects: Counter = Counter()
    for s in stats:
        rejects.update(s.rejects)
    corpus_near = dedupe.NearDuplicateIndex(NEAR_THRESHOLD)
    seen: set[str] = set()
    documents: list[Document] = []
    results = parallel_map(_process, items, workers, chunksize=64)
    for (si, rel), item, (reason, text, sha, sig) in zip(owners, items,
                                                         console.progress(results, total=len(items), desc="corpus",
                                                                          unit="file")):
        if reason is None:
            reason = _duplicate_reason(sha, sig, excluded_exact, excluded_near, seen, corpus_near, exclude_report)
        if reason is not None:
            stats[si].rejects[reason] += 1
            rejects[reason] += 1
            continue
        seen.add(sha)
        if sig is not None:
            corpus_near.add(sig, len(documents))
        documents.append(Document(permissive[si].name, rel, item[1], text, sha))

    if max_bytes is not None:
        documents = _cap(documents, max_bytes, seed, rejects, stats, permissive)
    for doc in documents:
        doc.split = "valid" if int(doc.sha[:8], 16) / 0xFFFFFFFF < valid_fraction else "train"
    if documents and not any(d.split == "valid" for d in documents) and valid_fraction > 0:
        documents[-1].split = "valid"  # a tiny corpus still gets a held-out file
    index = {s.name: stats[i] for i, s in enumerate(permissive)}
    for doc in documents:
        st = index[doc.source]
        st.kept += 1
        st.kept_bytes += len(doc.text.encode("utf-8", errors="surrogatepass"))
    if not documents:
        why = ", ".join(f"{k}: {v}" for k, v in rejects.most_common(5)) or "no candidate files"
        left = ", ".join(f"{s['name']} ({s['license']})" for s in excluded_sources[:5])
        raise DataError(f"the corpus is empty after filtering ({why}"
                        + (f"; left out for license: {left}" if left else "") + ")",
                        hint="pass folders with permissively licensed code in the chosen --languages, "
                        "or --assume-license SPDX for your own code")
    return Corpus(documents, stats, excluded_sources, rejects, exclude_report, [lang.name for lang in languages])


def _duplicate_reason(sha: str, sig: np.ndarray | None, excluded_exact: dict[str, int],
                      excluded_near: dedupe.NearDuplicateIndex, seen: set[str],
                      corpus_near: dedupe.NearDuplicateIndex, report: list[dict[str, object]]) -> str | None:
    if sha in excluded_exact:
        report[excluded_exact[sha]]["dropped_exact"] += 1  # type: ignore[operator]
        return "excluded_repo_exact"
    if sig is not None and len(excluded_near):
        hit = excluded_near.match(sig)
        if hit is not None:
            report[hit[0]]["dropped_near"] += 1  # type: ignore[index,operator]
            return "excluded_repo_near"
    if sha in seen:
        return "duplicate_exact"
    if sig is not None and corpus_near.match(sig) is not None:
        return "duplicate_near"
    return None


def _cap(documents: list[Document], max_bytes: int, seed: int, rejects: Counter, stats: list[SourceStats],
         permissive: list[sources.Source]) -> list[Document]:
    """A seeded random subset of whole files within ``max_bytes`` (original order kept)."""
    total = sum(len(d.text) for d in documents)
    if total <= max_bytes:
        return documents
    order = list(range(len(documents)))
    random.Random(seed).shuffle(order)
    keep: set[int] = set()
    used = 0
    for i in order:
        size = len(documents[i].text)
        if used + size <= max_bytes:
            keep.add(i)
            used += size
    index = {s.name: stats[i] for i, s in enumerate(permissive)}
    for i, doc in enumerate(documents):
        if i not in keep:
            rejects["over_size_budget"] += 1
            index[doc.source].rejects["over_size_budget"] += 1
    return [d for i, d in enumerate(documents) if i in keep]
