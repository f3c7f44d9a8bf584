"""One inference thread behind a bounded queue, so the event loop never waits on torch.

Jobs carry a ``threading.Event``; setting it makes a queued job finish without running and a
running decode stop at its next step (the engine checks the event each token). When the queue is
full the oldest *droppable* job (a completion nobody will miss) is dropped to make room, so the
newest keystroke always gets served; long jobs (test generation) are never dropped.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from codecustom.errors import CodecustomError

log = logging.getLogger(__name__)


class QueueFull(CodecustomError):
    """Too many long jobs are waiting."""


@dataclass
class Job:
    """A unit of model work: ``fn(cancel)`` runs on the worker thread."""

    fn: Callable[[threading.Event], Any]
    droppable: bool = True
    cancel: threading.Event = field(default_factory=threading.Event)
    future: Future = field(default_factory=Future)
    submitted: float = field(default_factory=time.perf_counter)
    started: float | None = None
    finished: float | None = None
    label: str = ""

    def stop(self) -> None:
        """Ask the job to stop; a queued job is skipped, a running decode stops at its next step."""
        self.cancel.set()


def _resolve(future: Future, result: Any = None, exc: BaseException | None = None) -> None:
    """Set a future's outcome unless the waiting side already cancelled it."""
    try:
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)
    except InvalidStateError:
        pass


class InferenceWorker:
    """A single daemon thread running jobs one at a time, newest completions first to survive."""

    def __init__(self, capacity: int = 16, *, name: str = "codecustom-inference") -> None:
        self.capacity = capacity
        self._queue: collections.deque[Job] = collections.deque()
        self._cond = threading.Condition()
        self._closed = False
        self._current: Job | None = None
        self.completed = 0
        self.dropped = 0
        self.skipped = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Job:
        """Queue ``job``; may drop the oldest droppable job; raises QueueFull if nothing can go."""
        with self._cond:
            if self._closed:
                _resolve(job.future)
                return job
            while len(self._queue) >= self.capacity:
                victim = next((j for j in self._queue if j.droppable), None)
                if victim is None:
                    if job.droppable:  # the newcomer is the least important: drop it instead
                        self.dropped += 1
                        _resolve(job.future)
                        return job
                    raise QueueFull(f"{len(self._queue)} model jobs are already waiting",
                                    hint="wait for running test generations to finish")
                self._queue.remove(victim)
                self.dropped += 1
                victim.cancel.set()
                _resolve(victim.future)
            self._queue.append(job)
            self._cond.notify()
        return job

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + (1 if self._current is not None else 0)

    def close(self) -> None:
        """Stop accepting work, cancel what is queued and running."""
        with self._cond:
            self._closed = True
            for job in self._queue:
                job.cancel.set()
                _resolve(job.future)
            self._queue.clear()
            if self._current is not None:
                self._current.cancel.set()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                job = self._queue.popleft()
                self._current = job
            try:
                if job.cancel.is_set() or job.future.done():
                    self.skipped += 1
                    _resolve(job.future)
                    continue
                job.started = time.perf_counter()
                result = job.fn(job.cancel)
                job.finished = time.perf_counter()
                self.completed += 1
                _resolve(job.future, result)
            except BaseException as exc:  # noqa: BLE001 - the worker must survive any job
                self.failed += 1
                log.exception("inference job %s failed", job.label or job.fn)
                _resolve(job.future, exc=exc)
            finally:
                with self._cond:
                    self._current = None
