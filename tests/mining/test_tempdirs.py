"""Killed mining runs: their temp folders are cleaned, and a dataset a kill hid is put back."""

from __future__ import annotations

from codecustom.mining import mine
from codecustom.mining.records import is_dataset, read_manifest
from tests.support.faults import run_with_kill
from tests.support.fixture_repos import build_fixture_repo


def test_a_killed_re_mine_leaves_a_whole_dataset_and_no_leftovers(tmp_path):
    repo = build_fixture_repo("python_repo", tmp_path / "repo")
    out = tmp_path / "datasets" / "ledger"
    mine(str(repo), out=out)
    first = read_manifest(out).revision
    whole = run_with_kill(lambda: mine(str(repo), out=out), kill_at=None)
    assert whole.exit_code == 0 and whole.reached, whole.error
    for k, label in enumerate(whole.reached, 1):
        assert run_with_kill(lambda: mine(str(repo), out=out), kill_at=k).killed, label
        mine(str(repo), out=out)  # the next start repairs what the kill left
        siblings = sorted(p.name for p in out.parent.iterdir())
        assert siblings == ["ledger"], f"after a kill at {label} (boundary {k}): {siblings}"
        assert is_dataset(out) and read_manifest(out).revision == first
