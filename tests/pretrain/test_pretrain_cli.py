"""End to end through the real CLI: a micro model pretrained for a few steps on a tiny corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codecustom.cli import main
from tests.pretrain.corpus_fixtures import GPL_TEXT, make_project

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def one_thread():
    """Micro models gain nothing from a second thread, and a busy machine makes OpenMP spin."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory: pytest.TempPathFactory, one_thread) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("pretrain")
    corpus = make_project(root / "corpus" / "shapes-project", funcs=20)
    out = root / "model"
    json_path = root / "result.json"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["pretrain", "--corpus", str(root / "corpus"), "--out", str(out), "--size", "micro",
                     "--max-steps", "25", "--seq-len", "64", "--batch-size", "8", "--lr", "5e-3", "--workers", "1",
                     "--device", "cpu", "--json", "--quiet"])
    assert code == 0
    json_path.write_text(buf.getvalue())
    return corpus, out, json.loads(buf.getvalue())


def test_output_loads_with_load_base_and_generates(pretrained) -> None:
    from codecustom.modeling.loading import load_base

    _, out, _ = pretrained
    loaded = load_base(str(out), device="cpu")
    assert loaded.arch == "llama" and not loaded.is_seq2seq
    enc = loaded.tokenizer("def area(self):\n    return", return_tensors="pt")
    gen = loaded.model.generate(**enc, max_new_tokens=5, do_sample=False, pad_token_id=loaded.tokenizer.pad_token_id)
    assert gen.shape[1] > enc["input_ids"].shape[1]
    for token in ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"):
        assert token in loaded.tokenizer.get_vocab()


def test_card_records_sources_training_and_loss_fell(pretrained) -> None:
    _, out, result = pretrained
    card = json.loads((out / "card.json").read_text())
    assert card["format"] == "codecustom-pretrained" and card["placeholder"] is False and card["size"] == "micro"
    (src,) = card["data"]["sources"]
    assert src["name"] == "shapes-project" and src["license"] == "MIT" and src["files"] > 10
    assert card["training"]["steps"] == 25 and card["training"]["tokens"] == 25 * 8 * 64
    curve = card["loss_curve"]
    assert curve[0]["step"] == 1 and curve[-1]["step"] == 25
    assert curve[-1]["loss"] < curve[0]["loss"] - 0.5  # it learned something
    assert card["evaluation"]["heldout_corpus"]["perplexity"] > 1
    assert set(card["training"]["token_mix"]) >= {"lm", "fim"}
    assert "codecustom pretrain --corpus" in card["command"] and "--size micro" in card["command"]
    assert json.loads((out / "loss_curve.json").read_text())["train"] == curve
    readme = (out / "README.md").read_text()
    assert "shapes-project" in readme and "MIT" in readme and "## Reproduce" in readme
    assert result["steps"] == 25 and result["out"] == str(out)


def test_test_task_pairs_mined_from_the_corpus(pretrained) -> None:
    from codecustom.training.pretrain.task import miner_available

    if not miner_available():
        pytest.skip("the miner's git-free layer is not importable here")
    _, out, result = pretrained
    card = json.loads((out / "card.json").read_text())
    assert result["test_pairs"] > 0 and card["test_task"]["pairs"] == result["test_pairs"]
    assert card["training"]["token_mix"].get("test", 0) > 0


def test_weights_are_bf16_safetensors_under_the_copy_limit(pretrained) -> None:
    _, out, _ = pretrained
    weights = list(out.glob("*.safetensors"))
    assert weights and all(p.stat().st_size <= 15 * 2**20 for p in weights)
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "llama" and config.get("dtype", config.get("torch_dtype")) == "bfloat16"


def test_refuses_to_replace_without_overwrite(pretrained, capsys) -> None:
    corpus, out, _ = pretrained
    before = (out / "card.json").read_text()
    code = main(["pretrain", "--corpus", str(corpus), "--out", str(out), "--size", "micro", "--max-steps", "1"])
    err = capsys.readouterr().err
    assert code == 2 and "already holds a pretrained model" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "card.json").read_text() == before


def test_never_touches_a_foreign_folder(tmp_path: Path, capsys) -> None:
    corpus = make_project(tmp_path / "corpus")
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code = main(["pretrain", "--corpus", str(corpus), "--out", str(out), "--size", "micro", "--max-steps", "1",
                 "--overwrite"])
    err = capsys.readouterr().err
    assert code == 2 and "not written by codecustom pretrain" in err
    assert (out / "notes.txt").read_text() == "keep me" and len(list(out.iterdir())) == 1


@pytest.mark.parametrize("args, message", [
    (["--corpus", "{tmp}/missing"], "does not exist"),
    (["--corpus", "{gpl}"], "corpus is empty"),
    (["--corpus", "{gpl}", "--languages", "cobol"], "unknown corpus language"),
    (["--corpus", "{gpl}", "--minutes", "0"], "--minutes must be positive"),
])
def test_bad_input_is_one_line(tmp_path: Path, capsys, args: list[str], message: str) -> None:
    gpl = make_project(tmp_path / "gpl", license_text=GPL_TEXT)
    argv = ["pretrain", "--out", str(tmp_path / "out"), "--size", "micro", "--workers", "1"]
    argv += [a.format(tmp=tmp_path, gpl=gpl) for a in args]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
