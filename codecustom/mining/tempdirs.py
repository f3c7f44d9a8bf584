"""What killed mining runs leave next to a dataset folder: their temp folders (removed) and, when a kill
came between the two renames that replace a dataset, the dataset itself (put back)."""

from __future__ import annotations

from pathlib import Path

from codecustom import atomic


def clean_leftovers(out: Path) -> list[str]:
    """Repair what killed runs left for the dataset folder ``out`` (see :func:`codecustom.atomic.recover`)."""
    return atomic.recover(Path(out).parent, lambda folder: (folder / "manifest.json").is_file(), only=Path(out).name)
