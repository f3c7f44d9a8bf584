"""``codecustom export``: merged weights equal the customized model, the LoRA adapter as-is, GGUF for
llama.cpp (checked by reading it back, and by llama.cpp itself when installed); prefix tuning refused."""

from __future__ import annotations

import importlib.util
import json

import pytest

from codecustom.cli import main
from codecustom.errors import ModelError, UsageError
from codecustom.inference.export import MARKER, export, resolve_source

IDS = [[440, 274, 507, 13, 70, 17, 310, 323, 280, 353]]


def _make_artifact(model_dir, strategy: str, store):
    """A real artifact of ``strategy`` whose trained parameters moved away from the base."""
    import torch

    from codecustom.modeling.artifacts import save_artifact
    from codecustom.modeling.loading import load_base
    from codecustom.modeling.strategies import StrategyOptions, get_strategy

    loaded = load_base(str(model_dir), device="cpu")
    model = get_strategy(strategy).prepare(loaded.model, StrategyOptions(lora_r=4, prefix_tokens=4))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():  # stands in for training: every trained tensor changes
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=gen) * 0.2)
    return save_artifact(model, loaded, strategy=strategy, task="completion", project="demo", store=store).path


@pytest.fixture(scope="module")
def artifacts(tiny_model, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    cache: dict[str, object] = {}

    def get(strategy: str):
        if strategy not in cache:
            cache[strategy] = _make_artifact(tiny_model("llama"), strategy, store)
        return cache[strategy]

    return get


def _logits(model):
    import torch

    with torch.no_grad():
        return model(input_ids=torch.tensor(IDS)).logits


@pytest.mark.parametrize("strategy", ["full", "l-eo", "l-ldb", "lora"])
def test_hf_merged_equals_the_customized_model(artifacts, strategy, tmp_path):
    from codecustom.modeling.artifacts import load_artifact
    from codecustom.modeling.loading import load_base

    art = artifacts(strategy)
    result = export(resolve_source(str(art), None), "hf-merged", tmp_path / "out")
    assert (result.out / "model.safetensors").is_file() and (result.out / "tokenizer.json").is_file()
    merged = load_base(str(result.out), device="cpu")
    customized = load_artifact(art, device="cpu")
    base = load_base(json.loads((art / "manifest.json").read_text())["base"]["path"], device="cpu")
    assert _logits(merged.model).sub(_logits(customized.model)).abs().max() < 1e-4
    assert _logits(merged.model).sub(_logits(base.model)).abs().max() > 1e-3  # the customization is in there
    assert any("vllm serve" in cmd for _, cmd in result.serve)
    assert json.loads((result.out / MARKER).read_text())["strategy"] == strategy


def test_peft_export_is_the_adapter_for_vllm(artifacts, tmp_path):
    from peft import PeftModel

    from codecustom.modeling.artifacts import load_artifact
    from codecustom.modeling.loading import load_base

    art = artifacts("lora")
    result = export(resolve_source(str(art), None), "peft", tmp_path / "adapter", name="demo-lora")
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(result.files)
    base_path = json.loads((art / "manifest.json").read_text())["base"]["path"]
    served = PeftModel.from_pretrained(load_base(base_path, device="cpu").model, str(result.out))
    assert _logits(served).sub(_logits(load_artifact(art, device="cpu").model)).abs().max() < 1e-5
    (server, cmd), = result.serve
    assert server == "vLLM" and "--enable-lora" in cmd and f"--lora-modules demo-lora={result.out}" in cmd


@pytest.mark.parametrize("fmt", ["hf-merged", "peft", "gguf"])
def test_prefix_tuning_is_refused_with_the_reason(artifacts, fmt, tmp_path):
    with pytest.raises(ModelError, match="prefix tuning cannot be exported"):
        export(resolve_source(str(artifacts("prefix")), None), fmt, tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_peft_format_needs_a_lora_artifact(artifacts, tmp_path):
    with pytest.raises(ModelError, match="for LoRA artifacts"):
        export(resolve_source(str(artifacts("full")), None), "peft", tmp_path / "x")


def test_gguf_export_reads_back(artifacts, tmp_path):
    import gguf

    result = export(resolve_source(str(artifacts("lora")), None), "gguf", tmp_path / "g", outtype="f32")
    reader = gguf.GGUFReader(str(result.out / "model.gguf"))
    names = {t.name for t in reader.tensors}
    assert {"token_embd.weight", "blk.0.attn_q.weight", "blk.1.ffn_down.weight", "output_norm.weight"} <= names
    assert "output.weight" not in names  # tied embeddings: llama.cpp reuses token_embd

    def field(key):
        f = reader.fields[key]
        return f.parts[f.data[0]]

    assert bytes(field("general.architecture")).decode() == "llama"
    assert int(field("llama.block_count")[0]) == 2
    from tests.support.tiny import tiny_tokenizer

    tok = tiny_tokenizer()
    assert int(field("tokenizer.ggml.fim_pre_token_id")[0]) == tok.convert_tokens_to_ids("<fim_prefix>")
    assert int(field("tokenizer.ggml.eos_token_id")[0]) == tok.eos_token_id
    assert bytes(field("tokenizer.ggml.pre")).decode() == "gpt-2"
    assert (result.out / "Modelfile").read_text().startswith("FROM ./model.gguf")
    assert [s for s, _ in result.serve] == ["llama.cpp", "llama-cpp-python", "Ollama"]


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed (pip install llama-cpp-python to check GGUF in llama.cpp)")
@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_gguf_logits_match_in_llama_cpp(tiny_model, arch, tmp_path):
    import llama_cpp
    import numpy as np

    from codecustom.modeling.loading import load_base

    result = export(resolve_source(None, str(tiny_model(arch))), "gguf", tmp_path / "g", outtype="f32")
    llm = llama_cpp.Llama(model_path=str(result.out / "model.gguf"), n_ctx=64, logits_all=True, verbose=False,
                          n_threads=1)
    llm.eval(IDS[0])
    ours = _logits(load_base(str(tiny_model(arch)), device="cpu").model)[0].numpy()
    theirs = np.array(llm.scores[: len(IDS[0])])
    assert np.abs(ours - theirs).max() < 1e-3
    assert (ours.argmax(-1) == theirs.argmax(-1)).all()


def test_gguf_refuses_other_architectures(tiny_model, tmp_path):
    with pytest.raises(ModelError, match="Llama-style"):
        export(resolve_source(None, str(tiny_model("gpt2"))), "gguf", tmp_path / "g")


def test_out_folder_is_never_clobbered(artifacts, tmp_path):
    src = resolve_source(str(artifacts("l-eo")), None)
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep me")
    with pytest.raises(UsageError, match="not written by codecustom export"):
        export(src, "hf-merged", user, force=True)
    assert (user / "notes.txt").read_text() == "keep me"
    out = tmp_path / "out"
    export(src, "hf-merged", out)
    with pytest.raises(UsageError, match="--force"):
        export(src, "hf-merged", out)
    export(src, "hf-merged", out, force=True)
    assert (out / MARKER).is_file() and not list(tmp_path.glob(".out.*"))


def test_cli_prints_the_serve_commands(artifacts, tmp_path, capsys):
    code = main(["export", str(artifacts("lora")), "--format", "peft", "--out", str(tmp_path / "a"),
                 "--name", "demo"])
    out = capsys.readouterr().out
    assert code == 0 and "vllm serve" in out and "--lora-modules demo=" in out and "codecustom complete" in out
    code = main(["export", str(artifacts("prefix")), "--format", "gguf", "--out", str(tmp_path / "b")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "prefix tuning cannot be exported" in err
    assert main(["export", "--format", "gguf", "--out", str(tmp_path / "c")]) == 2
    assert "name an ARTIFACT" in capsys.readouterr().err
