"""The dataset writer builds some JSON lines by hand (pre-escaped contexts); they must be exactly what
json.dumps(..., ensure_ascii=False) would write."""

from __future__ import annotations

import dataclasses
import json

from codecustom.mining.context import JavaContext
from codecustom.mining.pipeline import _PAIR_FIELDS, Miner, MineOptions
from codecustom.mining.records import PairRecord
from codecustom.mining.sources import GitSource


def test_jsonl_lines_are_exactly_json_dumps(mined):
    for ds in mined.values():
        for name in ("methods.jsonl", "pairs.jsonl", "files.jsonl"):
            with open(ds / name, encoding="utf-8") as fh:
                lines = fh.readlines()
            assert lines, name
            for line in lines:
                assert line == json.dumps(json.loads(line), ensure_ascii=False) + "\n", name


def test_pair_lines_follow_the_record_field_order(mined):
    assert _PAIR_FIELDS == tuple(f.name for f in dataclasses.fields(PairRecord))
    with open(mined["java_repo"] / "pairs.jsonl", encoding="utf-8") as fh:
        assert all(tuple(json.loads(line)) == _PAIR_FIELDS for line in fh)


def test_java_context_json_is_json_dumps_of_build(fixture_repos, tmp_path):
    source = GitSource(str(fixture_repos["java_repo"]))
    try:
        miner = Miner(tmp_path, MineOptions(languages=["java"], workers=1))
        miner.consume(source.entries())
        mappings = miner.map_tests()
    finally:
        source.close()
    assert mappings
    body = 'public String odd() {\n\treturn "caf\u00e9 \\"quoted\\" \\\\ \u2028";\n}\n'
    for m in mappings:
        plain = JavaContext().build(m.focal, body, miner.index)
        escaped = JavaContext().build_json(m.focal, body, miner.index)
        assert plain.keys() == escaped.keys()
        for level, text in plain.items():
            assert escaped[level] == json.dumps(text, ensure_ascii=False).encode("utf-8"), level
