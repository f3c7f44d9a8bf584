"""Fixtures for the training tests: one thread for tiny models, a small mined dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.modeling.conftest import arch_model  # noqa: F401  (re-exported fixture)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models train faster on one thread, and other tests' threads are not disturbed."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-written mined dataset (tests/support/datasets.py), shared read-only."""
    from tests.support.datasets import write_dataset

    return write_dataset(tmp_path_factory.mktemp("dataset") / "textkit")
