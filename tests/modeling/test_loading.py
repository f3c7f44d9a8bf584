"""Loading base models: local folders, offline hub ids, no pickle or remote code unless asked."""

from __future__ import annotations

import json
import shutil

import pytest

from codecustom.errors import ModelError
from codecustom.modeling.loading import load_base, weights_hash
from tests.support.tiny import ALL_ARCHS


@pytest.mark.parametrize("arch_name", ALL_ARCHS)
def test_loads_every_architecture_from_a_folder(arch_model, arch_name):
    loaded = load_base(str(arch_model(arch_name)))
    assert loaded.arch == arch_name
    assert loaded.is_seq2seq == (arch_name in ("t5", "bart"))
    assert loaded.tokenizer.pad_token is not None and loaded.device == "cpu"
    assert len(loaded.base_hash) == 64 and not loaded.model.training


def test_uncached_hub_id_fails_fast_offline(monkeypatch):
    import socket

    def no_network(*args, **kwargs):  # fast = no download attempted: no connection is even opened
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    with pytest.raises(ModelError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE=1 is set"):
        load_base("someorg/some-code-model")


def test_bad_paths_are_clear(tmp_path):
    with pytest.raises(ModelError, match="does not exist"):
        load_base(str(tmp_path / "nope" / "model"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="no config.json"):
        load_base(str(tmp_path / "empty"))


def test_pickle_weights_need_allow_pickle(arch_model, tmp_path):
    import torch
    from safetensors.torch import load_file

    folder = tmp_path / "pickled"
    shutil.copytree(arch_model("llama"), folder)
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="only has pickle weights"):
        load_base(str(folder))
    assert load_base(str(folder), allow_pickle=True).arch == "llama"


def test_remote_code_needs_the_flag(arch_model, tmp_path):
    folder = tmp_path / "custom"
    shutil.copytree(arch_model("llama"), folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="mycustom", auto_map={"AutoConfig": "configuration_my.MyConfig"})
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "configuration_my.py").write_text("raise SystemExit('remote code ran')\n")
    with pytest.raises(ModelError, match="needs its own Python code"):
        load_base(str(folder))


def test_weights_hash_is_content_based_and_cached(arch_model, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(arch_model("gpt2"), folder)
    first = weights_hash(folder)
    assert first == weights_hash(arch_model("gpt2"))  # same bytes, same hash
    cfg = json.loads((folder / "config.json").read_text())
    cfg["_note"] = "cosmetic"
    (folder / "config.json").write_text(json.dumps(cfg))
    assert weights_hash(folder) == first
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 1
    (folder / "model.safetensors").write_bytes(bytes(data))
    assert weights_hash(folder) != first  # the cache notices a rewritten file
