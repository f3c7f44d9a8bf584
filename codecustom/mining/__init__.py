"""Stage 1: mine a repository into methods, tests, test→focal pairs and a completion corpus.

Two layers:

* :func:`mine` — a git repository (local path or URL) at a revision, read from git's object database;
  the `codecustom mine` command.
* :func:`mine_directory` / :func:`mine_tree` — the git-free layer: a plain folder of code, or any
  iterable of ``(path, bytes)``; same dataset format, no time split.

Records are documented in docs/schema.md; read them with :mod:`codecustom.mining.records`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from codecustom.mining.records import (CONTEXT_LEVELS, FileRecord, Manifest, MethodRecord, PairRecord, is_dataset,
                                       read_jsonl, read_manifest)

__all__ = ["mine", "mine_directory", "mine_tree", "CONTEXT_LEVELS", "FileRecord", "Manifest", "MethodRecord",
           "PairRecord", "is_dataset", "read_jsonl", "read_manifest", "LANGUAGES"]


def __getattr__(name: str):
    if name == "LANGUAGES":
        from codecustom.mining.registry import LANGUAGES
        return LANGUAGES
    raise AttributeError(name)


def mine(repo: str, *, rev: str | None = None, out: Path | None = None, languages: list[str] | None = None,
         split: str = "file", console=None, workers: int | None = None, cache: bool = True) -> Path:
    """Mine a git repository (path, subfolder of one, or URL) at ``rev`` (default HEAD) into a dataset folder.

    Writes methods.jsonl, pairs.jsonl, files.jsonl and manifest.json; default ``out`` is
    ``paths.datasets_dir() / <project> / <short sha>``. Never writes inside the repository. With ``cache``,
    each blob's parse result is kept under ``$CODECUSTOM_HOME/cache/mining`` and reused (mining/cache.py).
    """
    from codecustom import paths
    from codecustom.mining import pipeline, registry
    from codecustom.mining.sources import GitSource

    langs = registry.resolve_languages(languages)
    if split not in pipeline.SPLIT_RULES:
        from codecustom.errors import UsageError
        raise UsageError(f"unknown split rule '{split}'", hint="use 'file' or 'time'")
    source = GitSource(repo, rev, console=console)
    try:
        target = Path(out) if out is not None else paths.datasets_dir() / source.project / source.sha[:12]
        extra = {"shallow": source.shallow, "bare": source.bare, "subdir": source.subdir or None}
        if source.shallow and console is not None:
            console.warn(f"{repo} is a shallow clone: mining {source.sha[:12]} works, but history-based splits are approximate")
        result, _ = pipeline.run(source, target, pipeline.MineOptions(languages=langs, split=split, workers=workers,
                                                                      cache=cache),
                                 console=console, repo_label=str(repo), revision=source.sha, extra=extra)
        return result
    finally:
        source.close()


def mine_directory(path: str | Path, *, out: Path, languages: list[str] | None = None, console=None,
                   workers: int | None = None, exclude: tuple[str, ...] = (), cache: bool = True) -> Path:
    """Mine a plain folder of code (no git needed) into a dataset folder at ``out``.

    ``exclude`` holds glob patterns or folder prefixes relative to ``path`` (e.g. ``("site-packages",)``).
    Splits are by file.
    """
    from codecustom.mining import pipeline, registry
    from codecustom.mining.sources import DirectorySource

    source = DirectorySource(path, exclude=exclude)
    langs = registry.resolve_languages(languages)
    result, _ = pipeline.run(source, Path(out), pipeline.MineOptions(languages=langs, split="file", workers=workers,
                                                                      cache=cache),
                             console=console, repo_label=str(source.root), revision="")
    return result


class _TreeSource:
    listable = False
    sha = ""
    shallow = False

    def __init__(self, files: Iterable[tuple[str, bytes]], project: str) -> None:
        self.files = files
        self.project = project

    def entries(self) -> Iterator:
        from codecustom.mining.sources import SourceEntry, blob_sha
        for path, data in self.files:
            yield SourceEntry(path.replace("\\", "/").lstrip("/"), len(data), blob_sha(data), "file", lambda d=data: d)


def mine_tree(files: Iterable[tuple[str, bytes]], *, out: Path, languages: list[str] | None = None, console=None,
              workers: int | None = None, project: str = "tree", cache: bool = True) -> Path:
    """Mine any iterable of ``(relative path, bytes)`` (streamed, never all held) into a dataset folder."""
    from codecustom.mining import pipeline, registry

    langs = registry.resolve_languages(languages)
    result, _ = pipeline.run(_TreeSource(files, project), Path(out),
                             pipeline.MineOptions(languages=langs, split="file", workers=workers, cache=cache),
                             console=console, repo_label=project, revision="")
    return result
