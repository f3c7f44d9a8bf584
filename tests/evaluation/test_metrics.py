"""Text metrics, pass@k, syntax validity and CodeBLEU on hand-checked examples."""

from __future__ import annotations

import math
import random

import pytest

from codecustom.evaluation.codebleu import codebleu
from codecustom.evaluation.codebleu.comments import strip_comments
from codecustom.evaluation.codebleu.dataflow import data_flow, match_counts, normalize
from codecustom.evaluation.metrics import bleu, edit_similarity, exact_match, levenshtein, mean_pass_at_k, pass_at_k
from codecustom.evaluation.syntax import is_valid_snippet, parses_cleanly, syntax_valid_rate


def _dp_levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_levenshtein_matches_the_textbook_dp() -> None:
    rng = random.Random(0)
    for _ in range(400):
        a = "".join(rng.choice("ab c\n") for _ in range(rng.randint(0, 30)))
        b = "".join(rng.choice("abd c") for _ in range(rng.randint(0, 90)))
        assert levenshtein(a, b) == _dp_levenshtein(a, b)
    assert levenshtein("kitten", "sitting") == 3


def test_edit_similarity_and_exact_match() -> None:
    assert edit_similarity("", "") == 1.0
    assert edit_similarity("abcd", "abcd") == 1.0
    assert edit_similarity("abcd", "abce") == pytest.approx(0.75)
    assert edit_similarity("", "xyz") == 0.0
    assert exact_match("assert f(1) == 2", "assert  f(1) == 2\n")
    assert not exact_match("assert f(1) == 2", "assert f(1) == 3")


def test_bleu_is_sacrebleu_on_a_unit_scale() -> None:
    assert bleu(["x = f ( a , b )"], ["x = f ( a , b )"]) == pytest.approx(1.0)
    partial = bleu(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert 0.0 < partial < 1.0
    with pytest.raises(ValueError):
        bleu(["a"], [])


def test_pass_at_k_matches_the_closed_form() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(5, 2))
    assert mean_pass_at_k([[True, False], [False, False]], 1) == pytest.approx(0.25)
    assert mean_pass_at_k([[True, False], [False, False]], 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)


@pytest.mark.parametrize(("code", "language", "valid"), [
    ("def test_add(self):\n    assert add(1, 2) == 3\n", "python", True),
    ("    def test_add(self):\n        assert add(1, 2) == 3\n", "python", True),  # cut from a class
    ("def test_add(self):\n    assert add(1, 2 == 3\n", "python", False),
    ("def test_add(self)\n    pass\n", "python", False),
    ("", "python", False),
    ("@Test\npublic void testAdd() {\n    assertEquals(3, add(1, 2));\n}", "java", True),
    ("@Test\npublic void testAdd() {\n    assertEquals(3, add(1, 2))\n}", "java", False),  # MISSING ';'
    ("class FooTest {\n  @Test void t() { int x = 1; }\n}", "java", True),
    ("test('adds', () => { expect(add(1, 2)).toBe(3); });", "javascript", True),
    ("func TestAdd(t *testing.T) { if Add(1, 2) != 3 { t.Fail() } }", "go", True),
])
def test_syntax_validity(code: str, language: str, valid: bool) -> None:
    assert is_valid_snippet(code, language) is valid


def test_syntax_valid_rate_and_whole_files() -> None:
    assert syntax_valid_rate(["x = 1", "x = (", "y = 2"], "python") == pytest.approx(2 / 3)
    assert syntax_valid_rate([], "python") == 0.0
    assert parses_cleanly("import os\n\nprint(os.sep)\n", "python")
    assert not parses_cleanly("public void m() {", "java")


def test_codebleu_identical_code_is_one() -> None:
    java = "@Test\npublic void testAdd() {\n    int x = calc.add(1, 2);\n    assertEquals(3, x);\n}"
    py = "def test_add():\n    total = add(1, 2)\n    assert total == 3\n"
    for code, lang in ((java, "java"), (py, "python")):
        result = codebleu([code], [code], lang)
        assert result.score == pytest.approx(1.0)
        assert result.ngram == result.weighted_ngram == result.syntax == result.dataflow == pytest.approx(1.0)


def test_codebleu_hand_checked_partial_case() -> None:
    """ref/hyp differ in one operator: every component worked out by hand (see comments)."""
    ref = "def f ( a ) :\n    return a + 1"
    hyp = "def f ( a ) :\n    return a - 1"
    result = codebleu([ref], [hyp], "python")
    # BLEU: 1..4-gram precisions 9/10, 7/9, 6/8, 5/7, no brevity penalty -> 0.375 ** 0.25
    assert result.ngram == pytest.approx(0.375 ** 0.25)
    # weighted unigram recall: def/return weigh 1, the other 8 tokens 0.2; only '+' (0.2) is missed
    assert result.weighted_ngram == pytest.approx((3.4 / 3.6 * 7 / 9 * 6 / 8 * 5 / 7) ** 0.25)
    # the AST has no operator text, so every subtree matches; the data flow is the same
    assert result.syntax == pytest.approx(1.0) and result.dataflow == pytest.approx(1.0)
    assert result.score == pytest.approx(0.25 * (0.375 ** 0.25 + result.weighted_ngram + 2))


def test_codebleu_structural_change_lowers_syntax_and_weights_apply() -> None:
    ref = "def foo ( x ) :\n    return x"
    hyp = "def foo ( x ) :\n    return x * x"
    result = codebleu([ref], [hyp], "python")
    # 5 reference subtrees; only (parameters (identifier)) survives the new return expression
    assert result.syntax == pytest.approx(1 / 5)
    only_syntax = codebleu([ref], [hyp], "python", weights=(0, 0, 1, 0))
    assert only_syntax.score == pytest.approx(1 / 5)


def test_codebleu_unrelated_text_scores_zero_and_missing_dataflow_is_none() -> None:
    result = codebleu(["x"], ["some random words"], "python")
    assert result.ngram == 0.0 and result.dataflow is None
    # the undefined data-flow part drops out: the three others share the weight
    assert result.score == pytest.approx(result.syntax / 3)


def test_dataflow_hand_checked() -> None:
    ref = "def f(a):\n    b = a + 1\n    return b\n"
    assert normalize(data_flow(ref, "python")) == [
        ("var_0", "comesFrom", ()),
        ("var_2", "computedFrom", ("var_0", "var_1")),
        ("var_0", "comesFrom", ("var_0",)),
        ("var_1", "comesFrom", ()),
        ("var_2", "comesFrom", ("var_2",)),
    ]
    renamed = "def g(x):\n    y = x + 1\n    return y\n"
    assert match_counts(ref, renamed, "python") == (5, 5)
    wrong_return = "def f(a):\n    b = a + 1\n    return a\n"
    assert match_counts(ref, wrong_return, "python") == (4, 5)


def test_dataflow_java_loops_and_branches() -> None:
    code = "int f(int a) { int x = a; for (int i : xs) { x = x + i; } if (x > 0) { x = 1; } else x = 2; return x; }"
    flow = data_flow(code, "java")
    edges = {(name, rel, srcs) for name, _, rel, srcs, _ in flow}
    assert ("x", "comesFrom", ("a",)) in edges  # declaration
    assert ("i", "computedFrom", ("xs",)) in edges  # for-each
    # in the loop body, x comes from the declaration and (second trip round) from its own update
    body_use = next(e for e in flow if e[0] == "x" and e[2] == "comesFrom" and len(e[4]) == 2)
    assert body_use[3] == ("x",)
    returned = [e for e in data_flow(code, "java") if e[0] == "x" and e[2] == "comesFrom"][-1]
    assert len(returned[4]) == 2  # both arms of the if reach the return


def test_comments_and_docstrings_are_ignored() -> None:
    code = 'def f(a):\n    """Doc."""\n    # note\n    return a  # tail\n'
    assert "Doc" not in strip_comments(code, "python") and "note" not in strip_comments(code, "python")
    assert codebleu([code], ["def f(a):\n    return a\n"], "python").syntax == pytest.approx(1.0)
    java = "void m() { /* block */ int x = 1; // line\n }"
    assert "block" not in strip_comments(java, "java") and "line" not in strip_comments(java, "java")


def test_held_out_selection_covers_focal_methods_before_repeating_one():
    from types import SimpleNamespace

    from codecustom.evaluation.testgen import spread_over_focals

    pairs = [SimpleNamespace(test_id=f"t{i}", focal_id="a") for i in range(5)]
    pairs += [SimpleNamespace(test_id="u0", focal_id="b"), SimpleNamespace(test_id="v0", focal_id="c")]
    spread = spread_over_focals(pairs)
    assert {p.focal_id for p in spread[:3]} == {"a", "b", "c"}
    assert sorted(p.test_id for p in spread) == sorted(p.test_id for p in pairs)
    assert [p.test_id for p in spread if p.focal_id == "a"] == ["t0", "t1", "t2", "t3", "t4"]


def test_shape_metrics_show_loops_and_length():
    from codecustom.evaluation.metrics import repeated_ngram_rate, shape_metrics, stop_breakdown

    loop = "def test_a():\n" + "    self.assertEqual(1, 2)\n" * 10
    assert repeated_ngram_rate(loop) > 0.8 and repeated_ngram_rate("def test_a():\n    assert f(1) == 2") == 0.0
    got = shape_metrics([loop], ["def test_a():\n    assert f(1) == 2"])
    assert got["length_ratio"] > 5 and got["repeated_4gram_rate"] > 0.8
    assert stop_breakdown(["eos", "eos", "loop", "length"]) == {"eos": 0.5, "loop": 0.25, "length": 0.25}
