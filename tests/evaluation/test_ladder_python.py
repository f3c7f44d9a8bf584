"""The Python execution ladder: placement in the test context, then pytest x3 + coverage in the sandbox."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codecustom.evaluation.execution import TestTarget, Workspace, get_ladder
from codecustom.evaluation.execution.python import PlacementError, default_test_file, module_name, place
from codecustom.mining.records import MethodRecord, PairRecord, read_jsonl
from tests.evaluation.repos import repo_with_dataset


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("ladder")
    repo, dataset, sha = repo_with_dataset(tmp)
    methods = {m.id: m for m in read_jsonl(dataset / "methods.jsonl", MethodRecord)}
    pairs = {p.test_id.split("::")[-1].split("@")[0]: p for p in read_jsonl(dataset / "pairs.jsonl", PairRecord)
             if p.language == "python"}
    with Workspace.from_git(repo, sha) as ws:
        yield repo, ws, methods, pairs


def _target(project, test_name: str) -> TestTarget:
    _, _, methods, pairs = project
    pair = pairs[test_name]
    return TestTarget.from_records(pair, methods[pair.focal_id])


@pytest.fixture(scope="module")
def ladder():
    return get_ladder("python", plugins=False, timeout=30)


# -- placement (text only) ------------------------------------------------------------------------

def test_generated_test_replaces_the_reference_in_its_class(project) -> None:
    _, ws, _, _ = project
    target = _target(project, "test_merge")
    code = "import math\n\ndef test_merge(self):\n    merged = Range(1, 3).merge(Range(2, 6))\n    self.assertEqual(merged.stop, 6)\n"
    placed = place(ws.pristine, target, code)
    assert placed.test_file == "tests/test_ranges.py"
    assert placed.nodeid == "tests/test_ranges.py::TestRange::test_merge"
    tree = ast.parse(placed.source)
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef))
    assert [f.name for f in cls.body] == ["test_length", "test_overlaps", "test_merge"]
    assert "Range(1, 3).merge" in placed.source and "Range(0, 5).merge(Range(3, 9))" not in placed.source
    assert "import math" in placed.source.split("class TestRange")[0]  # hoisted to module level
    original = (ws.pristine / "tests/test_ranges.py").read_text()
    assert original.split("class TestRange")[0].strip() in placed.source  # the module's own imports kept


def test_name_collisions_are_renamed(project) -> None:
    _, ws, _, _ = project
    placed = place(ws.pristine, _target(project, "test_merge"), "def test_length(self):\n    pass\n")
    assert placed.test_name == "test_length_generated2"
    assert placed.nodeid.endswith("TestRange::test_length_generated2")


def test_without_a_reference_module_a_new_test_file_imports_the_focal_function(project) -> None:
    _, ws, methods, _ = project
    focal = next(m for m in methods.values() if m.name == "clamp")
    target = TestTarget(language="python", focal_path=focal.path, focal_name="clamp", focal_class=None,
                        focal_start=focal.start_line, focal_end=focal.end_line)
    placed = place(ws.pristine, target, "def test_clamp_low():\n    assert clamp(-1, 0, 3) == 0\n")
    assert placed.test_file == "tests/test_numbers.py"  # the existing module for textkit/numbers.py
    assert "from textkit.numbers import clamp" in placed.source or "clamp" in placed.source.split("class")[0]
    assert placed.source.startswith((ws.pristine / "tests/test_numbers.py").read_text())  # appended, not rewritten
    method = ("def test_merge_disjoint(self):\n    with self.assertRaises(ValueError):\n"
              "        Range(0, 1).merge(Range(5, 6))\n")
    into_class = place(ws.pristine, TestTarget("python", "textkit/ranges.py", "merge", "Range", 17, 20), method)
    assert into_class.nodeid == "tests/test_ranges.py::TestRange::test_merge_disjoint"  # the module's test class
    fresh = place(ws.pristine, TestTarget("python", "textkit/clock.py", "to_minutes", None, 1, 5),
                  "def test_to_minutes(self):\n    self.assertEqual(to_minutes('0:05'), 5)\n")
    assert fresh.test_file == "tests/test_clock.py"
    assert "class TestGeneratedToMinutes(unittest.TestCase)" in fresh.source and "import unittest" in fresh.source
    assert "from textkit.clock import to_minutes" in fresh.source


@pytest.mark.parametrize("code", ["def test_x(:\n    pass\n", "x = 1\n", "print('no test')\n"])
def test_unusable_generations_do_not_build(project, code: str) -> None:
    _, ws, _, _ = project
    with pytest.raises(PlacementError):
        place(ws.pristine, _target(project, "test_merge"), code)


def test_layout_helpers(tmp_path: Path) -> None:
    assert module_name("src/pkg/mod.py") == "pkg.mod"
    assert module_name("pkg/__init__.py") == "pkg"
    assert default_test_file(tmp_path, "pkg/mod.py") == "tests/test_mod.py"
    (tmp_path / "test").mkdir()
    assert default_test_file(tmp_path, "pkg/mod.py") == "test/test_mod.py"


# -- the ladder (real pytest runs in the sandbox) -------------------------------------------------

def test_reference_test_builds_passes_and_covers(project, ladder) -> None:
    _, ws, _, pairs = project
    outcome = ladder.evaluate(ws, _target(project, "test_merge"), pairs["test_merge"].test)
    assert (outcome.built, outcome.passed, outcome.covered, outcome.stage) == (True, True, True, "done")
    assert outcome.runs_passed == 3 and not outcome.flaky
    assert set(outcome.lines_hit) <= set(outcome.focal_lines) and outcome.lines_hit


def test_each_rung_of_the_ladder(project, ladder) -> None:
    _, ws, _, _ = project
    target = _target(project, "test_merge")
    failing = ladder.evaluate(ws, target, "def test_merge(self):\n    self.assertEqual(Range(0, 1).length(), 5)\n")
    assert failing.built and not failing.passed and "AssertionError" in failing.reason
    no_cover = ladder.evaluate(ws, target, "def test_merge(self):\n    self.assertEqual(Range(0, 3).length(), 3)\n")
    assert no_cover.passed and no_cover.covered is False and no_cover.stage == "cover"
    broken = ladder.evaluate(ws, target, "from textkit.nowhere import thing\n\ndef test_merge(self):\n    pass\n")
    assert not broken.built and "textkit.nowhere" in broken.reason


def test_flaky_counts_as_fail(project, ladder) -> None:
    _, ws, _, _ = project
    code = '''
def test_merge(self):
    import pathlib
    counter = pathlib.Path("run-counter")
    n = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(n + 1))
    self.assertNotEqual(n, 1)  # fails on the second of three runs only
'''
    outcome = ladder.evaluate(ws, _target(project, "test_merge"), code)
    assert outcome.built and outcome.flaky and not outcome.passed and outcome.runs_passed == 2
    assert outcome.reason.startswith("flaky")


def test_destructive_and_hanging_tests_are_contained(project, ladder, tmp_path: Path) -> None:
    repo, ws, _, pairs = project
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    wrecker = f'''
def test_merge(self):
    import os, shutil
    shutil.rmtree("textkit")
    for target in ({str(repo)!r}, {str(ws.pristine)!r}):
        shutil.rmtree(target, ignore_errors=True)
'''
    ladder.evaluate(ws, _target(project, "test_merge"), wrecker)
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert after == before and (ws.pristine / "textkit" / "ranges.py").is_file()
    # killed at the 3 s wall time, while collecting or while running (a loaded machine may not get past
    # collection in 3 s): either way it did not pass, and the reason says why
    hang = get_ladder("python", plugins=False, timeout=3).evaluate(
        ws, _target(project, "test_merge"), "def test_merge(self):\n    while True:\n        pass\n")
    assert not hang.passed and "timeout" in hang.reason
    # the next candidate still runs in an intact copy
    assert ladder.evaluate(ws, _target(project, "test_merge"), pairs["test_merge"].test).passed


def test_baseline_coverage_of_the_existing_suite(project, ladder) -> None:
    _, ws, _, _ = project
    target = _target(project, "test_merge")
    lines, arcs, note = ladder.baseline_coverage(ws, target, tests="tests/test_ranges.py")
    assert note == "" and lines and arcs
    from codecustom.evaluation.execution.python import focal_body_lines

    assert lines <= set(focal_body_lines((ws.pristine / target.focal_path).read_text(), target))
