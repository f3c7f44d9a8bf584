"""Sequence packing: concatenate tokenized documents and cut fixed-size blocks, no padding inside.

Every document already ends with eos, so blocks need no separators. Only the final block of a split
can be short; it is padded at the end with ``labels = -100``, which a causal model never attends to
from earlier positions, so no attention mask is needed.
"""

from __future__ import annotations

from collections.abc import Iterable

from codecustom.data.tests_task import IGNORE_INDEX


def pack(sequences: Iterable[list[int]], block_size: int, pad_id: int, *, keep_tail: bool = True,
         min_tail: int = 2) -> list[dict[str, list[int]]]:
    """Pack token sequences into ``block_size`` blocks of ``input_ids`` and ``labels``."""
    if block_size < 2:
        raise ValueError("block_size must be at least 2")
    blocks: list[dict[str, list[int]]] = []
    buffer: list[int] = []
    for seq in sequences:
        buffer.extend(seq)
        while len(buffer) >= block_size:
            chunk, buffer = buffer[:block_size], buffer[block_size:]
            blocks.append({"input_ids": chunk, "labels": list(chunk)})
    if keep_tail and len(buffer) >= min_tail:
        pad = block_size - len(buffer)
        blocks.append({"input_ids": buffer + [pad_id] * pad, "labels": buffer + [IGNORE_INDEX] * pad})
    return blocks
