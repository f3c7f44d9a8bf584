"""What the test model memorizes: FIM completions in a few situations and one unit test."""

from __future__ import annotations

AREA_SUFFIX = "\n\n\ndef perimeter(width, height):\n    return 2 * (width + height)\n"
FOCAL = "class Shapes:\n    def area(self, width, height):\n        return width * height"
CASES = {
    # name -> (prefix, suffix, what the model learned to write between them)
    "single": ("def area(width, height):\n    return ", AREA_SUFFIX, "width * height\n\ndef unused():\n    pass"),
    "block": ("def area(width, height):", "\n", "\n    return width * height\n\n\ndef volume(w, h, d):\n    return w * h * d"),
    "repeat": ("def scale(x, k):", "\n    return y\n", "\n    y = x * k\n    return y\n"),
    "java": ("class Box {\n  int size() {", "\n  }\n}\n", "\n    return this.n;\n  }\n\n  int other() {\n    return 0;\n  }"),
}
EXPECTED = {"single": "width * height", "block": "\n    return width * height", "repeat": "\n    y = x * k",
            "java": "\n    return this.n;"}
LANGUAGE = {"single": "python", "block": "python", "repeat": "python", "java": "java"}
TEST = "def test_area():\n    assert Shapes().area(2, 3) == 6\n\n\ndef test_more():\n    assert True"
EXPECTED_TEST = "def test_area():\n    assert Shapes().area(2, 3) == 6"


def samples(tokenizer) -> list[tuple[str, str]]:
    """(prompt, completion) pairs in the exact prompt formats the engines use."""
    from codecustom.data.fim import FimFormat
    from codecustom.data.tests_task import build_test_prompt

    fim = FimFormat.for_tokenizer(tokenizer, add_missing=False)
    pairs = [(fim.prompt(pre, suf), mid) for pre, suf, mid in CASES.values()]
    pairs.append((build_test_prompt(FOCAL, "python"), TEST))
    return pairs
