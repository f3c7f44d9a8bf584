"""The default backend: generate with the model in this process (HF ``generate``, or the fast path).

Batched (left padding for causal models, the encoder input for seq2seq), greedy or sampled with a
seed, ``num_samples`` per prompt. Stop strings, the stop rule and cancellation are checked after
every decoding step by a ``StoppingCriteria``, so generation ends as soon as a block is over or the
caller's ``threading.Event`` is set.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from codecustom.errors import UsageError
from codecustom.inference.healing import TokenHealer, strip_tail
from codecustom.inference.params import STOP_CANCELLED, Generation, GenerationParams, earliest_stop

log = logging.getLogger(__name__)


def model_max_positions(model: Any, tokenizer: Any = None) -> int | None:
    """The longest input the model was built for, when its config says (None: no fixed limit)."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else None


class InProcessBackend:
    """Generation with a :class:`~codecustom.modeling.loading.LoadedModel` held in this process.

    ``batch_size`` counts sequences decoded together (prompts x samples). ``fast`` selects the
    static-cache decoder (``codecustom.inference.fast``): ``"auto"`` uses it on CUDA for models it
    supports, ``True`` wherever it is supported (CPU included), ``False`` never.
    """

    name = "in-process"

    def __init__(self, loaded: Any, *, batch_size: int = 8, fast: bool | str = "auto",
                 max_input_tokens: int | None = None) -> None:
        if batch_size < 1:
            raise UsageError(f"batch_size must be at least 1, got {batch_size}")
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.is_seq2seq = bool(loaded.is_seq2seq)
        self.device = str(getattr(loaded, "device", "cpu"))
        self.batch_size = batch_size
        self.max_input_tokens = max_input_tokens
        self._lock = threading.Lock()  # one decode at a time on a shared model
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self.eos_ids = _eos_ids(self.model, self.tokenizer)
        self._healer: TokenHealer | None = None
        self.fast = None
        if fast and not self.is_seq2seq:
            from codecustom.inference.fast import FastDecoder, fast_path_problem

            problem = fast_path_problem(self.model, self.device, require_cuda=fast == "auto")
            if problem is None:
                self.fast = FastDecoder(self.model, pad_id=self.pad_id, eos_ids=self.eos_ids)
            elif fast is True:
                log.warning("fast decoding unavailable (%s); using HF generate", problem)
            else:
                log.debug("fast decoding not used: %s", problem)

    # -- public -----------------------------------------------------------------------------------
    def generate(self, prompts: list[str], params: GenerationParams,
                 cancel: threading.Event | None = None) -> list[list[Generation]]:
        """``params.num_samples`` continuations for each prompt (empty strings once cancelled), each a
        :class:`~codecustom.inference.params.Generation` that says why it ended."""
        if isinstance(prompts, str):
            raise UsageError("generate() takes a list of prompts, not a single string")
        results: list[list[Generation]] = []
        samples = 1 if params.greedy else params.num_samples  # greedy samples are all the same
        per_batch = max(1, self.batch_size // samples)
        with self._lock:
            for start in range(0, len(prompts), per_batch):
                chunk = prompts[start:start + per_batch]
                if cancel is not None and cancel.is_set():
                    results.extend([[Generation("", STOP_CANCELLED)] * params.num_samples for _ in chunk])
                    continue
                texts = self._generate_batch(chunk, params, samples, cancel, seed_offset=start)
                if cancel is not None and cancel.is_set():
                    texts = [Generation(t, STOP_CANCELLED) for t in texts]
                for i in range(len(chunk)):
                    got = texts[i * samples:(i + 1) * samples]
                    results.append(got * params.num_samples if samples == 1 else got)
        return results

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in a prompt."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # -- internals --------------------------------------------------------------------------------
    def _input_limit(self, params: GenerationParams) -> int | None:
        limit = self.max_input_tokens
        positions = model_max_positions(self.model, self.tokenizer)
        if positions is not None:
            room = positions if self.is_seq2seq else positions - params.max_new_tokens
            if room < 1:
                raise UsageError(f"max_new_tokens={params.max_new_tokens} leaves no room for a prompt in this "
                                 f"model's {positions} positions")
            limit = room if limit is None else min(limit, room)
        return limit

    def _encode(self, prompts: list[str], params: GenerationParams) -> list[list[int]]:
        ids = self.tokenizer(list(prompts), add_special_tokens=params.add_special_tokens)["input_ids"]
        limit = self._input_limit(params)
        if limit is not None:
            ids = [x[-limit:] if len(x) > limit else x for x in ids]  # keep the end: that is what gets continued
        return [x if x else [self.pad_id] for x in ids]

    def _generate_batch(self, prompts: list[str], params: GenerationParams, samples: int,
                        cancel: threading.Event | None, seed_offset: int) -> list[Generation]:
        import torch

        ids = self._encode(prompts, params)
        tails = [""] * len(ids)
        if params.token_healing and not self.is_seq2seq:
            healed = [self.healer.heal(x) for x in ids]
            ids, tails = [h.ids for h in healed], [h.tail for h in healed]
        row_tails = [t for t in tails for _ in range(samples)]
        first_allowed = None
        if any(tails):
            vocab = self.model.get_output_embeddings().weight.shape[0]
            first_allowed = self.healer.first_token_mask(row_tails, vocab, device=self.model.device)

        if self.fast is not None and not params.loop_guard:  # the guard is a host-side logits processor
            rows = [x for x in ids for _ in range(samples)]
            out = self.fast.generate(rows, params, cancel=cancel, decode=self._decode, seed=_seed(params, seed_offset),
                                     first_allowed=first_allowed, tails=row_tails)
            ended = self.fast.last_stats.get("eos") or [False] * len(out)
            return [params.finish(strip_tail(self._decode(t), tail), eos=eos, tokens=len(t))
                    for t, tail, eos in zip(out, row_tails, ended)]

        width = max(len(x) for x in ids)
        if self.is_seq2seq:  # encoder input: right padding
            input_ids = [x + [self.pad_id] * (width - len(x)) for x in ids]
            mask = [[1] * len(x) + [0] * (width - len(x)) for x in ids]
        else:  # causal: left padding so every row continues from its last token
            input_ids = [[self.pad_id] * (width - len(x)) + x for x in ids]
            mask = [[0] * (width - len(x)) + [1] * len(x) for x in ids]
        device = self.model.device
        input_t = torch.tensor(input_ids, dtype=torch.long, device=device)
        mask_t = torch.tensor(mask, dtype=torch.long, device=device)
        start = 1 if self.is_seq2seq else width  # seq2seq decoder ids begin with the start token
        criteria = _stopping_criteria(self._decode, start, params, cancel, row_tails)
        kwargs: dict[str, Any] = dict(
            input_ids=input_t, attention_mask=mask_t, max_new_tokens=params.max_new_tokens,
            num_return_sequences=samples, pad_token_id=self.pad_id, eos_token_id=self.eos_ids,
            stopping_criteria=criteria,
        )
        processors = []
        if first_allowed is not None:
            processors.append(_first_token_constraint(first_allowed, start))
        if params.loop_guard:
            from codecustom.inference.loopguard import LineLoopGuard

            processors.append(LineLoopGuard(self.tokenizer, start))
        if processors:
            from transformers import LogitsProcessorList

            kwargs["logits_processor"] = LogitsProcessorList(processors)
        if params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p, top_k=None)
        seed = _seed(params, seed_offset)
        devices = [device] if device.type == "cuda" else []
        with torch.inference_mode(), torch.random.fork_rng(devices=devices, enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            out = self.model.generate(**kwargs)
        results = []
        for row, tail in zip(out[:, start:].tolist(), row_tails):
            new, eos = _until_eos(row, self.eos_ids)
            results.append(params.finish(strip_tail(self._decode(new), tail), eos=eos, tokens=len(new)))
        return results

    @property
    def healer(self) -> TokenHealer:
        """Token healing for this model's tokenizer (built on first use)."""
        if self._healer is None:
            self._healer = TokenHealer(self.tokenizer)
        return self._healer

    def _decode(self, ids: Any) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def _seed(params: GenerationParams, offset: int) -> int | None:
    if params.greedy:
        return None
    return None if params.seed is None else params.seed + offset


def _until_eos(row: list[int], eos_ids: list[int]) -> tuple[list[int], bool]:
    """The new tokens of ``row`` before its first end-of-sequence token, and whether there was one."""
    for i, t in enumerate(row):
        if t in eos_ids:
            return row[:i], True
    return row, False


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    config_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    for value in (config_eos, tokenizer.eos_token_id):
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, int) and v not in ids:
                ids.append(v)
    return ids


def _first_token_constraint(allowed: Any, start: int) -> Any:
    """A logits processor that limits each row's first new token to ``allowed[row]`` (token healing)."""
    import torch
    from transformers import LogitsProcessor

    class FirstTokenConstraint(LogitsProcessor):
        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            if input_ids.shape[1] != start:
                return scores
            mask = allowed[:, : scores.shape[-1]]
            return scores.masked_fill(~mask, float("-inf"))

    return FirstTokenConstraint()


def _stopping_criteria(decode: Any, start: int, params: GenerationParams, cancel: threading.Event | None,
                       tails: list[str] | None = None) -> Any:
    """A StoppingCriteriaList that ends rows whose text hit a stop, and every row once ``cancel`` is set."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    check_text = bool(params.stop) or params.stop_rule is not None

    class TextAndCancelStop(StoppingCriteria):
        def __init__(self) -> None:
            self.done: set[int] = set()

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            batch = input_ids.shape[0]
            if cancel is not None and cancel.is_set():
                return torch.ones(batch, dtype=torch.bool, device=input_ids.device)
            if check_text:
                rows = input_ids[:, start:].tolist()
                for i, row in enumerate(rows):
                    text = strip_tail(decode(row), tails[i]) if tails else decode(row)
                    if i not in self.done and earliest_stop(text, params.stop, params.stop_rule) is not None:
                        self.done.add(i)
            flags = [i in self.done for i in range(batch)]
            return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([TextAndCancelStop()])
