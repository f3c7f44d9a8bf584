"""Shared test setup: offline hub, an isolated codecustom home, tiny models on demand."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own CODECUSTOM_HOME so caches and the artifact store never leak between tests."""
    home = tmp_path_factory.mktemp("cchome")
    monkeypatch.setenv("CODECUSTOM_HOME", str(home))
    monkeypatch.delenv("CODECUSTOM_STORE", raising=False)
    return home


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory):
    """``tiny_model(arch) -> Path``: a saved random-init model + tokenizer, built once per session."""
    from tests.support.tiny import make_tiny_model

    cache: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("tiny-models")

    def get(arch: str) -> Path:
        if arch not in cache:
            cache[arch] = make_tiny_model(arch, root / arch)
        return cache[arch]

    return get
