"""``codecustom complete FILE:LINE:COL`` end to end through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from codecustom.cli import main
from codecustom.cli.complete import parse_position, split_at
from codecustom.errors import UsageError
from tests.inference.memorized import CASES, EXPECTED


@pytest.fixture()
def shapes(tmp_path):
    """A file whose cursor positions match what the test model memorized."""
    prefix, suffix, _ = CASES["single"]
    path = tmp_path / "shapes.py"
    path.write_text(prefix + suffix)
    return path, prefix.count("\n") + 1, len(prefix.rsplit("\n", 1)[-1]) + 1


def test_prints_the_completion(memorized_dir, shapes, capsys):
    path, line, col = shapes
    assert main(["complete", f"{path}:{line}:{col}", "--base", str(memorized_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.out == EXPECTED["single"] + "\n"
    assert "single-line" in captured.err


def test_json_result(memorized_dir, shapes, capsys):
    path, line, col = shapes
    assert main(["complete", f"{path}:{line}:{col}", "--base", str(memorized_dir), "--json", "--fast"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["text"] == EXPECTED["single"] and result["multiline"] is False and result["language"] == "python"


def test_multiline_block_from_a_java_file(memorized_dir, tmp_path, capsys):
    prefix, suffix, _ = CASES["java"]
    path = tmp_path / "Box.java"
    path.write_text(prefix + suffix)
    assert main(["complete", f"{path}:2:15", "--base", str(memorized_dir), "-q"]) == 0
    assert capsys.readouterr().out == EXPECTED["java"] + "\n"


def test_bad_positions_are_one_line_errors(memorized_dir, shapes, capsys):
    path, line, _ = shapes
    for position, message in ((f"{path}:99:1", "past the end"), (f"{path}:{line}:500", "past its end"),
                              (f"{path}:x:1", "not FILE:LINE:COL"), ("missing.py:1:1", "not a file")):
        assert main(["complete", position, "--base", str(memorized_dir)]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    assert main(["complete", f"{path}:1:1", "--backend", "openai"]) == 2
    assert "--url and --model" in capsys.readouterr().err


def test_position_helpers():
    assert parse_position("C:/src/a.py:3:7") == ("C:/src/a.py", 3, 7)
    assert split_at("ab\ncd\n", 2, 2, "f") == ("ab\nc", "d\n")
    assert split_at("ab\r\ncd", 1, 3, "f") == ("ab", "\r\ncd")
    with pytest.raises(UsageError):
        parse_position("a.py:0:1")


def test_runs_as_a_subprocess(memorized_dir, shapes):
    path, line, col = shapes
    proc = subprocess.run([sys.executable, "-m", "codecustom", "complete", f"{path}:{line}:{col}", "--base",
                           str(memorized_dir), "-q"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == EXPECTED["single"] + "\n"


def test_uses_the_repos_newest_artifact(memorized_dir, tmp_path, capsys):
    from codecustom.modeling.artifacts import save_artifact
    from codecustom.modeling.loading import load_base
    from codecustom.modeling.strategies import StrategyOptions, get_strategy

    repo = tmp_path / "demo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    loaded = load_base(str(memorized_dir), device="cpu")
    model = get_strategy("l-eo").prepare(loaded.model, StrategyOptions())
    art = save_artifact(model, loaded, strategy="l-eo", task="completion", project="demo")
    prefix, suffix, _ = CASES["single"]
    (repo / "pkg").mkdir()
    path = repo / "pkg" / "shapes.py"
    path.write_text(prefix + suffix)
    assert main(["complete", f"{path}:2:12"]) == 0
    captured = capsys.readouterr()
    assert captured.out == EXPECTED["single"] + "\n"
    assert f"artifact {art.path}" in captured.err
