"""Post-filters: single line, end of block, suffix repeats, indentation style, trailing whitespace."""

from __future__ import annotations

from codecustom.inference.gating import analyze
from codecustom.inference.postfilter import drop_suffix_repeats, match_indentation, postprocess


def test_single_line_keeps_the_first_line_and_drops_repeated_closers():
    ctx = analyze("total = add(", ")\n", "python")
    assert postprocess("a, b)\nprint(total)", ctx, ")\n") == "a, b"


def test_multiline_stops_at_block_end_and_trims():
    prefix = "class A:\n    def f(self):"
    ctx = analyze(prefix, "\n", "python")
    raw = "\n        x = 1   \n        return x\n    def g(self):\n        pass\n"
    assert postprocess(raw, ctx, "\n") == "\n        x = 1\n        return x"


def test_drop_lines_that_repeat_the_suffix():
    prefix = "def f(x):\n    "
    suffix = "\n    return y\n\nprint(f(1))\n"
    ctx = analyze("def f(x):", "\n    return y\n", "python")
    raw = "\n    y = x * 2\n    return y\n"
    assert drop_suffix_repeats(raw, ctx, "\n    return y\n") == "\n    y = x * 2"
    ctx2 = analyze(prefix, suffix, "python")
    assert ctx2.multiline is False
    assert drop_suffix_repeats("y = x", ctx2, suffix) == "y = x"


def test_short_punctuation_lines_need_two_matching_lines():
    ctx = analyze("void f() {", "\n}\n\nvoid g() {\n", "java")
    raw = "\n  if (a) {\n    b();\n  }\n  c();"
    # a lone "}" equal to the suffix's next line is not enough to call it a repeat
    assert drop_suffix_repeats(raw, ctx, "\n}\n\nvoid g() {\n") == raw


def test_match_indentation_converts_tabs_in_a_spaces_file():
    ctx = analyze("def f():\n    a = 1\n    if a:", "\n", "python")
    assert match_indentation("\n\t\treturn a", ctx, "\n") == "\n        return a"
    tab_ctx = analyze("func f() {\n\ta := 1\n\tif a {", "\n}\n", "go")
    assert match_indentation("\n        return", tab_ctx, "") == "\n\t\treturn"


def test_brace_block_end_in_postprocess():
    ctx = analyze("class A {\n  int f() {", "\n  }\n}\n", "java")
    raw = "\n    return 1;\n  }\n  int g() {\n    return 2;\n  }"
    assert postprocess(raw, ctx, "\n  }\n}\n") == "\n    return 1;"
