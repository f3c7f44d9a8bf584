"""Choosing and loading the workspace's model in the background, and the engines built on it.

Choice order: the artifact named in initializationOptions / ``.codecustom.toml``; else the newest
artifact of this project (``codecustom.paths.project_name`` of the workspace root) in the store;
else the base (``load_base(None)`` = the shipped model). Loading never runs on the event loop:
``ModelManager.load`` starts a daemon thread and reports steps through a callback.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom.errors import CodecustomError, ModelError

from .config import ModelChoice

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int], None]  # (message, percentage)


class State(str, enum.Enum):
    IDLE = "idle"
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass
class Served:
    """What is loaded and the engines that use it."""

    completion: Any  # codecustom.inference.CompletionEngine
    tests: Any  # codecustom.inference.TestGenEngine
    info: dict[str, Any] = field(default_factory=dict)


def _artifact_summary(loaded: Any, path: Path | None) -> dict[str, Any]:
    extra = getattr(loaded, "extra", {}) or {}
    manifest = extra.get("manifest") or extra.get("artifact") or {}
    if not isinstance(manifest, dict):
        manifest = {}
    return {
        "artifact": str(path) if path else None,
        "strategy": manifest.get("strategy") or extra.get("strategy"),
        "task": manifest.get("task") or extra.get("task"),
    }


TASK_COMPLETION = "completion"
TASK_TESTS = "tests"


def newest_for(project: str, task: str) -> Path | None:
    """The newest artifact of ``project`` for ``task`` in the store, or None."""
    from codecustom.modeling.artifacts import newest_artifact

    found = newest_artifact(project, task=task)
    return Path(found.path) if found is not None else None


def _pick_artifact(choice: ModelChoice, project: str | None, task: str) -> tuple[Path | None, bool]:
    """(artifact to load for ``task``, whether the user named it)."""
    if not choice.wants_artifact:
        return None, False
    named = choice.tests_artifact if task == TASK_TESTS and choice.tests_artifact else choice.artifact
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise ModelError(f"artifact {path} does not exist",
                             hint="fix model.artifact in .codecustom.toml or initializationOptions, "
                                  "or set it to \"none\" to serve the base model")
        return path, True
    if task == TASK_TESTS and choice.artifact:
        return None, False  # one named artifact serves both tasks
    return (newest_for(project, task) if project else None), False


def load_model(choice: ModelChoice, artifact: Path | None, named: bool, *,
               progress: ProgressCallback | None = None) -> tuple[Any, Path | None]:
    """Base + ``artifact`` (or the base alone); returns (LoadedModel, artifact actually loaded)."""
    from codecustom.modeling.artifacts import load_artifact
    from codecustom.modeling.loading import load_base

    say = progress or (lambda message, pct: None)
    if artifact is None:
        say(f"loading base model {choice.base or 'default'}", 30)
        return load_base(choice.base, device=choice.device), None
    say(f"loading {artifact.parent.name}/{artifact.name} on its base", 30)
    base = None
    if choice.base is not None:
        base = load_base(choice.base, device=choice.device)
    try:
        return load_artifact(artifact, base=base, device=choice.device), artifact
    except ModelError as exc:
        if named or base is None:
            raise
        # the project's newest artifact was trained on another base than the one asked for
        log.warning("newest artifact %s does not fit base %s (%s); serving the base",
                    artifact, choice.base, exc.one_line())
        return base, None


def build_engines(choice: ModelChoice, project: str | None, progress: ProgressCallback | None = None) -> Served:
    """Load the completion model (and the test model when a separate artifact exists); build engines."""
    import torch

    from codecustom.inference import CompletionEngine, InProcessBackend, TestGenEngine

    say = progress or (lambda message, pct: None)
    if choice.threads:
        torch.set_num_threads(choice.threads)
    started = time.perf_counter()
    if choice.backend != "in-process":
        return _remote_engines(choice, project, say, started)
    artifact, named = _pick_artifact(choice, project, TASK_COMPLETION)
    tests_artifact, tests_named = _pick_artifact(choice, project, TASK_TESTS)
    loaded, artifact = load_model(choice, artifact, named, progress=say)
    tests_loaded = loaded
    if tests_artifact is not None and tests_artifact != artifact:
        say("loading the test-generation artifact", 60)
        tests_loaded, tests_artifact = load_model(choice, tests_artifact, tests_named, progress=say)
    else:
        tests_artifact = artifact
    say("building engines", 80)
    backend = InProcessBackend(loaded)
    completion = CompletionEngine(backend, loaded.tokenizer)
    tests_backend = backend if tests_loaded is loaded else InProcessBackend(tests_loaded)
    tests = TestGenEngine.for_model(tests_loaded, tests_backend)
    info = {
        "model": loaded.base_id,
        "base_hash": (loaded.base_hash or "")[:12],
        "arch": loaded.arch,
        "device": str(loaded.device),
        "project": project,
        **_artifact_summary(loaded, artifact),
        "tests_artifact": str(tests_artifact) if tests_artifact else None,
        "load_seconds": round(time.perf_counter() - started, 2),
    }
    return Served(completion, tests, info)


def _remote_engines(choice: ModelChoice, project: str | None, say: ProgressCallback, started: float) -> Served:
    """Engines on an OpenAI-compatible server; only the tokenizer (of ``base``) is loaded here."""
    from transformers import AutoTokenizer

    from codecustom.errors import UsageError
    from codecustom.inference import CompletionEngine, TestGenEngine
    from codecustom.inference.backends.openai_http import OpenAIBackend
    from codecustom.modeling.loading import resolve_base

    if choice.backend != "openai":
        raise UsageError(f"unknown backend {choice.backend!r}", hint="use in-process or openai")
    if not choice.url or not choice.server_model:
        raise UsageError("the openai backend needs url and server_model",
                         hint='e.g. [model] backend = "openai", url = "http://127.0.0.1:8080/v1", server_model = "myrepo"')
    say("loading the tokenizer", 30)
    base_id, folder = resolve_base(choice.base)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    backend = OpenAIBackend(choice.url, choice.server_model, api_key=choice.api_key)
    info = {"model": f"{choice.server_model} @ {choice.url}", "tokenizer": base_id, "backend": "openai",
            "device": "server", "project": project, "artifact": None,
            "load_seconds": round(time.perf_counter() - started, 2)}
    return Served(CompletionEngine(backend, tokenizer), TestGenEngine(backend, tokenizer=tokenizer), info)


class ModelManager:
    """Owns the served model; ``load`` swaps it in the background, requests see the old one (or none)."""

    def __init__(self, loader: Callable[[ModelChoice, str | None, ProgressCallback], Served] = build_engines) -> None:
        self._loader = loader
        self._lock = threading.Lock()
        self._generation = 0
        self.state = State.IDLE
        self.served: Served | None = None
        self.error: str | None = None
        self.choice: ModelChoice | None = None

    @property
    def ready(self) -> bool:
        return self.served is not None

    def load(self, choice: ModelChoice, project: str | None, *, progress: ProgressCallback,
             done: Callable[[State, str | None], None], warmup: Callable[[Served], None] | None = None) -> threading.Thread:
        """Start loading ``choice`` on a daemon thread; ``done(state, error)`` is called at the end."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            self.state = State.LOADING
            self.choice = choice

        def run() -> None:
            try:
                progress("resolving model", 5)
                served = self._loader(choice, project, progress)
                if warmup is not None:
                    progress("warming up", 90)
                    warmup(served)
                with self._lock:
                    if generation != self._generation:  # superseded by a newer configuration
                        return
                    self.served, self.state, self.error = served, State.READY, None
                done(State.READY, None)
            except CodecustomError as exc:
                self._failed(generation, exc.one_line(), done)
            except Exception as exc:  # noqa: BLE001 - report, keep serving empty answers
                log.exception("model loading failed")
                self._failed(generation, f"{type(exc).__name__}: {exc}", done)

        thread = threading.Thread(target=run, name="codecustom-model-loader", daemon=True)
        thread.start()
        return thread

    def _failed(self, generation: int, message: str, done: Callable[[State, str | None], None]) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self.state, self.error = State.FAILED, message
        done(State.FAILED, message)

    def status(self) -> dict[str, Any]:
        info = dict(self.served.info) if self.served else {}
        info["state"] = self.state.value
        if self.error:
            info["error"] = self.error
        return info
