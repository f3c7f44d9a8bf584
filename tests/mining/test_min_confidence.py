"""`--min-confidence`: pairs mined with less confidence (end-to-end entry points) can be left out of training."""

from __future__ import annotations

import copy

from codecustom.cli import main
from codecustom.data.tasks import TaskConfig, build_task_data
from codecustom.mining import mine_tree
from codecustom.mining.records import PairRecord, read_jsonl
from tests.support.tiny import tiny_tokenizer

FILES = {
    "src/tpl/__init__.py": "",
    "src/tpl/engine.py": "def render(source, data):\n    return source.format(**data)\n",
    "src/tpl/nodes.py": "class Var:\n    def __init__(self, name):\n        self.name = name\n\n"
                        "    def lookup(self, data):\n        return data[self.name]\n",
}
TESTS = "".join(
    f"def test_lookup_{i}():\n    assert Var('a').lookup({{'a': {i}}}) == {i}\n\n\n"
    f"def test_renders_{i}():\n    assert render('{{a}}', {{'a': Var('x').name + '{i}'}}) == 'x{i}'\n\n\n"
    for i in range(12))


def test_min_confidence_leaves_out_entry_points(tmp_path):
    files = dict(FILES, **{"tests/test_nodes.py": "from tpl.engine import render\nfrom tpl.nodes import Var\n\n\n" + TESTS})
    ds = mine_tree(((p, t.encode()) for p, t in files.items()), out=tmp_path / "ds", languages=["python"])
    pairs = list(read_jsonl(ds / "pairs.jsonl", PairRecord))
    heuristics = {p.heuristic for p in pairs}
    assert "entry_point" in heuristics and min(p.confidence for p in pairs) <= 0.5 < max(p.confidence for p in pairs)
    everything = build_task_data(ds, "tests", copy.deepcopy(tiny_tokenizer()), is_seq2seq=False,
                                 config=TaskConfig(max_length=128))
    surer = build_task_data(ds, "tests", copy.deepcopy(tiny_tokenizer()), is_seq2seq=False,
                            config=TaskConfig(max_length=128, min_confidence=0.6), min_examples=1)
    total = sum(len(v) for v in everything.splits.values())
    kept = sum(len(v) for v in surer.splits.values())
    low = sum(p.confidence < 0.6 for p in pairs)
    assert low and kept == total - low
    assert any("--min-confidence" in n for n in surer.notes)


def test_min_confidence_out_of_range_is_one_line(tmp_path, capsys):
    assert main(["customize", str(tmp_path), "--min-confidence", "1.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--min-confidence" in err[0]
    assert main(["compare", str(tmp_path), "--min-confidence", "-0.1"]) == 2
    assert "--min-confidence" in capsys.readouterr().err
