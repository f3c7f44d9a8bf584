"""Build the hand-written fixture projects (fixtures/python_repo, fixtures/java_repo) into real git
repositories with a multi-commit history, in a temporary folder, for any test to use.

Each fixture has `.fixture/history.json`: an ordered list of commits, each naming the files it adds or
changes (with earlier versions of a file under `.fixture/`); files not named are added by a final
commit. Dates are fixed, so commit shas are the same on every machine.

    from tests.support.fixture_repos import build_fixture_repo
    repo = build_fixture_repo("python_repo", tmp_path / "py")    # -> tmp_path / "py" (a git work tree)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
GOLD = FIXTURES / "gold"
_SKIP_PARTS = {".fixture", "__pycache__", ".pytest_cache", "target"}


def fixture_files(name: str) -> list[str]:
    """Relative paths of a fixture's project files (what the final commit holds)."""
    root = FIXTURES / name
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not (set(rel.parts) & _SKIP_PARTS) and not p.name.endswith(".pyc"):
            out.append(rel.as_posix())
    return out


def _git(cwd: Path, *args: str, date: str | None = None) -> str:
    env = dict(os.environ)
    env.update({"GIT_AUTHOR_NAME": "Fixture Author", "GIT_AUTHOR_EMAIL": "fixture@example.org",
                "GIT_COMMITTER_NAME": "Fixture Author", "GIT_COMMITTER_EMAIL": "fixture@example.org",
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_SYSTEM": os.devnull})
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def build_fixture_repo(name: str, dest: Path) -> Path:
    """Create ``dest`` as a git repo whose history follows ``fixtures/<name>/.fixture/history.json``."""
    src = FIXTURES / name
    spec = json.loads((src / ".fixture" / "history.json").read_text(encoding="utf-8"))
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=False)
    _git(dest, "init", "-q", "-b", "main")
    done: set[str] = set()
    for commit in spec["commits"]:
        versions = commit.get("versions", {})
        for rel in commit["files"]:
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / versions.get(rel, rel), target)
            if rel not in versions:
                done.add(rel)
        _git(dest, "add", "--", *commit["files"])
        _git(dest, "commit", "-q", "-m", commit["message"], date=commit["date"])
    rest = [rel for rel in fixture_files(name) if rel not in done]
    if rest:
        for rel in rest:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, dest / rel)
        _git(dest, "add", "--", *rest)
        _git(dest, "commit", "-q", "-m", "Remaining files", date="2024-05-06T09:00:00+00:00")
    return dest


def head_sha(repo: Path) -> str:
    return _git(Path(repo), "rev-parse", "HEAD").strip()


def load_gold() -> list[dict]:
    """The hand-labelled test→focal pairs (fixtures/gold/pairs.jsonl)."""
    rows = []
    with open(GOLD / "pairs.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip() and not line.startswith("//"):
                rows.append(json.loads(line))
    return rows
