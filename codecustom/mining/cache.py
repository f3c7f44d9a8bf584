"""What the miner learned about each file, kept per git blob so re-mining skips unchanged files.

A file's :class:`~codecustom.mining.pipeline.FileResult` (filters' verdict, extracted facts, serialized method
records, the completion-corpus line, its MinHash) depends only on its bytes, its path, its language, whether it
is a test file and the pytest naming that applies — and on the miner's own code. The cache key holds all of
them; the miner's code (its modules and query files) and the grammars' versions salt the folder, so a change
to either starts a fresh cache and a cached result is always what a cold run would compute.

Entries live under ``$CODECUSTOM_HOME/cache/mining/<salt>/`` (never inside the repository), one pickle each,
written atomically. ``codecustom mine --no-cache`` neither reads nor writes them.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import pickle
from pathlib import Path
from typing import Any

from codecustom import paths
from codecustom.mining.facts import FileFacts

_GRAMMARS = ("tree_sitter", "tree_sitter_java", "tree_sitter_python", "tree_sitter_javascript",
             "tree_sitter_typescript", "tree_sitter_go")


@functools.cache
def salt() -> str:
    """A digest of everything a file's result depends on besides the file: the extraction code, the query files
    and the installed grammars."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha1()
    for path in sorted(here.glob("*.py")):  # every module: parse results, mappings and pair lines are all cached
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    for q in sorted((here / "queries").rglob("*.scm")):
        h.update(q.relative_to(here).as_posix().encode() + b"\0" + q.read_bytes())
    for module in _GRAMMARS:  # the installed grammar and binding files (not importlib.metadata: it costs 20 ms)
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec is not None else None
        if origin:
            st = os.stat(origin)
            h.update(f"{module}:{origin}:{st.st_size}:{st.st_mtime_ns}".encode())
        else:
            h.update(f"{module}:none".encode())
    return h.hexdigest()[:16]


class ParseCache:
    """Per-blob results under one salt folder; ``get``/``put`` take the full key (see module doc)."""

    def __init__(self, root: Path | None = None, extra: str = "") -> None:
        tag = salt() if not extra else hashlib.sha1((salt() + extra).encode()).hexdigest()[:16]
        self.root = (Path(root) if root is not None else paths.home() / "cache" / "mining") / tag
        self.hits = 0
        self.misses = 0

    def _path(self, key: tuple) -> Path:
        digest = hashlib.sha1(repr(key).encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / digest[:2] / digest[2:]

    def get(self, key: tuple) -> Any | None:
        try:
            with open(self._path(key), "rb") as fh:
                found = pickle.load(fh)
        except FileNotFoundError:
            self.misses += 1
            return None
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ValueError):
            self.misses += 1  # a damaged entry is recomputed (and rewritten)
            return None
        self.hits += 1
        return found

    def put(self, key: tuple, value: Any) -> None:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, target)
        except OSError:
            pass  # a cache that cannot be written only costs the next run time


def mapping_digest(facts: FileFacts) -> str:
    """What test->focal mapping reads from a file when it maps other files' tests: its declarations (classes,
    methods' names, types and shapes, imports, module variables, fixtures; never bodies, call sites or line numbers).
    A test's answer depends only on its own file's bytes and every file's declaration digest, so a run where both
    match an earlier one reuses its answers."""
    decl = [facts.path, facts.language, facts.package, facts.is_test_file,
            [(i.module, i.name, i.alias, i.is_static) for i in facts.imports],
            sorted(facts.module_vars.items()), sorted((k, repr(v)) for k, v in facts.fixture_types.items())]
    for c in facts.classes:
        decl.append((c.name, c.qualname, c.kind, c.bases, c.modifiers, sorted(c.field_types.items()),
                     sorted((k, repr(v)) for k, v in c.attr_types.items()), sorted(c.aliases.items()),
                     sorted(c.field_news.items()), c.is_test_class, c.is_nested_test))
    for m in facts.methods:
        if m.is_test:
            decl.append((m.class_name, m.name))  # helpers of a test class are looked up by name
        else:
            decl.append((m.name, m.class_name, m.signature, m.param_types, m.min_arity, m.max_arity, m.return_type,
                         m.modifiers, m.is_static, m.is_fixture, m.is_setup, m.is_constructor, m.has_body, m.returns))
    return hashlib.sha1(repr(decl).encode("utf-8", "surrogateescape")).hexdigest()
