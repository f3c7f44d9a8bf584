"""scripts/fim_check.py: prefix-swap NLL per FIM order."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "fim_check.py"

CODE = "".join(f"def handler_{i}(request, value):\n    result = compute(request.payload, value + {i})\n"
               f"    return result.total * {i}\n\n" for i in range(12))


def test_line_cuts_put_the_rest_of_the_line_in_the_middle():
    cuts = load_script("fim_check").line_cuts([CODE], 20, seed=0)
    assert len(cuts) == 20
    for prefix, middle, suffix in cuts:
        assert "\n" not in middle and len(middle) >= 3
        assert (prefix + middle + suffix) in CODE
        assert suffix.startswith("\n") or not suffix


def test_end_to_end_on_a_tiny_model(tiny_model, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "handlers.py").write_text(CODE, encoding="utf-8")
    out = tmp_path / "r.json"
    res = subprocess.run([sys.executable, str(SCRIPT), "--model", str(tiny_model("llama")), "--eval", str(code),
                          "--cases", "6", "--json", str(out)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["cases"] == 6 and set(data["rows"]) == {"psm", "spm"} and data["best"] in ("psm", "spm")
    for row in data["rows"].values():
        assert row["real_prefix_nll"] > 0 and row["swapped_prefix_nll"] > 0
        assert abs(row["prefix_gain"] - (row["swapped_prefix_nll"] - row["real_prefix_nll"])) < 1e-9
    assert "uses the prefix most in" in res.stdout
