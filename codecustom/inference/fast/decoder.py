"""Static-cache decoding with a captured CUDA graph per decode step.

Why: with ~100M-parameter models one decode step is a few hundred small kernels, and HF
``generate`` spends most of each step in Python (logits processors, cache bookkeeping, mask
building). Here everything a step needs lives in fixed device buffers — the HF ``StaticCache``, a
4-D additive attention mask, the position ids, the last token, the output buffer, the finished
flags and the sampling settings — and one step (forward + token choice + bookkeeping) is captured
once as a CUDA graph and replayed, so a step costs one ``graph.replay()`` on the host.

Where stop rules run: end-of-sequence is tracked on the device (finished rows emit padding from then
on); stop strings and text rules are checked on the host every ``check_every`` steps (one sync that
copies the tokens so far); cancellation (a ``threading.Event``) is checked on the host before every
step without a sync. On CPU (and whenever graph capture is unavailable) the very same step function
runs eagerly, which is what the tests compare token for token with HF ``generate``.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codecustom.inference.healing import strip_tail
from codecustom.inference.params import GenerationParams, earliest_stop

log = logging.getLogger(__name__)

_SUPPORTED_ATTN = ("sdpa", "eager")
_CACHE_BUCKET = 128  # cache lengths are rounded up to this so graphs are reused across prompt lengths


def fast_path_problem(model: Any, device: str, *, require_cuda: bool = False) -> str | None:
    """Why the fast decoder cannot run this model here (None: it can)."""
    config = getattr(model, "config", None)
    if config is None:
        return "the model has no config"
    if require_cuda and not str(device).startswith("cuda"):
        return "not on a CUDA device"
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder models use HF generate"
    peft_config = getattr(model, "active_peft_config", None)
    if peft_config is not None and getattr(peft_config, "is_prompt_learning", False):
        return "prefix/prompt tuning feeds its own past key values"
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    if not getattr(base, "_can_compile_fullgraph", False):
        return f"{type(base).__name__} does not support a static cache"
    impl = getattr(config, "_attn_implementation", None) or "eager"
    if impl not in _SUPPORTED_ATTN:
        return f"attention implementation '{impl}' takes no 4-D mask"
    try:
        from transformers import StaticCache  # noqa: F401
    except ImportError:
        return "this transformers version has no StaticCache"
    return None


@dataclass
class _State:
    """Fixed device buffers for one (batch, cache length, greedy/sampled) shape."""

    batch: int
    cache_len: int
    max_new: int
    greedy: bool
    cache: Any
    mask: Any  # [B, 1, 1, L] additive mask for decode steps
    tok: Any  # [B, 1] last token
    pos: Any  # [B, 1] position id of the last token
    slot: Any  # [1] cache slot the next token is written to
    step: Any  # [1] index in ``out`` of the next token
    out: Any  # [B, max_new] generated tokens
    finished: Any  # [B] bool: row emitted an end-of-sequence token
    temperature: Any  # [] float
    top_p: Any  # [] float
    graph: Any = None
    graph_failed: bool = False
    uses: int = field(default=0)


class FastDecoder:
    """Greedy or sampled batched decoding with a static KV cache (and CUDA graphs on CUDA).

    ``cuda_graphs``: None = on when the model is on CUDA. ``check_every``: how many steps between
    host-side checks of stop strings/rules and of all rows having finished. ``compile``: also run the
    step through ``torch.compile`` (inductor fuses the small kernels; the graph then replays those).
    """

    def __init__(self, model: Any, *, pad_id: int, eos_ids: list[int], cuda_graphs: bool | None = None,
                 check_every: int = 8, max_states: int = 4, compile: bool = False) -> None:
        import torch

        self.model = model
        self.pad_id = int(pad_id)
        self.eos_ids = list(eos_ids)
        self.device = next(model.parameters()).device
        self.dtype = next(model.parameters()).dtype
        self.cuda_graphs = (self.device.type == "cuda") if cuda_graphs is None else bool(cuda_graphs)
        self.check_every = max(1, int(check_every))
        self.max_states = max_states
        self._states: dict[tuple[int, int, int, bool], _State] = {}
        self._eos = torch.tensor(self.eos_ids or [-1], dtype=torch.long, device=self.device)
        self._min = torch.finfo(self.dtype).min
        forward = inspect.signature(model.forward).parameters
        self._keep_kwarg = "logits_to_keep" if "logits_to_keep" in forward else None
        self._config = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") \
            else model.config
        self.last_stats: dict[str, Any] = {}
        self._step_fn: Callable[[_State], None] = self._step
        self.compiled = False  # whether steps run through torch.compile
        if compile:
            try:
                self._step_fn = torch.compile(self._step, fullgraph=True)
                self.compiled = True
            except Exception as exc:  # no compiler toolchain, unsupported platform
                log.warning("torch.compile unavailable (%s: %s); using the eager step", type(exc).__name__, exc)

    # -- public -----------------------------------------------------------------------------------
    def generate(self, rows: list[list[int]], params: GenerationParams, *, cancel: threading.Event | None = None,
                 decode: Callable[[list[int]], str] | None = None, seed: int | None = None,
                 first_allowed: Any = None, tails: list[str] | None = None) -> list[list[int]]:
        """New token ids for each prompt row (without padding, cut after an end-of-sequence token).

        ``first_allowed`` (``[rows, vocab]`` bool) limits each row's first token (token healing); the
        row's ``tails`` text is then left out when stop rules look at the decoded text.
        """
        import torch

        if not rows:
            return []
        started = time.perf_counter()
        width = max(len(r) for r in rows)
        need = width + params.max_new_tokens
        cache_len = -(-need // _CACHE_BUCKET) * _CACHE_BUCKET
        state = self._state(len(rows), cache_len, params.max_new_tokens, params.greedy)
        check_text = decode is not None and (bool(params.stop) or params.stop_rule is not None)
        with torch.inference_mode(), torch.random.fork_rng(
                devices=[self.device] if self.device.type == "cuda" else [], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self._prefill(state, rows, width, params, first_allowed)
            stopped: set[int] = set()
            steps = 1
            while steps < params.max_new_tokens:
                if cancel is not None and cancel.is_set():
                    break
                if steps % self.check_every == 0 and self._all_done(state, steps, stopped, params, decode, check_text,
                                                                    tails):
                    break
                self._run_step(state)
                steps += 1
            out = state.out[:, :steps].tolist()
        rows_out = [_until_eos(r, self.eos_ids) for r in out]
        self.last_stats = {"steps": steps, "seconds": time.perf_counter() - started, "cache_len": cache_len,
                           "graph": state.graph is not None, "eos": [len(a) < len(r) for a, r in zip(rows_out, out)]}
        return rows_out

    # -- buffers ----------------------------------------------------------------------------------
    def _state(self, batch: int, cache_len: int, max_new: int, greedy: bool) -> _State:
        import torch
        from transformers import StaticCache

        max_new = max(max_new, 32)
        key = (batch, cache_len, max_new, greedy)
        # reuse a state whose output buffer is long enough
        for (b, length, m, g), st in self._states.items():
            if b == batch and length == cache_len and g == greedy and m >= max_new:
                return st
        if len(self._states) >= self.max_states:
            self._states.pop(next(iter(self._states)))
        dev = self.device
        cache = StaticCache(config=self._config, max_cache_len=cache_len)
        st = _State(
            batch=batch, cache_len=cache_len, max_new=max_new, greedy=greedy, cache=cache,
            mask=torch.full((batch, 1, 1, cache_len), self._min, dtype=self.dtype, device=dev),
            tok=torch.full((batch, 1), self.pad_id, dtype=torch.long, device=dev),
            pos=torch.zeros((batch, 1), dtype=torch.long, device=dev),
            slot=torch.zeros(1, dtype=torch.long, device=dev),
            step=torch.zeros(1, dtype=torch.long, device=dev),
            out=torch.full((batch, max_new), self.pad_id, dtype=torch.long, device=dev),
            finished=torch.zeros(batch, dtype=torch.bool, device=dev),
            temperature=torch.ones((), dtype=torch.float32, device=dev),
            top_p=torch.ones((), dtype=torch.float32, device=dev),
        )
        self._states[key] = st
        return st

    # -- decoding ---------------------------------------------------------------------------------
    def _forward(self, st: _State, input_ids: Any, mask: Any, position_ids: Any, keep_last: bool) -> Any:
        kwargs: dict[str, Any] = dict(input_ids=input_ids, attention_mask=mask, position_ids=position_ids,
                                      past_key_values=st.cache, use_cache=True)
        if keep_last and self._keep_kwarg:
            kwargs[self._keep_kwarg] = 1
        logits = self.model(**kwargs).logits
        return logits[:, -1, :]

    def _choose(self, st: _State, logits: Any) -> Any:
        """Next token per row: argmax, or a sample (temperature, nucleus) that needs no host sync."""
        import torch

        if st.greedy:
            nxt = torch.argmax(logits, dim=-1)
        else:
            scaled = logits.float() / st.temperature
            sorted_logits, order = torch.sort(scaled, dim=-1, descending=True)
            probs = torch.softmax(sorted_logits, dim=-1)
            beyond = (torch.cumsum(probs, dim=-1) - probs) > st.top_p  # keep the smallest set reaching top_p
            sorted_logits = sorted_logits.masked_fill(beyond, float("-inf"))
            probs = torch.softmax(sorted_logits, dim=-1)
            # exponential race == sampling from probs, with no data-dependent host work (graph-safe)
            noise = torch.empty_like(probs).exponential_(1.0)
            nxt = torch.gather(order, -1, torch.argmax(probs / noise, dim=-1, keepdim=True)).squeeze(-1)
        nxt = torch.where(st.finished, torch.full_like(nxt, self.pad_id), nxt)
        return nxt

    def _record(self, st: _State, nxt: Any) -> None:
        st.out.index_copy_(1, st.step, nxt[:, None])
        st.finished |= (nxt[:, None] == self._eos[None, :]).any(-1)
        st.tok.copy_(nxt[:, None])
        st.step += 1

    def _step(self, st: _State) -> None:
        """One decode step, entirely on device buffers (this is what gets captured)."""
        st.mask.index_fill_(3, st.slot, 0.0)  # the slot being written becomes visible
        st.pos += 1
        logits = self._forward(st, st.tok, st.mask, st.pos, keep_last=False)
        self._record(st, self._choose(st, logits))
        st.slot += 1

    def _prefill(self, st: _State, rows: list[list[int]], width: int, params: GenerationParams,
                 first_allowed: Any = None) -> None:
        import torch

        dev, batch, length = self.device, st.batch, st.cache_len
        st.cache.reset()
        ids = torch.tensor([[self.pad_id] * (width - len(r)) + r for r in rows], dtype=torch.long, device=dev)
        valid = torch.zeros((batch, length), dtype=torch.bool, device=dev)
        valid[:, :width] = torch.tensor([[False] * (width - len(r)) + [True] * len(r) for r in rows], device=dev)
        positions = (valid[:, :width].long().cumsum(-1) - 1).clamp(min=0)
        q = torch.arange(width, device=dev)[:, None]
        k = torch.arange(length, device=dev)[None, :]
        allowed = (k <= q)[None] & (valid[:, None, :] | (k == q)[None])  # a padding query sees itself only
        mask = torch.full((batch, 1, width, length), self._min, dtype=self.dtype, device=dev)
        mask.masked_fill_(allowed[:, None], 0.0)

        st.mask.fill_(self._min)
        st.mask.masked_fill_(valid[:, None, None, :], 0.0)
        st.finished.zero_()
        st.out.fill_(self.pad_id)
        st.step.zero_()
        st.temperature.fill_(params.temperature if params.temperature > 0 else 1.0)
        st.top_p.fill_(params.top_p)
        logits = self._forward(st, ids, mask, positions, keep_last=True)
        if first_allowed is not None:  # prefill runs eagerly, so this data-dependent mask stays out of the graph
            logits = logits.masked_fill(~first_allowed[:, : logits.shape[-1]], float("-inf"))
        self._record(st, self._choose(st, logits))
        st.pos.copy_(positions[:, -1:])
        st.slot.fill_(width)

    def _run_step(self, st: _State) -> None:
        if self.cuda_graphs and not st.graph_failed:
            if st.graph is None:
                self._capture(st)
            if st.graph is not None:
                st.graph.replay()
                return
        self._safe_step(st)

    def _safe_step(self, st: _State) -> None:
        """The (compiled) step; a compiled step that fails to build falls back to eager, once, logged."""
        if not self.compiled:
            self._step(st)
            return
        try:
            self._step_fn(st)
        except Exception as exc:  # compilation happens at the first call; state is untouched when it fails
            log.warning("torch.compile of the decode step failed (%s: %s); using the eager step",
                        type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
            self._step_fn, self.compiled = self._step, False
            self._step(st)

    def _capture(self, st: _State) -> None:
        """Capture ``_step`` as a CUDA graph, preserving the buffers' current contents."""
        import torch

        saved = [t.clone() for t in (st.mask, st.tok, st.pos, st.slot, st.step, st.out, st.finished)]
        cache_tensors = _cache_tensors(st.cache)
        cache_saved = [t.clone() for t in cache_tensors]
        try:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):  # warm up kernels, compilation and lazy allocations outside the capture
                    self._safe_step(st)
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                self._step_fn(st)
            st.graph = graph
        except Exception as exc:  # capture can fail on some model code paths: fall back, say so once
            st.graph_failed = True
            log.warning("CUDA graph capture failed (%s: %s); decoding eagerly with the static cache",
                        type(exc).__name__, exc)
        finally:
            for t, s in zip((st.mask, st.tok, st.pos, st.slot, st.step, st.out, st.finished), saved):
                t.copy_(s)
            for t, s in zip(cache_tensors, cache_saved):
                t.copy_(s)

    def _all_done(self, st: _State, steps: int, stopped: set[int], params: GenerationParams,
                  decode: Callable[[list[int]], str] | None, check_text: bool, tails: list[str] | None = None) -> bool:
        finished = st.finished.tolist()  # one host sync
        if check_text and decode is not None:
            tokens = st.out[:, :steps].tolist()
            for i, row in enumerate(tokens):
                if i not in stopped and not finished[i]:
                    text = strip_tail(decode(_until_eos(row, self.eos_ids)), tails[i] if tails else "")
                    if earliest_stop(text, params.stop, params.stop_rule) is not None:
                        stopped.add(i)
        return all(f or i in stopped for i, f in enumerate(finished))


def _cache_tensors(cache: Any) -> list[Any]:
    tensors = []
    for layer in getattr(cache, "layers", []):
        for name in ("keys", "values", "cumulative_length"):
            t = getattr(layer, name, None)
            if t is not None and hasattr(t, "clone"):
                tensors.append(t)
    return tensors


def _until_eos(row: list[int], eos_ids: list[int]) -> list[int]:
    for i, t in enumerate(row):
        if t in eos_ids:
            return row[:i]
    return row
