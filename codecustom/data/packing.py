"""Sequence packing: concatenate tokenized documents and cut fixed-size blocks, no padding inside.

Every document already ends with eos, so blocks need no separators. Padding (``labels = -100``) only
ever ends a block — the split's last block, or a block closed early for a whole sequence — and a causal
model never attends to later positions, so no attention mask is needed.

Fill-in-the-middle documents are kept whole: cut across two blocks, the block holding ``<mid> middle``
no longer holds the ``<pre> prefix`` it continues, and a PSM-trained model learns to write middles
that ignore the prefix (our first shipped model did exactly that).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

from codecustom.data.tests_task import IGNORE_INDEX


def pack(sequences: Iterable[list[int]], block_size: int, pad_id: int, *, keep_tail: bool = True,
         min_tail: int = 2, whole: Sequence[bool] | None = None) -> list[dict[str, list[int]]]:
    """Pack token sequences into ``block_size`` blocks of ``input_ids`` and ``labels``.

    ``whole[i]`` true: sequence ``i`` (if it fits in a block) never straddles two blocks; it waits for a
    block with room while the other sequences keep flowing, and what still waits at the end starts a
    block of its own (the block before it padded).
    """
    if block_size < 2:
        raise ValueError("block_size must be at least 2")
    blocks: list[dict[str, list[int]]] = []
    buffer: list[int] = []
    waiting: deque[list[int]] = deque()

    def add(seq: list[int]) -> None:
        nonlocal buffer
        buffer.extend(seq)
        while len(buffer) >= block_size:
            chunk, buffer = buffer[:block_size], buffer[block_size:]
            blocks.append({"input_ids": chunk, "labels": list(chunk)})

    def close_padded() -> None:
        pad = block_size - len(buffer)
        blocks.append({"input_ids": buffer + [pad_id] * pad, "labels": buffer + [IGNORE_INDEX] * pad})
        buffer.clear()

    for i, seq in enumerate(sequences):
        if whole is not None and whole[i] and len(seq) <= block_size and len(seq) > block_size - len(buffer):
            waiting.append(seq)
            continue
        add(seq)
        while waiting and len(waiting[0]) <= block_size - len(buffer):
            add(waiting.popleft())
    for seq in waiting:
        if len(seq) > block_size - len(buffer):
            close_padded()
        add(seq)
    if keep_tail and len(buffer) >= min_tail:
        close_padded()
    return blocks
