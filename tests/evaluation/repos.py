"""Real git repositories for evaluation tests, built from the hand-written project in tests/support/datasets.

The dataset written next to a repo carries the repo's real commit sha, so execution runs on exactly the
mined revision.
"""

from __future__ import annotations

from pathlib import Path

import git

from tests.support.datasets import JAVA_FOCAL, JAVA_TESTS, PY_SOURCES, PY_TESTS, write_dataset


def make_repo(root: Path, files: dict[str, str], message: str = "initial") -> tuple[Path, str]:
    """A git repo at ``root`` with ``files`` committed; returns (path, commit sha)."""
    root.mkdir(parents=True, exist_ok=True)
    repo = git.Repo.init(root)
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "codecustom tests")
        cfg.set_value("user", "email", "tests@codecustom.invalid")
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    repo.index.add(list(files))
    commit = repo.index.commit(message)
    return root, commit.hexsha


def python_project() -> dict[str, str]:
    return {**PY_SOURCES, **PY_TESTS}


def java_project() -> dict[str, str]:
    files = {path: src for path, (_, src) in JAVA_FOCAL.items()}
    files.update(JAVA_TESTS)
    return files


def repo_with_dataset(tmp: Path, *, java: bool = False) -> tuple[Path, Path, str]:
    """(repo, dataset folder, sha): the textkit project (plus the Java part when asked) and its dataset."""
    files = python_project()
    if java:
        files.update(java_project())
    repo, sha = make_repo(tmp / "textkit", files)
    dataset = write_dataset(tmp / "dataset", repo=str(repo), revision=sha)
    return repo, dataset, sha
