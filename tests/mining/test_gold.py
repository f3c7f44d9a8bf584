"""The mapping against the hand-labelled gold pairs: precision >= 0.95, recall >= 0.85 (the issue's aim)."""

from __future__ import annotations

from codecustom.mining.gold import GoldScore, score
from tests.support.fixture_repos import load_gold

PRECISION_AIM = 0.95
RECALL_AIM = 0.85


def test_gold_file_covers_the_tricky_cases():
    gold = load_gold()
    assert len([g for g in gold if g["focal"]]) >= 60
    assert len([g for g in gold if g["focal"] is None]) >= 8
    cases = " ".join(g["case"] for g in gold).lower()
    for needle in ("overload", "@nested", "parametrize", "unittest", "pytest class", "import", "fixture",
                   "no single focal method", "tostring", "junit 3", "@repeatedtest", "@testfactory"):
        assert needle in cases, needle


def test_precision_and_recall_meet_the_aim(mined):
    total = GoldScore()
    for repo, dataset in mined.items():
        s = score(dataset, [g for g in load_gold() if g["repo"] == repo])
        assert s.unlabelled == [], f"tests in {repo} without a gold label: {s.unlabelled}"
        total = total.add(s)
    detail = "\n".join(total.misses)
    assert total.precision >= PRECISION_AIM, f"precision {total.precision:.3f} < {PRECISION_AIM}\n{detail}"
    assert total.recall >= RECALL_AIM, f"recall {total.recall:.3f} < {RECALL_AIM}\n{detail}"
    assert total.spurious == 0, detail  # "no single focal method" tests must never be mapped
