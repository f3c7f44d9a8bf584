"""`codecustom evaluate` end to end through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codecustom.cli import main
from codecustom.mining.records import PairRecord, read_jsonl
from tests.evaluation.repos import repo_with_dataset


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("evalcli")
    return repo_with_dataset(tmp)


def _snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in repo.rglob("*") if p.is_file()}


def _predictions(dataset: Path, out: Path, *, with_wrong: bool = False) -> Path:
    """The reference tests as predictions (and, with ``with_wrong``, a second sample that fails)."""
    with open(out, "w") as fh:
        for pair in read_jsonl(dataset / "pairs.jsonl", PairRecord):
            if pair.split == "test" and pair.language == "python":
                samples = [pair.test]
                if with_wrong:
                    samples.append(pair.test.replace("assertEqual(", "assertNotEqual(")
                                   .replace("assertTrue(", "assertFalse("))
                fh.write(json.dumps({"test_id": pair.test_id, "samples": samples}) + "\n")
    return out


def test_reference_tests_as_predictions_score_perfectly(project, tmp_path: Path, capsys) -> None:
    repo, dataset, _ = project
    before = _snapshot(repo)
    preds = _predictions(dataset, tmp_path / "preds.jsonl", with_wrong=True)
    out = tmp_path / "out"
    code = main(["evaluate", "--predictions", str(preds), "--data", str(dataset), "--out", str(out),
                 "--no-pytest-plugins", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    tests = summary["tests"]
    assert tests["n_examples"] == 3 and tests["samples"] == 2
    # BLEU/CodeBLEU use each example's first sample (the reference); EM counts every sample
    assert tests["bleu"] == pytest.approx(1.0) and tests["codebleu"] == pytest.approx(1.0)
    assert tests["exact_match"] == 0.5 and tests["syntax_valid"] == 1.0
    ex = tests["execution"]
    assert ex["enabled"] and ex["build@1"] == 1.0 and ex["build@2"] == 1.0
    assert ex["pass@1"] == pytest.approx(0.5) and ex["pass@2"] == 1.0 and ex["cover@2"] == 1.0
    assert ex["ladder"] == {"built": 6, "passed": 3, "failed": 3, "covered": 3}
    for name in ("eval.json", "tests.jsonl", "report.md", "report.html"):
        assert (out / name).is_file()
    html = (out / "report.html").read_text()
    assert "<svg" in html  # plots inline, nothing fetched from elsewhere
    assert not any(tag in html for tag in ('src="http', "<link", "<script", "url(http"))
    assert _snapshot(repo) == before  # the user's repository is never written


def test_a_tiny_model_is_evaluated_with_completion_and_perplexity(project, tiny_model, tmp_path: Path, capsys) -> None:
    _, dataset, _ = project
    model = tiny_model("gpt2")
    code = main(["evaluate", "--base", str(model), "--data", str(dataset), "--out", str(tmp_path / "o"),
                 "--completions", "2", "--max-new-tokens", "8", "--no-exec", "--json"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"]["arch"] == "gpt2"
    assert summary["tests"]["perplexity"] > 1.0 and summary["tests"]["perplexity_tokens"] > 0
    assert summary["tests"]["execution"]["note"] == "disabled (--no-exec)"
    assert summary["completion"]["n"] == 2
    assert 0.0 <= summary["completion"]["edit_similarity"] <= 1.0
    lines = (tmp_path / "o" / "completions.jsonl").read_text().splitlines()
    assert len(lines) == 2 and all("prediction" in json.loads(x) for x in lines)


@pytest.mark.parametrize(("argv", "message"), [
    (["evaluate"], "nothing to evaluate"),
    (["evaluate", "--base", "/nonexistent/model", "--data", "."], "does not exist"),
    (["evaluate", "--predictions", "/nonexistent.jsonl", "--data", "."], "does not exist"),
    (["evaluate", "--predictions", "{preds}", "--data", "/tmp"], "not a mined dataset"),
    (["evaluate", "--predictions", "{bad}", "--data", "{data}"], "not a prediction record"),
    (["evaluate", "--predictions", "{preds}", "--data", "{data}", "--samples", "3", "--temperature", "0"],
     "needs --temperature > 0"),
])
def test_bad_input_is_one_line(project, tmp_path: Path, capsys, argv: list[str], message: str) -> None:
    _, dataset, _ = project
    preds = _predictions(dataset, tmp_path / "p.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    argv = [a.format(preds=preds, bad=bad, data=dataset) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
