"""scripts/eval_base.py: n-gram baselines and the end-to-end table on a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "eval_base.py"


def test_bigram_beats_unigram_on_text_it_has_seen():
    mod = load_script("eval_base")
    seqs = [[1, 2, 3, 4] * 50]
    uni = mod.NGram(1, 10).fit(seqs)
    bi = mod.NGram(2, 10).fit(seqs)
    assert mod.ngram_perplexity(bi, seqs) < mod.ngram_perplexity(uni, seqs) < 10
    assert bi.next_token(1) == 2 and bi.next_token(4) == 1


def test_end_to_end_on_a_tiny_model(tiny_model, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "shapes.py").write_text(
        "import math\n\n\ndef area(radius):\n    return math.pi * radius * radius\n\n\n"
        "def perimeter(radius):\n    return 2 * math.pi * radius\n", encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.py").write_text("def f(x):\n    return x + 1\n" * 20, encoding="utf-8")
    out = tmp_path / "r.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--model", str(tiny_model("llama")), "--eval", str(code),
                          "--corpus", str(corpus), "--cursors", "4", "--device", "cpu", "--json", str(out)],
                         capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert set(rows) == {"model", "unigram", "bigram"}
    for row in rows.values():
        assert row["perplexity"] > 1 and row["n"] == 4
        assert 0 <= row["exact_match"] <= 1 and 0 <= row["syntax_valid"] <= 1
    assert "bigram" in res.stdout and "perplexity" in res.stdout
