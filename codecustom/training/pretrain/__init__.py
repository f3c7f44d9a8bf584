"""``codecustom pretrain``: a code model from scratch on permissively licensed local code.

Stages, one module each: :mod:`.sources`/:mod:`.licenses` (what may be used), :mod:`.filters`/
:mod:`.dedupe`/:mod:`.corpus` (what is kept), :mod:`.task` (mined test pairs), :mod:`.examples`
(LM/FIM/test-task examples, packing), :mod:`.sizes` (model shapes), :mod:`.trainer` (HF Trainer run),
:mod:`.card` (model card), :mod:`.run` (the whole recipe).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PretrainOptions", "pretrain"]


def __getattr__(name: str) -> Any:  # keep `import codecustom.training.pretrain.sizes` (CLI --help) light
    if name in __all__:
        from codecustom.training.pretrain import run

        return getattr(run, name)
    raise AttributeError(name)
