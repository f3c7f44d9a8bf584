"""The in-line loop guard: a span may repeat a few times in a row, never indefinitely."""

from __future__ import annotations

from codecustom.inference.loopguard import banned_next, current_line


def test_a_span_repeated_three_times_cannot_start_a_fourth_copy():
    assert banned_next([5, 1, 2, 1, 2, 1, 2]) == {1}
    assert banned_next([5, 1, 2, 1, 2]) == set()  # two copies are fine


def test_single_tokens_may_repeat_five_times():
    assert banned_next([9, 9, 9, 9]) == set()
    assert 9 in banned_next([9, 9, 9, 9, 9])


def test_the_current_line_starts_after_the_last_newline_token():
    assert current_line([1, 2, 10, 3, 4], frozenset({10})) == [3, 4]
    assert current_line([1, 2], frozenset({10})) == [1, 2]


def test_the_guard_keeps_a_real_model_out_of_an_inline_loop(loaded):
    """A random tiny Llama decoding greedily writes one token over and over; guarded, a run stops at 5 copies."""
    from codecustom.inference.backends.in_process import InProcessBackend
    from codecustom.inference.params import GenerationParams

    backend = InProcessBackend(loaded("llama"), fast=False)
    free = backend.generate(["x"], GenerationParams(max_new_tokens=24))[0][0]
    guarded = backend.generate(["x"], GenerationParams(max_new_tokens=24, loop_guard=True))[0][0]
    assert free == "x" * 24  # the loop this guards against
    assert guarded.startswith("x" * 5) and not guarded.startswith("x" * 6)
