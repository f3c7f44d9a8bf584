"""The engines the language server, ``complete`` and ``evaluate`` call: code completion and test generation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from codecustom.inference.gating import CursorContext, analyze
from codecustom.inference.languages import LanguageSpec, get_language
from codecustom.inference.params import STOP_EOS, STOP_LENGTH, Backend, Generation, GenerationParams
from codecustom.inference.repair import close_cut_test
from codecustom.inference.postfilter import FILTERS, PostFilter, block_stop_rule, postprocess
from codecustom.inference.prompting import build_fim_prompt, fim_format, is_tokenizer, token_counter
from codecustom.inference.stopping import AnyOf, DefinitionEnd, RepetitionLoop, StopRule, TestEnd


@dataclass
class Completion:
    """One completion at a cursor.

    ``text`` is what to insert (empty when gated, cancelled or nothing useful came back);
    ``stop_reason`` is ``"done"``, ``"cancelled"`` or ``"gated: <why>"``.
    """

    text: str
    multiline: bool
    stop_reason: str
    raw: str = ""
    prompt_tokens: int = 0
    latency_s: float = 0.0
    context: CursorContext | None = field(default=None, repr=False)

    @property
    def empty(self) -> bool:
        return not self.text.strip()


class CompletionEngine:
    """Code completion between a prefix and a suffix, as Tabby/llm-ls do it.

    A FIM prompt is built under ``max_prompt_tokens`` (prefix cut from the left, suffix from the
    right, on line boundaries); the cursor is gated (no completion mid-identifier) and classified
    single- or multi-line; decoding stops on the fly at the first newline or the end of the block;
    post-filters clean the result. ``tokenizer_or_fim`` is the model's tokenizer (best: exact token
    budgets) or a FIM formatter with a ``prompt(prefix, suffix)`` method. With ``token_healing`` the
    backend may re-choose the prompt's last token (a cursor inside a word; SPM prompts end with the
    prefix), see ``codecustom.inference.healing``; backends that cannot heal ignore it.
    """

    def __init__(self, backend: Backend, tokenizer_or_fim: Any, *, max_prompt_tokens: int = 1024,
                 max_new_tokens: int = 48, multiline_max_new_tokens: int = 128, suffix_share: float = 0.25,
                 temperature: float = 0.0, filters: Sequence[PostFilter] = FILTERS, fim_mode: str | None = None,
                 token_healing: bool = True) -> None:
        self.backend = backend
        self.fim = fim_format(tokenizer_or_fim)
        # PSM unless the model says otherwise (tokenizer_config.json "fim_mode"; the shipped model prefers SPM)
        self.fim_mode = fim_mode or getattr(tokenizer_or_fim, "init_kwargs", {}).get("fim_mode") or "psm"
        self.count = token_counter(tokenizer_or_fim if is_tokenizer(tokenizer_or_fim) else None)
        self.max_prompt_tokens = max_prompt_tokens
        self.max_new_tokens = max_new_tokens
        self.multiline_max_new_tokens = multiline_max_new_tokens
        self.suffix_share = suffix_share
        self.temperature = temperature
        self.filters = tuple(filters)
        self.token_healing = token_healing

    def complete(self, prefix: str, suffix: str, *, language: str | LanguageSpec | None,
                 max_new_tokens: int | None = None, multiline: bool | None = None,
                 cancel: threading.Event | None = None, max_prompt_tokens: int | None = None) -> Completion:
        """The completion to insert at the cursor between ``prefix`` and ``suffix``."""
        started = time.perf_counter()
        ctx = analyze(prefix, suffix, language)
        if not ctx.should_complete and multiline is None:
            return Completion("", False, f"gated: {ctx.reason}", context=ctx)
        if multiline is not None and multiline != ctx.multiline:
            ctx = _with_multiline(ctx, multiline, prefix)
        prompt = build_fim_prompt(prefix, suffix, self.fim, self.count, max_prompt_tokens or self.max_prompt_tokens,
                                  suffix_share=self.suffix_share, mode=self.fim_mode)
        limit = max_new_tokens or (self.multiline_max_new_tokens if ctx.multiline else self.max_new_tokens)
        stop = ctx.language.stop if ctx.multiline else ()
        params = GenerationParams(max_new_tokens=limit, temperature=self.temperature, stop=stop,
                                  stop_rule=block_stop_rule(ctx, ctx.multiline), add_special_tokens=False,
                                  token_healing=self.token_healing)
        if cancel is not None and cancel.is_set():
            return Completion("", ctx.multiline, "cancelled", context=ctx)
        raw = self.backend.generate([prompt.text], params, cancel)[0][0]
        elapsed = time.perf_counter() - started
        if cancel is not None and cancel.is_set():
            return Completion("", ctx.multiline, "cancelled", raw=raw, latency_s=elapsed, context=ctx)
        text = postprocess(raw, ctx, suffix, self.filters)
        return Completion(text, ctx.multiline, "done", raw=raw,
                          prompt_tokens=prompt.prefix_tokens + prompt.suffix_tokens,
                          latency_s=time.perf_counter() - started, context=ctx)


def _with_multiline(ctx: CursorContext, multiline: bool, prefix: str) -> CursorContext:
    """``ctx`` forced to single- or multi-line by the caller; a block indent is inferred if missing."""
    from dataclasses import replace

    from codecustom.inference.stopping import indent_width

    block_indent = ctx.block_indent
    if multiline and block_indent < 0:
        block_indent = max(indent_width(ctx.line_prefix) - len(ctx.indent_unit.replace("\t", "    ")), -1) \
            if ctx.line_prefix.strip() == "" else indent_width(ctx.line_prefix)
    return replace(ctx, multiline=multiline, should_complete=True, block_indent=block_indent)


DEFAULT_TEST_TOKENS = 256  # longest generated test for a base model (an artifact's own budget otherwise)


class TestGenEngine:
    """Unit-test generation from a focal context, in the prompt format customization trained with.

    With a tokenizer (taken from an in-process backend when not given), a context too long for
    ``max_prompt_tokens`` is shortened the way training shortened it (``fit_test_prompt``: whole lines
    kept from the start, where the class and the focal method are).
    """

    __test__ = False  # not a pytest test class

    def __init__(self, backend: Backend, *, tokenizer: Any = None, max_prompt_tokens: int | None = None,
                 max_new_tokens: int = 256, top_p: float = 0.95, seed: int | None = 0,
                 stop_rule: Callable[[str], StopRule] | None = None) -> None:
        self.backend = backend
        self.stop_rule = stop_rule or test_stop_rule  # language -> where a generated test ends
        self.tokenizer = tokenizer if tokenizer is not None else getattr(backend, "tokenizer", None)
        self.max_new_tokens = max_new_tokens
        self.top_p = top_p
        self.seed = seed
        self.max_prompt_tokens = max_prompt_tokens
        if max_prompt_tokens is None and hasattr(getattr(backend, "model", None), "config"):  # in-process
            from codecustom.inference.backends.in_process import model_max_positions

            positions = model_max_positions(backend.model, self.tokenizer)
            if positions is not None:
                seq2seq = bool(getattr(backend, "is_seq2seq", False))
                self.max_prompt_tokens = positions if seq2seq else max(16, positions - max_new_tokens)

    @classmethod
    def for_model(cls, loaded: Any, backend: Backend | None = None, *, max_new_tokens: int | None = None,
                  **kwargs: Any) -> TestGenEngine:
        """The engine for a loaded base or artifact, with the prompt budget it was trained with.

        A customized model gets exactly the prompt share and test length of its training
        (``TestBudget`` of its recorded task settings); a base model gets the rest of its positions after
        ``max_new_tokens`` (default 256) for the prompt. ``max_new_tokens`` never exceeds half the positions.
        """
        from codecustom.data.tests_task import TestBudget
        from codecustom.inference.backends.in_process import InProcessBackend, model_max_positions

        backend = backend if backend is not None else InProcessBackend(loaded)
        saved = ((getattr(loaded, "extra", None) or {}).get("manifest") or {}).get("task_config") or {}
        positions = model_max_positions(loaded.model, loaded.tokenizer)
        prompt_tokens = None
        if saved.get("max_length"):
            budget = TestBudget.of(int(saved["max_length"]), saved.get("max_target_length"),
                                   is_seq2seq=bool(loaded.is_seq2seq))
            prompt_tokens, wanted = budget.prompt, max_new_tokens or budget.target
        else:
            wanted = max_new_tokens or DEFAULT_TEST_TOKENS
        if positions is not None:
            wanted = max(16, min(wanted, positions // 2))
        return cls(backend, tokenizer=loaded.tokenizer, max_prompt_tokens=prompt_tokens, max_new_tokens=wanted,
                   **kwargs)

    def prompt(self, context: str, language: str) -> str:
        """The prompt for ``context`` exactly as customization formatted it (shortened to fit if needed)."""
        from codecustom.data.tests_task import build_test_prompt, fit_test_prompt

        if self.tokenizer is not None and self.max_prompt_tokens:
            return fit_test_prompt(self.tokenizer, context, language, self.max_prompt_tokens)
        return build_test_prompt(context, language)

    def prompt_ids(self, context: str, language: str) -> list[int]:
        """The token ids the model is fed for ``context`` (the prompt with the tokenizer's usual special tokens)."""
        if self.tokenizer is None:
            raise ValueError("prompt_ids needs a tokenizer")
        return self.tokenizer(self.prompt(context, language))["input_ids"]

    def generate(self, context: str, *, language: str, n: int = 1, temperature: float = 0.0,
                 cancel: threading.Event | None = None) -> list[str]:
        """``n`` candidate tests for the focal ``context`` (greedy when ``temperature`` is 0)."""
        return self.generate_batch([context], language=language, n=n, temperature=temperature, cancel=cancel)[0]

    def generate_batch(self, contexts: Sequence[str], *, language: str, n: int = 1, temperature: float = 0.0,
                       cancel: threading.Event | None = None) -> list[list[str]]:
        """``n`` candidates for each context, decoded in batches (what ``evaluate`` uses)."""
        prompts = [self.prompt(c, language) for c in contexts]
        params = GenerationParams(max_new_tokens=self.max_new_tokens, temperature=temperature,
                                  top_p=self.top_p if temperature > 0 else 1.0, num_samples=n, seed=self.seed,
                                  stop_rule=self.stop_rule(language), loop_guard=True)
        outputs = self.backend.generate(prompts, params, cancel)
        spec = get_language(language)
        return [[_clean_test(t, spec) for t in samples] for samples in outputs]


def test_stop_rule(language: str) -> AnyOf:
    """Where a generated test ends: its definition closes (tree-sitter), or decoding fell into a loop."""
    spec = get_language(language)
    fallback = DefinitionEnd(spec.blocks, spec.line_comment)
    return AnyOf((TestEnd(spec.parser(), spec.definition_nodes, fallback), RepetitionLoop()))


def _clean_test(text: str, spec: LanguageSpec) -> Generation:
    """Trailing spaces and blank edge lines off; a test cut by a loop or the token limit ends where code can."""
    reason = getattr(text, "stop_reason", STOP_EOS)
    lines = [ln.rstrip() for ln in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    code = "\n".join(lines)
    if reason in CUT_REASONS:
        code = close_cut_test(code, spec)
    return Generation(code, reason)


CUT_REASONS = (STOP_LENGTH, RepetitionLoop.reason)  # decoding was stopped before the test was over
