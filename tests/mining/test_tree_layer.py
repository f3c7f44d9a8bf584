"""The git-free layer (mine_directory / mine_tree) and streaming with bounded work in flight."""

from __future__ import annotations

import os
from pathlib import Path

from codecustom.mining import mine_directory, mine_tree
from codecustom.mining.records import MethodRecord, PairRecord, read_jsonl, read_manifest
from tests.support.fixture_repos import FIXTURES


def test_mine_directory_matches_git_mining(mined, tmp_path):
    out = mine_directory(FIXTURES / "python_repo", out=tmp_path / "d", exclude=(".fixture",))
    a = {(p.test_id, p.focal_id) for p in read_jsonl(out / "pairs.jsonl", PairRecord)}
    b = {(p.test_id, p.focal_id) for p in read_jsonl(mined["python_repo"] / "pairs.jsonl", PairRecord)}
    assert a == b and a
    man = read_manifest(out)
    assert man.revision == "" and man.filters["secret"] == 1


def test_mine_tree_streams_with_bounded_work_in_flight(tmp_path):
    out = tmp_path / "t"
    spool = out.parent / f".{out.name}.tmp-{os.getpid()}" / "methods.spool"
    seen_growth = []

    def files():
        for i in range(600):
            if i == 500:  # by now most earlier files must have been written out, not queued
                seen_growth.append(spool.stat().st_size if spool.exists() else 0)
            body = "\n".join(f"def f{i}_{k}(x):\n    return x + {k}\n" for k in range(3))
            yield f"pkg/m{i}.py", body.encode()
            if i % 100 == 0:
                yield f"tests/test_m{i}.py", f"from pkg.m{i} import f{i}_0\n\ndef test_f{i}_0():\n    assert f{i}_0(1) == 1\n".encode()

    mine_tree(files(), out=out, languages=["python"], workers=2)
    assert seen_growth and seen_growth[0] > 100_000  # ~400+ files' methods already spooled
    methods = list(read_jsonl(out / "methods.jsonl", MethodRecord))
    assert len(methods) == 600 * 3 + 6
    pairs = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert len(pairs) == 6 and all(p.heuristic == "name" for p in pairs)


def test_mine_tree_dedupes_methods_and_files(tmp_path):
    same = b"def shared(x):\n    return x * 2\n\n\ndef other(y):\n    return y - 1\n" * 1
    out = mine_tree([("a/one.py", same), ("b/two.py", same), ("c/three.py", same.replace(b"x * 2", b"x * 3"))],
                    out=tmp_path / "t", languages=["python"])
    man = read_manifest(out)
    assert man.filters["duplicate_file"] == 1
    assert man.filters["duplicate_method"] == 3  # shared/other from b, other from c
    assert man.counts["methods"] == 3
