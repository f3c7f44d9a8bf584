"""gen-tests: keep only candidates that build, pass and add coverage; write them without clobbering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codecustom.cli import main
from codecustom.errors import DataError, UsageError
from codecustom.evaluation.execution import Workspace, get_ladder
from codecustom.evaluation.gentests import find_focal, only_inserts, parse_spec, select_tests, unified_diff, write_tests
from tests.evaluation.repos import make_repo, python_project

DISJOINT = ("def test_merge_disjoint(self):\n    with self.assertRaises(ValueError):\n"
            "        Range(0, 1).merge(Range(5, 6))")
CLOCK = '''"""Clock helpers."""


def to_minutes(hhmm):
    hours, minutes = hhmm.split(":")
    if not minutes.isdigit():
        raise ValueError("bad minutes")
    return int(hours) * 60 + int(minutes)
'''


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = python_project()
    files["textkit/clock.py"] = CLOCK
    root, _ = make_repo(tmp_path / "textkit", files)
    return root


def _status(root: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True).stdout


def test_focal_lookup_and_spec_parsing(repo: Path) -> None:
    focal = find_focal(repo, "textkit/ranges.py", "Range.merge")
    assert (focal.name, focal.class_name, focal.language) == ("merge", "Range", "python")
    assert "class Range" in focal.contexts["fm_fc_c_m"] and "def merge" in focal.contexts["fm"]
    assert parse_spec("a/b.py::C.f") == ("a/b.py", "C.f")
    with pytest.raises(UsageError, match="no function 'nope'"):
        find_focal(repo, "textkit/ranges.py", "nope")
    with pytest.raises(UsageError):
        parse_spec("textkit/ranges.py")


def test_only_useful_candidates_are_kept_and_written(repo: Path) -> None:
    focal = find_focal(repo, "textkit/ranges.py", "Range.merge")
    candidates = [
        "def test_merge_again(self):\n    self.assertEqual(Range(0, 5).merge(Range(3, 9)).stop, 9)",  # no new lines
        DISJOINT,                                                                                   # adds the raise
        DISJOINT + "\n",                                                                            # duplicate
        "def test_merge_wrong(self):\n    self.assertEqual(Range(0, 5).merge(Range(3, 9)).stop, 5)",  # fails
        "def test_merge_broken(self):\n    Range(0, 5).merge(",                                      # does not build
    ]
    ladder = get_ladder("python", plugins=False, runs=2, timeout=30)
    with Workspace.from_tree(repo) as ws:
        selection = select_tests(ws, focal, candidates, ladder, suite="tests/test_ranges.py")
    verdicts = [c.verdict for c in selection.candidates]
    assert [c.kept for c in selection.candidates] == [False, True, False, False, False], verdicts
    assert "adds no coverage" in verdicts[0] and "duplicate" in verdicts[2]
    assert selection.counts() == {"generated": 5, "built": 3, "passed": 2, "flaky": 0, "added coverage": 1,
                                  "kept": 1}
    assert set(selection.baseline_lines) < set(selection.final_lines) <= set(selection.focal_lines)
    assert selection.test_file == "tests/test_ranges.py"
    original = (repo / "tests/test_ranges.py").read_text()
    assert selection.old_text == original and only_inserts(original, selection.new_text)
    diff = unified_diff(selection)
    assert diff.startswith("--- a/tests/test_ranges.py") and "+            Range(0, 1).merge(Range(5, 6))" in diff
    assert "+    def test_merge_disjoint(self):" in diff  # appended to the existing TestRange class
    assert _status(repo) == ""  # nothing written before write_tests
    write_tests(repo, selection)
    text = (repo / "tests/test_ranges.py").read_text()
    assert text.startswith(original.rstrip("\n")) and "test_merge_disjoint" in text
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_ranges.py"],
                          cwd=repo, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(repo), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "4 passed" in done.stdout, done.stdout + done.stderr  # the written file runs as a whole
    (repo / "tests/test_ranges.py").write_text(original)  # leave the fixture repo clean for git status


def test_a_new_test_file_is_created_and_changed_files_are_not_overwritten(repo: Path) -> None:
    focal = find_focal(repo, "textkit/clock.py", "to_minutes")
    candidates = ["def test_to_minutes():\n    assert to_minutes('1:30') == 90",
                  "def test_bad_minutes():\n    import pytest\n    with pytest.raises(ValueError):\n"
                  "        to_minutes('1:xx')"]
    with Workspace.from_tree(repo) as ws:
        selection = select_tests(ws, focal, candidates, get_ladder("python", plugins=False, runs=1, timeout=30),
                                 suite="tests")
    assert [c.kept for c in selection.candidates] == [True, True]
    assert selection.test_file == "tests/test_clock.py" and selection.old_text is None
    assert "from textkit.clock import to_minutes" in selection.new_text and "import pytest" in selection.new_text
    assert set(selection.final_lines) == set(selection.focal_lines) and not selection.baseline_lines
    (repo / "tests/test_clock.py").write_text("# written by the user meanwhile\n")
    with pytest.raises(DataError, match="changed while tests were being generated"):
        write_tests(repo, selection)
    assert (repo / "tests/test_clock.py").read_text() == "# written by the user meanwhile\n"
    (repo / "tests/test_clock.py").unlink()
    write_tests(repo, selection)
    assert (repo / "tests/test_clock.py").read_text() == selection.new_text


def test_gen_tests_cli_with_a_random_model_writes_nothing_and_reports(repo: Path, tiny_model, capsys) -> None:
    before = _status(repo)
    code = main(["gen-tests", str(repo / "textkit/ranges.py") + "::Range.merge", "--base", str(tiny_model("gpt2")),
                 "-k", "2", "--max-new-tokens", "16", "--no-pytest-plugins", "--runs", "1", "--suite",
                 "tests/test_ranges.py", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["counts"]["generated"] == 2 and result["counts"]["kept"] == 0
    assert result["written"] is None and _status(repo) == before
    assert any(line.startswith("network:") for line in result["sandbox"])


@pytest.mark.parametrize(("argv", "message"), [
    (["gen-tests", "textkit/ranges.py"], "expected FILE::FUNC"),
    (["gen-tests", "nowhere.py::f"], "does not exist"),
    (["gen-tests", "README::f"], "does not exist"),
    (["gen-tests", "textkit/ranges.py::nope"], "no function 'nope'"),
    (["gen-tests", "textkit/ranges.py::Range.merge", "-k", "0"], "-k must be at least 1"),
])
def test_gen_tests_bad_input(repo: Path, capsys, monkeypatch, argv: list[str], message: str) -> None:
    monkeypatch.chdir(repo)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
