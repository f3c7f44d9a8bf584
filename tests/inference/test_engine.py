"""The engines end to end with a real model that memorized a few completions and one unit test."""

from __future__ import annotations

import threading

import pytest

from codecustom.inference import CompletionEngine, InProcessBackend, TestGenEngine
from codecustom.inference.params import GenerationParams
from tests.inference.memorized import CASES, EXPECTED, EXPECTED_TEST, FOCAL


@pytest.fixture(scope="module")
def model(memorized_model):
    return memorized_model


@pytest.fixture(scope="module")
def engine(model):
    return CompletionEngine(InProcessBackend(model), model.tokenizer)


def test_single_line_completion(engine):
    pre, suf, _ = CASES["single"]
    c = engine.complete(pre, suf, language="python")
    assert (c.text, c.multiline, c.stop_reason) == (EXPECTED["single"], False, "done")
    assert c.prompt_tokens > 0 and c.latency_s > 0


def test_multiline_block_stops_at_dedent(engine):
    pre, suf, _ = CASES["block"]
    c = engine.complete(pre, suf, language="python")
    assert c.multiline and c.text == "\n    return width * height"
    assert "volume" not in c.raw  # the stop rule ended decoding on the fly, not only the post-filter


def test_lines_repeating_the_suffix_are_dropped(engine):
    pre, suf, _ = CASES["repeat"]
    assert engine.complete(pre, suf, language="python").text == "\n    y = x * k"


def test_java_block_stops_at_the_closing_brace(engine):
    pre, suf, _ = CASES["java"]
    c = engine.complete(pre, suf, language="java")
    assert c.multiline and c.text == "\n    return this.n;"


def test_forcing_single_line(engine):
    pre, suf, _ = CASES["block"]
    c = engine.complete(pre, suf, language="python", multiline=False)
    assert c.text == "" and not c.multiline  # the learned completion starts with a newline


def test_gated_mid_identifier(engine):
    c = engine.complete("def are", "a(width, height):\n", language="python")
    assert c.text == "" and c.stop_reason == "gated: mid-identifier"


def test_cancelled_request_returns_nothing(engine):
    pre, suf, _ = CASES["single"]
    event = threading.Event()
    event.set()
    c = engine.complete(pre, suf, language="python", cancel=event)
    assert c.text == "" and c.stop_reason == "cancelled"


def test_tiny_budget_still_completes_the_cursor_line(model):
    engine = CompletionEngine(InProcessBackend(model), model.tokenizer, max_prompt_tokens=16)
    pre, suf, _ = CASES["single"]
    c = engine.complete(pre, suf, language="python")
    assert c.prompt_tokens <= 16
    assert c.stop_reason == "done"


def test_fast_path_gives_the_same_completions(model):
    fast = CompletionEngine(InProcessBackend(model, fast=True), model.tokenizer)
    for name, lang in (("single", "python"), ("block", "python"), ("java", "java")):
        pre, suf, _ = CASES[name]
        assert fast.complete(pre, suf, language=lang).text == \
            CompletionEngine(InProcessBackend(model, fast=False), model.tokenizer).complete(pre, suf, language=lang).text


def test_test_generation_returns_the_first_complete_test(model):
    tests = TestGenEngine(InProcessBackend(model)).generate(FOCAL, language="python")
    assert tests == [EXPECTED_TEST]


def test_test_generation_samples_and_batches(model):
    engine = TestGenEngine(InProcessBackend(model, batch_size=4))
    out = engine.generate_batch([FOCAL, FOCAL], language="python", n=3, temperature=0.8)
    assert [len(x) for x in out] == [3, 3]
    assert all(isinstance(t, str) for x in out for t in x)


def test_generation_params_are_what_engines_send(model):
    seen: list[GenerationParams] = []

    class Recording(InProcessBackend):
        def generate(self, prompts, params, cancel=None):
            seen.append(params)
            return super().generate(prompts, params, cancel)

    engine = CompletionEngine(Recording(model), model.tokenizer, max_new_tokens=7, multiline_max_new_tokens=33)
    engine.complete(*CASES["single"][:2], language="python")
    engine.complete(*CASES["block"][:2], language="python")
    assert [p.max_new_tokens for p in seen] == [7, 33]
    assert seen[0].add_special_tokens is False and seen[1].stop  # FIM prompts as trained; block stop strings


def test_generated_tests_say_why_they_ended(model):
    """The memorized test ends where its function closes; a budget too small ends at the token limit."""
    ended = TestGenEngine(InProcessBackend(model, fast=False)).generate(FOCAL, language="python")[0]
    assert ended == EXPECTED_TEST and ended.stop_reason == "end of test"
    short = TestGenEngine(InProcessBackend(model, fast=False), max_new_tokens=6).generate(FOCAL, language="python")[0]
    assert short.stop_reason == "length"


def test_a_test_cut_by_the_token_limit_is_trimmed_to_a_prefix_that_parses():
    from codecustom.evaluation.syntax import is_valid_snippet
    from codecustom.inference.engine import _clean_test
    from codecustom.inference.languages import get_language
    from codecustom.inference.params import Generation

    cut = Generation("def test_a():\n    x = f(1)\n    assert x == [1, 2,", "length")
    fixed = _clean_test(cut, get_language("python"))
    assert fixed == "def test_a():\n    x = f(1)" and fixed.stop_reason == "length" and is_valid_snippet(fixed, "python")
    java = Generation("@Test\npublic void t() {\n  if (x) {\n    a();\n  }\n  assertEquals(1, f(", "loop")
    closed = _clean_test(java, get_language("java"))
    assert is_valid_snippet(closed, "java") and closed.startswith("@Test\npublic void t() {\n  if (x) {")
    done = Generation("def test_a():\n    assert f(", "eos")  # a test that ended on its own is left as written
    assert _clean_test(done, get_language("python")) == "def test_a():\n    assert f("


def test_for_model_uses_the_budget_an_artifact_was_trained_with(model):
    from types import SimpleNamespace

    from codecustom.data.tests_task import TestBudget

    artifact = SimpleNamespace(model=model.model, tokenizer=model.tokenizer, is_seq2seq=False,
                               extra={"manifest": {"task_config": {"max_length": 384, "max_target_length": 96}}})
    engine = TestGenEngine.for_model(artifact, InProcessBackend(model))
    assert (engine.max_prompt_tokens, engine.max_new_tokens) == (TestBudget.of(384, 96).prompt, 96) == (288, 96)
    base = TestGenEngine.for_model(model, InProcessBackend(model))
    assert base.max_new_tokens == 256 and base.max_prompt_tokens == 512 - 256
