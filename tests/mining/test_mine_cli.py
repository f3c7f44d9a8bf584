"""`codecustom mine` end to end, through the real CLI, on the fixture repos and on bad input."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codecustom.cli import main
from codecustom.mining.records import (CONTEXT_LEVELS, FileRecord, MethodRecord, PairRecord, is_dataset, read_jsonl,
                                       read_manifest)
from tests.mining.conftest import git, make_repo

SECRETS = ("AKIAIOSFODNN7EXAMPLE", "BEGIN RSA PRIVATE KEY", "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu")


def snapshot(repo: Path) -> dict[str, str]:
    """Every file under the repo, .git included, by content hash."""
    out = {}
    for p in sorted(repo.rglob("*")):
        if p.is_file() and not p.is_symlink():
            out[str(p.relative_to(repo))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def test_mine_stats_never_touches_the_repo(fixture_repos, tmp_path, capsys):
    repo = fixture_repos["python_repo"]
    before = snapshot(repo)
    assert main(["mine", str(repo), "--out", str(tmp_path / "ds"), "--stats"]) == 0
    text = capsys.readouterr().out
    for needle in ("Files", "rejected: secret", "rejected: vendored", "rejected: generated", "rejected: syntax_error",
                   "Pairs by heuristic", "Splits (rule: file)", "tests mapped"):
        assert needle in text, needle
    assert snapshot(repo) == before  # bytes of the work tree and of .git unchanged
    assert git(repo, "status", "--porcelain") == ""
    assert is_dataset(tmp_path / "ds")


def test_outputs_follow_the_schema(mined):
    for name, ds in mined.items():
        man = read_manifest(ds)
        assert man.schema_version.startswith("1.") and len(man.revision) == 40 and man.split_rule == "file"
        methods = list(read_jsonl(ds / "methods.jsonl", MethodRecord))
        pairs = list(read_jsonl(ds / "pairs.jsonl", PairRecord))
        files = list(read_jsonl(ds / "files.jsonl", FileRecord))
        assert man.counts["methods"] == len(methods) and man.counts["pairs"] == len(pairs)
        ids = {m.id for m in methods}
        assert len(ids) == len(methods)
        for p in pairs:
            assert p.test_id in ids and p.focal_id in ids
            assert set(p.context) == set(CONTEXT_LEVELS)
            assert p.context["fm"].strip() == p.focal.strip()
            for small, big in zip(CONTEXT_LEVELS, CONTEXT_LEVELS[1:]):
                assert len(p.context[small]) <= len(p.context[big])
            assert 0 < p.confidence <= 1 and p.heuristic and p.class_rule and p.framework
        assert all(f.content and f.sha for f in files)
        assert sum(man.split_sizes["pairs"].values()) == len(pairs)


def test_java_context_levels(mined):
    pairs = {p.test_id.split("::")[-1].split("@")[0]: p for p in read_jsonl(mined["java_repo"] / "pairs.jsonl", PairRecord)}
    ctx = pairs["testAddItem"].context
    assert ctx["fm"].startswith("public void addItem(String name, int quantity)")
    assert ctx["fm_fc"].startswith("public class Inventory {") and ctx["fm_fc"].endswith("}")
    assert "public void addItem(Item item);" in ctx["fm_fc_c_m"] and "public void addItem(Item item);" not in ctx["fm_fc_c"]
    assert "private final Map<String, Integer> stock = new TreeMap<>();" in ctx["fm_fc_c_m_f"]
    assert "private final Map" not in ctx["fm_fc_c_m"]
    c = pairs["testAdd"].context
    assert "public Calculator(int precision);" in c["fm_fc_c"] and "public int subtract(int a, int b);" not in c["fm_fc_c"]


def test_python_context_levels(mined):
    pairs = {p.test_id.split("::")[-1].split("@")[0]: p for p in read_jsonl(mined["python_repo"] / "pairs.jsonl", PairRecord)}
    ctx = pairs["test_deposit"].context
    assert ctx["fm_fc"].startswith("class Account:\n    def deposit(self, amount: Money) -> None:")
    assert "def __init__(self, owner: str, balance: Money | None = None): ..." in ctx["fm_fc_c"]
    assert "def withdraw(self, amount: Money) -> None: ..." in ctx["fm_fc_c_m"]
    assert 'kind = "current"' in ctx["fm_fc_c_m_f"] and "from ledger.money import Money" in ctx["fm_fc_c_m_f"]
    mod = pairs["test_parse_amount"].context
    assert mod["fm_fc"].startswith("# module: ledger/parsing.py")
    assert "def split_csv(text, sep=\",\"): ..." in mod["fm_fc_c_m"] and "from decimal import Decimal" in mod["fm_fc_c_m_f"]


def test_planted_secret_appears_in_no_output(mined):
    for ds in mined.values():
        for f in ds.iterdir():
            text = f.read_text(encoding="utf-8")
            for secret in SECRETS:
                assert secret not in text, (f.name, secret)
    man = read_manifest(mined["python_repo"])
    assert man.filters["secret"] == 1 and "ledger/settings_local.py" in man.extra["filter_examples"]["secret"]


def test_split_by_file_never_straddles(mined):
    for ds in mined.values():
        methods = {m.id: m for m in read_jsonl(ds / "methods.jsonl", MethodRecord)}
        files = {f.path: f.split for f in read_jsonl(ds / "files.jsonl", FileRecord)}
        focal_split: dict[str, str] = {}
        for p in read_jsonl(ds / "pairs.jsonl", PairRecord):
            assert methods[p.test_id].split == methods[p.focal_id].split == p.split
            assert focal_split.setdefault(p.focal_id, p.split) == p.split
            for path in (p.test_path, p.focal_path):
                if path in files:
                    assert files[path] == p.split


def test_split_time_puts_newest_tests_in_test(fixture_repos, tmp_path):
    out = tmp_path / "ds"
    assert main(["mine", str(fixture_repos["python_repo"]), "--split", "time", "--out", str(out), "-q"]) == 0
    pairs = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    by_name = {p.test_id.split("::")[-1].split("@")[0]: p.split for p in pairs}
    # tests added by the last commit (2024-04-22) are the newest; older tests of the same file are not
    assert by_name["test_str_formats_amount"] == "test" and by_name["test_half_up"] == "test"
    assert by_name["test_add"] == "train" and by_name["test_parse_amount"] == "train"
    focal_split: dict[str, str] = {}
    for p in pairs:
        assert focal_split.setdefault(p.focal_id, p.split) == p.split
    assert read_manifest(out).split_rule == "time"


def test_json_output_and_languages(fixture_repos, tmp_path, capsys):
    assert main(["mine", str(fixture_repos["java_repo"]), "--json", "--lang", "java", "--out", str(tmp_path / "j")]) == 0
    payload = json.loads(capsys.readouterr().out)
    man = payload["manifest"]
    assert payload["dataset"] == str(tmp_path / "j") and man["languages"] == ["java"]
    assert man["extra"]["tests_mapped_share"] > 0.7 and man["counts"]["pairs"] >= 30
    assert man["filters"].get("not_source") == 1  # pom.xml


def test_default_out_and_rerun_replaces(fixture_repos, tmp_path, monkeypatch):
    monkeypatch.setenv("CODECUSTOM_HOME", str(tmp_path / "home"))
    from codecustom.mining import mine
    ds = mine(str(fixture_repos["java_repo"]))
    assert ds.parent.name == "java_repo" and ds.parent.parent == tmp_path / "home" / "datasets"
    again = mine(str(fixture_repos["java_repo"]))
    assert again == ds and is_dataset(ds)
    assert not [p for p in ds.parent.iterdir() if p.name.startswith(".")]  # no temp folders left


def test_subfolder_and_revision(fixture_repos, tmp_path):
    repo = fixture_repos["java_repo"]
    assert main(["mine", str(repo / "src" / "main"), "--out", str(tmp_path / "sub"), "-q"]) == 0
    files = [f.path for f in read_jsonl(tmp_path / "sub" / "files.jsonl", FileRecord)]
    assert files and all(p.startswith("src/main/") for p in files)
    first = git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert main(["mine", str(repo), "--rev", first, "--out", str(tmp_path / "old"), "-q"]) == 0
    man = read_manifest(tmp_path / "old")
    assert man.revision == first
    assert {f.path for f in read_jsonl(tmp_path / "old" / "files.jsonl", FileRecord)} == {
        "src/main/java/com/example/calc/Calculator.java", "src/test/java/com/example/calc/CalculatorTest.java"}


# -- bad input: one line, exit code 2, or a counted skip ----------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "codecustom", "mine", *args], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[2])


@pytest.mark.parametrize("kind", ["missing", "not_git", "empty", "bad_rev", "bad_lang", "bad_out"])
def test_bad_input_is_one_line(kind, tmp_path):
    if kind == "missing":
        args = [str(tmp_path / "nope")]
    elif kind == "not_git":
        (tmp_path / "plain").mkdir()
        args = [str(tmp_path / "plain")]
    elif kind == "empty":
        args = [str(make_repo(tmp_path / "empty", {}))]
    elif kind == "bad_rev":
        args = [str(make_repo(tmp_path / "r", {"a.py": "x = 1\n"})), "--rev", "no-such-branch"]
    elif kind == "bad_lang":
        args = [str(make_repo(tmp_path / "r", {"a.py": "x = 1\n"})), "--lang", "cobol"]
    else:
        (tmp_path / "o").mkdir()
        (tmp_path / "o" / "keep.txt").write_text("user data")
        args = [str(make_repo(tmp_path / "r", {"a.py": "x = 1\n"})), "--out", str(tmp_path / "o")]
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("codecustom mine: error:")
    if kind == "bad_out":
        assert (tmp_path / "o" / "keep.txt").read_text() == "user data"


def test_hostile_repo_contents_are_counted_skips(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET_OUTSIDE = 1\n")
    repo = make_repo(tmp_path / "r", {
        "ok.py": "def f():\n    return 1\n",
        "latin1.py": "# caf\xe9\nx = 1\n".encode("latin-1"),
        "huge.py": b"x = '" + b"a" * (10 * 1024 * 1024) + b"'\n",
        "blob.py": b"\x00\x01\x02binary",
        "bad.py": "def broken(:\n    pass\n\ndef good():\n    return 2\n",
        "vendor/dep.py": "def dep():\n    return 3\n",
    })
    os.symlink(outside, repo / "escape.py")
    os.symlink("ok.py", repo / "alias.py")
    sub = make_repo(tmp_path / "subrepo", {"s.py": "def s():\n    return 4\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "libsub")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "hostile")
    out = tmp_path / "ds"
    assert main(["mine", str(repo), "--out", str(out), "-q"]) == 0
    man = read_manifest(out)
    f = man.filters
    assert f["non_utf8"] == 1 and f["too_large"] == 1 and f["binary"] == 1 and f["syntax_error"] == 1
    assert f["vendored"] == 1 and f["symlink_outside"] == 1 and f["symlink"] == 1 and f["submodule"] == 1
    assert man.counts["methods_syntax_error"] == 1
    names = {m.name for m in read_jsonl(out / "methods.jsonl", MethodRecord)}
    assert names == {"f", "good"}
    for p in out.iterdir():
        assert "SECRET_OUTSIDE" not in p.read_text(encoding="utf-8")


def test_bare_and_shallow_and_url_clones(fixture_repos, tmp_path):
    src = fixture_repos["python_repo"]
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(src), str(bare)], check=True)
    assert main(["mine", str(bare), "--out", str(tmp_path / "b"), "-q"]) == 0
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{src}", str(shallow)], check=True)
    r = run_cli(str(shallow), "--out", str(tmp_path / "s"), "-q", "--split", "time")
    assert r.returncode == 0 and "shallow" in r.stderr
    assert read_manifest(tmp_path / "s").extra["shallow"] is True
    r = run_cli(f"file://{src}", "--out", str(tmp_path / "u"), "-q")
    assert r.returncode == 0, r.stderr
    a = read_manifest(tmp_path / "b").counts["pairs"]
    assert a == read_manifest(tmp_path / "s").counts["pairs"] == read_manifest(tmp_path / "u").counts["pairs"] > 0


def test_help_lists_options():
    r = run_cli("--help")
    assert r.returncode == 0
    for opt in ("--rev", "--out", "--lang", "--split", "--stats", "--json", "--quiet"):
        assert opt in r.stdout


def test_tests_in_one_big_file_still_get_a_held_out_split_by_focal(tmp_path):
    """All tests in one file against one module: the file split can hold nothing out, so pairs are split
    inside the files by focal method (a class's methods together), never the same focal on both sides."""
    funcs = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(30))
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(6))
    tests = "from pkg.mod import *\n\n\n" + "".join(
        f"def test_f{i}():\n    assert f{i}(1) == {i + 1}\n\n\ndef test_f{i}_zero():\n    assert f{i}(0) == {i}\n\n\n"
        for i in range(30)) + "".join(f"def test_m{i}():\n    assert Box().m{i}() == {i}\n\n\n" for i in range(6))
    repo = make_repo(tmp_path / "r", {"pkg/__init__.py": "", "pkg/mod.py": funcs + "class Box:\n" + methods,
                                      "tests/test_mod.py": tests})
    out = tmp_path / "ds"
    assert main(["mine", str(repo), "--out", str(out), "-q"]) == 0
    pairs = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert len(pairs) == 66
    assert read_manifest(out).split_rule == "file+focal"
    held = [p for p in pairs if p.split == "test"]
    assert 3 <= len(held) <= 11
    focal_split: dict[str, str] = {}
    for p in pairs:
        assert focal_split.setdefault(p.focal_id, p.split) == p.split
    box = {p.split for p in pairs if p.focal_class == "Box"}
    assert len(box) == 1  # the tests of one class stay together
