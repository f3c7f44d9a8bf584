"""Incremental mining: each blob's parse result, each test file's mappings and pair lines are reused, and the
dataset after a one-file commit is byte-identical to a cold run of that commit."""

from __future__ import annotations

import json
from pathlib import Path

from codecustom.mining import mine
from tests.mining.conftest import git, make_repo
from tests.support.fixture_repos import build_fixture_repo


def _same(a: Path, b: Path) -> None:
    for name in ("methods.jsonl", "pairs.jsonl", "files.jsonl"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((d / "manifest.json").read_text()) for d in (a, b))
    ma["extra"].pop("timings_s"), mb["extra"].pop("timings_s")
    assert ma == mb


def test_one_file_commits_give_the_cold_result(tmp_path, monkeypatch):
    for name in ("java_repo", "python_repo"):
        repo = build_fixture_repo(name, tmp_path / name)
        monkeypatch.setenv("CODECUSTOM_HOME", str(tmp_path / f"home-{name}"))
        first = mine(str(repo), out=tmp_path / f"{name}-first")
        cache = tmp_path / f"home-{name}" / "cache" / "mining"
        assert any(cache.rglob("*")), "the cold run fills the cache"
        _same(first, mine(str(repo), out=tmp_path / f"{name}-again"))  # nothing changed
        # a line inserted in a focal file (ids below it move) and a test edited, each committed
        focal = next(p for p in sorted(repo.rglob("*")) if p.suffix in (".java", ".py") and "test" not in str(p.relative_to(repo)).lower() and p.stat().st_size > 200)
        lines = focal.read_text().split("\n")
        lines.insert(2, "// moved" if focal.suffix == ".java" else "# moved")
        focal.write_text("\n".join(lines))
        git(repo, "commit", "-qam", "one file")
        warm = mine(str(repo), out=tmp_path / f"{name}-warm")
        cold = mine(str(repo), out=tmp_path / f"{name}-cold", cache=False)
        _same(warm, cold)


def test_the_cache_never_serves_a_changed_configuration(tmp_path, monkeypatch):
    monkeypatch.setenv("CODECUSTOM_HOME", str(tmp_path / "home"))
    files = {"lib/v.py": "def norm(x):\n    return abs(x)\n",
             "checks/tests_v.py": "from lib.v import norm\n\n\ndef check_norm():\n    assert norm(-1) == 1\n"}
    repo = make_repo(tmp_path / "repo", files)
    before = mine(str(repo), out=tmp_path / "a", languages=["python"])
    assert json.loads((before / "manifest.json").read_text())["counts"]["tests"] == 0
    (repo / "pytest.ini").write_text("[pytest]\npython_files = tests_*.py\npython_functions = check_*\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "config")
    after = mine(str(repo), out=tmp_path / "b", languages=["python"])  # same blobs, another test rule
    _same(after, mine(str(repo), out=tmp_path / "c", languages=["python"], cache=False))
    assert json.loads((after / "manifest.json").read_text())["counts"]["tests"] == 1
