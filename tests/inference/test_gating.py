"""Gating: where to complete, and whether one line or a block (tree-sitter backed where possible)."""

from __future__ import annotations

import pytest

from codecustom.inference.gating import analyze, detect_indent_unit
from codecustom.inference.languages import get_language, language_for_path


@pytest.mark.parametrize(("prefix", "suffix", "language", "ok", "multi"), [
    ("def f(x):", "\n", "python", True, True),  # after a block opener
    ("def f(x):\n    ", "\n", "python", True, True),  # empty line in an empty body
    ("def f(x):\n    ", "\n\ndef g():\n    pass\n", "python", True, True),
    ("def f(x):\n    y = 1\n    ", "\n    return y\n", "python", True, False),  # non-empty block
    ("x = foo(", ")\n", "python", True, False),  # only closers after the cursor
    ("x = fo", "o(1)\n", "python", False, False),  # mid-identifier
    ("x = foo(", "a, b)\n", "python", False, False),  # an identifier right after the cursor
    ("x = 1  ", " + y\n", "python", False, False),  # code after the cursor
    ("# a comment:", "\n", "python", True, False),  # a colon in a comment opens nothing
    ("class A {\n  void f() {\n    ", "\n  }\n}\n", "java", True, True),
    ("class A {\n  void f() {\n    int x = 1;\n    ", "\n  }\n}\n", "java", True, False),
    ("class A {\n  void f() {", "\n  }\n}\n", "java", True, True),
    ("function f() {\n  ", "\n}\n", "javascript", True, True),
    ("function f() {\n  g();\n  ", "\n}\n", "javascriptreact", True, False),
    ("func f() int {\n\t", "\n}\n", "go", True, True),
    ("func f() int {\n\tx := 1\n\t", "\n}\n", "go", True, False),
    ("notes: ", "", "plaintext", True, False),
])
def test_gating(prefix, suffix, language, ok, multi):
    ctx = analyze(prefix, suffix, language)
    assert (ctx.should_complete, ctx.multiline) == (ok, multi), ctx.reason


def test_block_indent_is_the_opener_line():
    ctx = analyze("class A:\n    def f(self):\n        ", "\n", "python")
    assert ctx.multiline and ctx.block_indent == 4


def test_tree_sitter_sees_a_non_empty_brace_block_after_an_opener_line():
    # the previous line opens the block, but the block already has a statement below the cursor
    ctx = analyze("void f() {\n  ", "\n  return;\n}\n", "java")
    assert ctx.should_complete and not ctx.multiline


def test_indent_unit_detection():
    assert detect_indent_unit("a:\n  b\n  c:\n    d\n") == "  "
    assert detect_indent_unit("a:\n\tb\n\t\tc\n") == "\t"
    assert detect_indent_unit("no indentation") == "    "


def test_language_registry_aliases_and_extensions():
    assert get_language("typescriptreact").name == "tsx"
    assert get_language("PY").name == "python"
    assert get_language("cobol").name == "plain"
    assert language_for_path("src/Main.java").name == "java"
    assert language_for_path("a/b.unknown").name == "plain"
    assert get_language("python").parser() is not None
