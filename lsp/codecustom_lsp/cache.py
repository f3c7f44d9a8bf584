"""LRU cache of completions that still hits while the user types through a suggestion.

An entry maps (model, language, mode, prefix tail, suffix head) to a completion. A lookup first
tries the exact context; then, among entries with the same suffix, one whose prefix plus the first
characters of its completion equals the new prefix: the user typed what was suggested, so the rest
of the suggestion is still the answer (Tabby / llm-ls behaviour).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass

PREFIX_CHARS = 16_384  # the context handed to the engine (completion.context_window) is keyed in full
SUFFIX_CHARS = 8_192


@dataclass(frozen=True)
class CacheHit:
    text: str  # what to show now
    typed_through: int  # characters of the cached completion already typed (0 = exact hit)


def _digest(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class _Entry:
    prefix_tail: str
    completion: str
    bucket: str
    whole_prefix: bool  # the tail is the entire prefix (document start is part of the context)


class CompletionCache:
    """Thread-safe LRU of ``(context) -> completion`` with type-through lookups."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = max(1, capacity)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._buckets: dict[str, list[str]] = {}  # (model, language, mode, suffix) -> entry keys
        self._lock = threading.Lock()
        self.hits = 0
        self.type_through_hits = 0
        self.misses = 0

    @staticmethod
    def _bucket(namespace: str, suffix: str) -> str:
        return _digest(namespace, suffix[:SUFFIX_CHARS])

    def put(self, namespace: str, prefix: str, suffix: str, completion: str) -> None:
        """Remember ``completion`` for this context (empty completions are remembered too)."""
        bucket = self._bucket(namespace, suffix)
        tail = prefix[-PREFIX_CHARS:]
        key = _digest(bucket, tail)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                self._entries[key].completion = completion
                return
            self._entries[key] = _Entry(tail, completion, bucket, len(prefix) <= PREFIX_CHARS)
            self._buckets.setdefault(bucket, []).append(key)
            while len(self._entries) > self.capacity:
                old_key, old = self._entries.popitem(last=False)
                keys = self._buckets.get(old.bucket)
                if keys is not None:
                    keys.remove(old_key)
                    if not keys:
                        del self._buckets[old.bucket]

    def get(self, namespace: str, prefix: str, suffix: str) -> CacheHit | None:
        """The cached answer for this context, exact or typed-through; None on a miss."""
        bucket = self._bucket(namespace, suffix)
        tail = prefix[-PREFIX_CHARS:]
        key = _digest(bucket, tail)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return CacheHit(entry.completion, 0)
            for other_key in reversed(self._buckets.get(bucket, ())):  # newest first
                other = self._entries[other_key]
                typed = _typed_through(prefix, other.prefix_tail, other.completion, other.whole_prefix)
                if typed:
                    self._entries.move_to_end(other_key)
                    self.hits += 1
                    self.type_through_hits += 1
                    return CacheHit(other.completion[typed:], typed)
            self.misses += 1
            return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._buckets.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _typed_through(prefix: str, old_tail: str, completion: str, whole_prefix: bool) -> int:
    """``t`` > 0 when ``prefix`` == (old prefix) + completion[:t] with 0 < t < len(completion)."""
    if not completion:
        return 0
    # try the longest typed text first so repeated characters ("    ") resolve to the furthest point
    for t in range(len(completion) - 1, 0, -1):
        end = len(prefix) - t
        if end < 0 or not prefix.endswith(completion[:t]):
            continue
        if whole_prefix:
            if end == len(old_tail) and prefix.startswith(old_tail):
                return t
        elif prefix.endswith(old_tail, 0, end):
            return t
    return 0
