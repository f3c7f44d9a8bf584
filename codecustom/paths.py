"""Where codecustom keeps its caches, mined datasets and the artifact store.

Everything lives under ``$CODECUSTOM_HOME`` (default ``~/.cache/codecustom``); nothing is ever
written inside the repository being customized.
"""

from __future__ import annotations

import os
import re
from pathlib import Path


def home() -> Path:
    """Root folder for codecustom's state."""
    return Path(os.environ.get("CODECUSTOM_HOME") or Path.home() / ".cache" / "codecustom").expanduser()


def clone_cache() -> Path:
    """Folder where git URLs are cloned."""
    return home() / "clones"


def datasets_dir() -> Path:
    """Default parent of mined datasets."""
    return home() / "datasets"


def store_dir() -> Path:
    """Default artifact store: ``<store>/<project>/<task>/<strategy>/``."""
    return Path(os.environ.get("CODECUSTOM_STORE") or home() / "store").expanduser()


def project_name(repo: str | os.PathLike[str]) -> str:
    """A filesystem-safe project name for a repo path or git URL."""
    text = str(repo).rstrip("/\\")
    if text.endswith(".git"):
        text = text[:-4]
    name = re.split(r"[/\\:]", text)[-1] or "repo"
    if name in {".", ".."}:
        name = Path(text).resolve().name or "repo"
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
