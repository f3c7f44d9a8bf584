"""Defaults that scale with the data and the device."""

from __future__ import annotations

from codecustom.training.config import CPU_MAX_STEPS, TrainConfig, default_epochs, plan


def test_small_data_gets_more_epochs_and_cpu_caps_the_steps():
    assert default_epochs(20) == 10 and default_epochs(500) == 4 and default_epochs(100_000) == 1
    p = plan(TrainConfig(), n_train=19, device="cpu", default_lr=1e-3)
    assert (p.batch_size, p.steps_per_epoch, p.max_steps) == (8, 3, CPU_MAX_STEPS)  # 10 epochs x 3 = 30, capped
    assert p.eval_steps == 4 and p.learning_rate == 1e-3 and not p.bf16 and p.num_workers == 0
    big = plan(TrainConfig(), n_train=5000, device="cpu", default_lr=1e-3)
    assert big.max_steps == CPU_MAX_STEPS


def test_cuda_defaults_and_explicit_values_win():
    p = plan(TrainConfig(), n_train=5000, device="cuda", default_lr=1e-4, bf16_supported=True)
    assert p.batch_size == 16 and p.bf16 and p.num_workers == 2 and p.max_steps == 2 * 313
    q = plan(TrainConfig(max_steps=7, batch_size=4, learning_rate=5e-5, eval_steps=3, grad_accum=2), n_train=100,
             device="cuda", default_lr=1e-4, bf16_supported=False)
    assert (q.max_steps, q.batch_size, q.learning_rate, q.eval_steps, q.grad_accum, q.bf16) == (7, 4, 5e-5, 3, 2, False)
    assert plan(TrainConfig(), n_train=3, device="cpu", default_lr=1e-3).batch_size == 3
