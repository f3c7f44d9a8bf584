"""Fixture repos built once per session (read-only for tests), and helpers to make small git repos."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.fixture_repos import build_fixture_repo


@pytest.fixture(scope="session")
def fixture_repos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """{'python_repo': path, 'java_repo': path}: the hand-written fixtures as git repos (do not modify)."""
    root = tmp_path_factory.mktemp("fixture-repos")
    return {name: build_fixture_repo(name, root / name) for name in ("python_repo", "java_repo")}


@pytest.fixture(scope="session")
def mined(fixture_repos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The fixtures mined with default options: {'python_repo': dataset dir, 'java_repo': dataset dir}."""
    from codecustom.mining import mine

    root = tmp_path_factory.mktemp("mined")
    return {name: mine(str(path), out=root / name) for name, path in fixture_repos.items()}


def git(cwd: Path, *args: str) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org", GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_SYSTEM=os.devnull)
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, files: dict[str, bytes | str], message: str = "init") -> Path:
    """A git repo at ``path`` with one commit holding ``files``."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    for rel, content in files.items():
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
    if files:
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", message)
    return path
