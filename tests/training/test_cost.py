"""FLOPs accounting per strategy and token counting."""

from __future__ import annotations

import copy

import torch

from codecustom.modeling.loading import load_base
from codecustom.modeling.strategies import STRATEGIES, StrategyOptions
from codecustom.training.cost import TokenCounts, flop_profile


def _matmul_params(model):
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings().weight
    n = sum(p.numel() for n_, p in model.named_parameters() if p.dim() >= 2 and p is not emb
            and "embed" not in n_ and "wpe" not in n_)
    return n + out.numel()


def test_full_fine_tuning_is_six_n_t_plus_attention(arch_model):
    model = load_base(str(arch_model("llama"))).model  # tied embeddings: lm_head still a matmul
    profile = flop_profile(STRATEGIES["full"].prepare(copy.deepcopy(model), StrategyOptions()), reaches_input=True)
    n = _matmul_params(model)
    assert profile.decoder.n_fwd == profile.decoder.n_bwd == profile.decoder.n_train == n
    counts = TokenCounts()
    counts.add_batch({"input_ids": torch.ones(4, 64, dtype=torch.long),
                      "attention_mask": torch.ones(4, 64, dtype=torch.long)}, is_seq2seq=False)
    t, d, layers = 4 * 64, model.config.hidden_size, model.config.num_hidden_layers
    assert profile.flops(counts) == 6 * n * t + 4 * 64 * 64 * 2 * d * (layers + 2 * layers)
    assert counts.total_tokens() == 256


def test_frozen_strategies_cost_less_and_l_ldb_least_backward(arch_model):
    model = load_base(str(arch_model("qwen2"))).model
    counts = TokenCounts()
    counts.add_batch({"input_ids": torch.ones(2, 32, dtype=torch.long), "labels": torch.ones(2, 32, dtype=torch.long)},
                     is_seq2seq=False)
    flops = {}
    for name in STRATEGIES:
        strat = STRATEGIES[name]
        prepared = strat.prepare(copy.deepcopy(model), StrategyOptions(lora_r=2, prefix_tokens=2))
        flops[name] = flop_profile(prepared, reaches_input=strat.reaches_input).flops(counts)
    assert flops["l-ldb"] < flops["l-eo"] < flops["full"]
    assert flops["prefix"] < flops["full"] and flops["lora"] < flops["full"]


def test_seq2seq_streams_are_counted_separately(arch_model):
    model = load_base(str(arch_model("t5"))).model
    profile = flop_profile(STRATEGIES["l-ldb"].prepare(copy.deepcopy(model), StrategyOptions()), reaches_input=False)
    assert profile.encoder is not None and profile.encoder.n_fwd > 0
    assert profile.encoder.n_train == 0 and profile.encoder.n_bwd == 0 and profile.decoder.bwd_layers == 1
    counts = TokenCounts()
    counts.add_batch({"input_ids": torch.ones(2, 40, dtype=torch.long),
                      "attention_mask": torch.tensor([[1] * 40, [1] * 30 + [0] * 10]),
                      "labels": torch.ones(2, 12, dtype=torch.long)}, is_seq2seq=True)
    assert counts.total_tokens() == 70 and counts.encoder_positions == 80 and counts.decoder_positions == 24


def test_packed_blocks_count_real_tokens_only():
    counts = TokenCounts()
    labels = torch.tensor([[5, 6, 7, 8], [9, 10, -100, -100]])
    counts.add_batch({"input_ids": torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0]]), "labels": labels}, is_seq2seq=False)
    assert counts.total_tokens() == 6 and counts.decoder_positions == 8
