"""Every strategy on every architecture: loss falls, only intended tensors change, save->load reproduces logits."""

from __future__ import annotations

import copy

import pytest
import torch

from codecustom.errors import ModelError, UsageError
from codecustom.modeling import architecture as arch
from codecustom.modeling.artifacts import load_artifact, save_artifact
from codecustom.modeling.loading import load_base
from codecustom.modeling.strategies import (STRATEGIES, StrategyOptions, get_strategy, parse_strategies,
                                            trainable_summary)
from tests.support.tiny import ALL_ARCHS, SEQ2SEQ_ARCHS

TEXT = "def add(a, b):\n    return a + b\n\nclass Stack:\n    def push(self, item):\n        self.items.append(item)\n"


def _batch(loaded):
    tok = loaded.tokenizer
    ids = tok([TEXT, TEXT[::-1]], return_tensors="pt", padding="max_length", max_length=40, truncation=True)
    if loaded.is_seq2seq:
        labels = ids["input_ids"][:, :20].clone()
        labels[labels == tok.pad_token_id] = -100
        return {"input_ids": ids["input_ids"], "attention_mask": ids["attention_mask"], "labels": labels}
    labels = ids["input_ids"].clone()
    labels[ids["attention_mask"] == 0] = -100
    return {"input_ids": ids["input_ids"], "attention_mask": ids["attention_mask"], "labels": labels}


def _overfit(model, batch, lr, steps=12):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    model.eval()  # no dropout: every change in the loss comes from the optimizer
    losses = []
    for _ in range(steps):
        loss = model(**batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


def _logits(model, batch):
    with torch.no_grad():
        return model(**batch).logits


OPTIONS = StrategyOptions(lora_r=4, lora_alpha=8, lora_dropout=0.0, prefix_tokens=4)
# Overfitting a random-init tiny model in a dozen steps needs larger steps than fine-tuning defaults.
TEST_LR = {"full": 3e-3, "l-eo": 1e-2, "l-ldb": 1e-2, "prefix": 3e-1, "lora": 1e-2}


@pytest.mark.parametrize("strategy", list(STRATEGIES))
@pytest.mark.parametrize("arch_name", ALL_ARCHS)
def test_strategy_on_architecture(arch_model, tmp_path, arch_name, strategy):
    torch.manual_seed(0)
    loaded = load_base(str(arch_model(arch_name)))
    strat = get_strategy(strategy)
    model = copy.deepcopy(loaded.model)
    base_params = dict(model.named_parameters())
    before = {name: p.detach().clone() for name, p in base_params.items()}
    intended = {id(p) for p in strat.trained_base_params(model)}

    model = strat.prepare(model, OPTIONS)
    summary = trainable_summary(model)
    assert 0 < summary.trainable <= summary.total
    assert (summary.trainable == summary.total) == (strategy == "full")
    batch = _batch(loaded)
    losses = _overfit(model, batch, TEST_LR[strategy])
    # a frozen model's loss would not move at all (no dropout); require a steady fall
    assert losses[-1] < losses[0] - 0.02 and losses[-1] <= min(losses) + 0.01, losses

    changed = {name for name, p in base_params.items() if not torch.equal(p.detach(), before[name])}
    expected = {name for name, p in base_params.items() if id(p) in intended}
    assert changed == expected  # frozen tensors bit-identical, every intended one trained
    if strategy in ("prefix", "lora"):
        assert not changed

    trained_logits = _logits(model, batch)
    info = save_artifact(model, loaded, strategy=strategy, task="tests", project="proj", store=tmp_path / "store")
    assert info.manifest["artifact_bytes"] > 0
    restored = load_artifact(info.path, base=loaded)
    torch.testing.assert_close(_logits(restored.model, batch), trained_logits, rtol=1e-5, atol=1e-5)
    # the given base stays the base
    assert all(torch.equal(p, before[n]) for n, p in loaded.model.named_parameters() if n in before)


def test_l_eo_trains_tied_weights_once_and_untied_both(arch_model):
    tied = load_base(str(arch_model("llama"))).model
    untied = load_base(str(arch_model("qwen2"))).model
    assert arch.embeddings_tied(tied) and not arch.embeddings_tied(untied)
    assert len(STRATEGIES["l-eo"].select(tied)) == 1
    assert len(STRATEGIES["l-eo"].select(untied)) == 2


def test_l_ldb_picks_the_last_decoder_block(arch_model):
    for name, expected_cls in (("gpt2", "GPT2Block"), ("t5", "T5Block"), ("bart", "BartDecoderLayer")):
        model = load_base(str(arch_model(name))).model
        blocks = arch.decoder_blocks(model)
        assert type(blocks[-1]).__name__ == expected_cls
        chosen = STRATEGIES["l-ldb"].select(model)
        assert {id(p) for p in chosen} == {id(p) for p in blocks[-1].parameters()}
        if name in SEQ2SEQ_ARCHS:  # the decoder's, not the encoder's
            enc_ids = {id(p) for p in model.get_encoder().parameters()}
            assert not enc_ids & {id(p) for p in chosen}


def test_lora_targets_found_per_architecture(arch_model):
    lora = STRATEGIES["lora"]
    llama = load_base(str(arch_model("llama"))).model
    assert lora.targets(llama, StrategyOptions()) == ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj",
                                                      "up_proj", "v_proj"]
    assert lora.targets(llama, StrategyOptions(lora_targets="attention")) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    gpt2 = load_base(str(arch_model("gpt2"))).model
    assert lora.targets(gpt2, StrategyOptions()) == ["c_attn", "c_fc", "c_proj"]
    with pytest.raises(UsageError, match="not among this model's block layers"):
        lora.targets(gpt2, StrategyOptions(lora_targets="q_proj"))


def test_lora_with_trainable_embeddings(arch_model, tmp_path):
    loaded = load_base(str(arch_model("qwen2")))
    model = STRATEGIES["lora"].prepare(copy.deepcopy(loaded.model), StrategyOptions(lora_embeddings=True, lora_r=4))
    names = trainable_summary(model).tensors
    assert any("embed_tokens" in n for n in names) and any("lm_head" in n for n in names)
    batch = _batch(loaded)
    _overfit(model, batch, 1e-3, steps=3)
    logits = _logits(model, batch)
    info = save_artifact(model, loaded, strategy="lora", task="tests", project="p", store=tmp_path)
    torch.testing.assert_close(_logits(load_artifact(info.path, base=loaded).model, batch), logits)


def test_lora_embeddings_refused_when_embeddings_are_shared(arch_model):
    model = load_base(str(arch_model("t5"))).model
    with pytest.raises(UsageError, match="shared by"):
        STRATEGIES["lora"].prepare(model, StrategyOptions(lora_embeddings=True))


def test_prefix_tokens_must_fit_the_positions(arch_model):
    model = load_base(str(arch_model("gpt2"))).model
    with pytest.raises(UsageError, match="leaves no room"):
        STRATEGIES["prefix"].prepare(model, StrategyOptions(prefix_tokens=256))


def test_incompatible_peft_pair_is_refused_with_versions():
    """Falcon's fused multi-query attention cannot take peft's prefix key/values in this version: refuse."""
    import transformers as tf

    torch.manual_seed(0)
    falcon = tf.AutoModelForCausalLM.from_config(tf.FalconConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, vocab_size=300, bos_token_id=0, eos_token_id=0))
    with pytest.raises(ModelError, match=r"prefix does not work with falcon models in transformers .* / peft "):
        STRATEGIES["prefix"].prepare(falcon, StrategyOptions(prefix_tokens=4))
    STRATEGIES["lora"].prepare(falcon, StrategyOptions(lora_r=2))  # the other adapter still works


def test_unusable_peft_config_is_a_model_error():
    import transformers as tf

    mpt = tf.AutoModelForCausalLM.from_config(tf.MptConfig(d_model=32, n_layers=2, n_heads=2, vocab_size=300))
    with pytest.raises(ModelError, match="peft cannot apply prefix to mpt"):
        STRATEGIES["prefix"].prepare(mpt, StrategyOptions(prefix_tokens=4))


def test_registry_helpers():
    assert parse_strategies("all") == ["full", "l-eo", "l-ldb", "prefix", "lora"]
    assert parse_strategies("lora, full") == ["full", "lora"]
    with pytest.raises(UsageError, match="unknown strategy 'adapter'"):
        parse_strategies("adapter")
