"""Stop rules on decoded text: newline, stop strings, end of block (indentation, braces), end of a test."""

from __future__ import annotations

from codecustom.inference.params import GenerationParams, earliest_stop
from codecustom.inference.stopping import (BraceBlockEnd, DefinitionEnd, FirstNewline, IndentBlockEnd, StopStrings,
                                           any_of, indent_width)


def test_first_newline_cuts_at_the_newline():
    assert FirstNewline()("a + b\nc") == 5
    assert FirstNewline()("\nreturn x") == 0
    assert FirstNewline()("a + b") is None


def test_stop_strings_earliest_wins():
    rule = StopStrings(("\ndef ", "\nclass "))
    assert rule("x\nclass A:\n  pass\ndef f") == 1
    assert rule("x = 1") is None


def test_indent_block_end_stops_at_dedent_to_the_opener():
    rule = IndentBlockEnd(base=4)
    text = "\n        return x\n    def other(self):\n        pass"
    cut = rule(text)
    assert text[:cut] == "\n        return x"


def test_indent_block_end_waits_for_indentation_to_show():
    rule = IndentBlockEnd(base=0)
    assert rule("\n    x = 1\n") is None  # the next line's indentation is not known yet
    assert rule("\n    x = 1\n\n") is None  # blank lines do not end a block
    assert rule("\n    x = 1\n\nd") == len("\n    x = 1\n")


def test_indent_block_end_ignores_the_cursor_line():
    assert IndentBlockEnd(base=8)("x)  # end of the cursor's own line") is None


def test_brace_block_end_cuts_the_closing_line():
    rule = BraceBlockEnd()
    text = "\n    return a + b;\n  }\n  int other() {"
    assert text[: rule(text)] == "\n    return a + b;"


def test_brace_block_end_ignores_braces_in_strings_and_comments():
    rule = BraceBlockEnd()
    assert rule('\n  s = "}";  // }\n  if (x) { y(); }\n') is None
    text = 'f(")");\n}'
    assert text[: rule(text)] == 'f(")");'


def test_brace_block_end_mid_line_close():
    text = "a, b) + 1;"
    assert BraceBlockEnd()(text) == 4  # the call's ")" was open before the cursor


def test_definition_end_python_test_function():
    rule = DefinitionEnd("indent")
    text = "def test_add():\n    assert add(1, 2) == 3\n\n\ndef test_sub():\n    pass"
    assert text[: rule(text)].rstrip() == "def test_add():\n    assert add(1, 2) == 3"


def test_definition_end_python_keeps_decorators_and_else():
    rule = DefinitionEnd("indent")
    text = "@pytest.mark.slow\ndef test_x():\n    if a:\n        b()\n    else:\n        c()\nx = 1\n"
    assert text[: rule(text)] == "@pytest.mark.slow\ndef test_x():\n    if a:\n        b()\n    else:\n        c()"


def test_definition_end_java_test_method():
    rule = DefinitionEnd("brace")
    text = '@Test\npublic void testAdd() {\n  int[] a = {1, 2};\n  assertEquals("}", f(a));\n}\n\n@Test\npublic'
    assert text[: rule(text)] == '@Test\npublic void testAdd() {\n  int[] a = {1, 2};\n  assertEquals("}", f(a));\n}'


def test_any_of_and_params_cut():
    rule = any_of([None, FirstNewline(), StopStrings(("+",))])
    assert rule("a + b\n") == 2
    assert any_of([None]) is None
    params = GenerationParams(stop=("END",), stop_rule=FirstNewline())
    assert params.cut("abc END\nx") == ("abc ", "stop string")
    assert params.cut("ab\nc") == ("ab", "end of line")
    assert params.cut("abc") == ("abc", None)
    assert earliest_stop("x\ny", (), None) is None


def test_indent_width_counts_tabs():
    assert indent_width("\t\tx") == 8
    assert indent_width("  x") == 2


def _test_end(language: str):
    from codecustom.inference.engine import test_stop_rule

    return test_stop_rule(language)


def test_test_end_python_waits_for_a_top_level_statement_and_ignores_dedented_strings():
    rule = _test_end("python")
    body = 'def test_a():\n    s = """\nfoo\n"""\n    assert s\n'
    assert rule(body) is None  # still inside the test
    assert rule(body + "    if s:\n        pass\n") is None
    text = body + "\n\ndef test_b():\n"
    cut, why = rule.explain(text)
    assert (text[:cut], why) == ('def test_a():\n    s = """\nfoo\n"""\n    assert s', "end of test")
    assert rule(body + "# a comment at column 0\n    assert s\n") is None


def test_test_end_java_closes_on_the_brace_outside_strings_and_comments():
    rule = _test_end("java")
    text = '@Test\npublic void t() {\n  String s = "}";\n  /* } */ char c = \'}\';\n  assertEquals(s, f());\n}\n\n@Test'
    cut = rule(text)
    assert text[:cut].endswith("assertEquals(s, f());\n}")
    assert rule('@Test\npublic void t() {\n  String s = "}";\n') is None


def test_test_end_falls_back_to_indentation_for_indented_text():
    rule = _test_end("python")
    text = "    def test_a(self):\n        assert 1\n    def test_b(self):\n"
    assert text[: rule(text)] == "    def test_a(self):\n        assert 1"


def test_repetition_loop_cuts_before_the_second_copy():
    from codecustom.inference.stopping import RepetitionLoop

    rule = RepetitionLoop()
    head = "def test_c(self):\n"
    line = "    self.assertEqual(1, 2, 3)\n"
    assert rule(head + line * 3) is None  # three identical lines can be real code
    assert (head + line * 6)[: rule(head + line * 6)] == head + line
    block = "    def f(x):\n        return x + 1\n\n"
    assert (head + block * 3)[: rule(head + block * 3)] == head + block
    inline = "def test_cache" + "_no_cache" * 8
    assert rule(inline) == 0  # the whole line is degenerate
    legit = "def test_bytes():\n    x = [0, 0, 0, 0, 0]\n    y = b'\\x00\\x00\\x00\\x00'\n    print('-' * 80, '----------------------------------------------------------')\n"
    assert rule(legit) is None
