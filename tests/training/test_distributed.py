"""Data-parallel customization for real: torchrun starts 2 CPU processes (gloo DDP) that train together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codecustom.training import distributed

ARGS = ["--strategy", "full", "--max-steps", "6", "--eval-steps", "2", "--max-length", "192", "--batch-size", "8",
        "--lr", "1e-3", "--json", "-q"]


def _customize(dataset: Path, base: Path, store: Path, *extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    res = subprocess.run([sys.executable, "-m", "codecustom", "customize", str(dataset), "--base", str(base),
                          "--store", str(store), *ARGS, *extra], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout)


@pytest.mark.slow
def test_two_process_ddp_follows_the_single_process_loss_trajectory(arch_model, dataset, tmp_path):
    base = arch_model("llama")
    one = _customize(dataset, base, tmp_path / "one")
    two = _customize(dataset, base, tmp_path / "two", "--launcher", "torchrun", "--nproc", "2")
    [a], [b] = one["artifacts"], two["artifacts"]
    manifest = json.loads((Path(b["path"]) / "manifest.json").read_text())
    assert manifest["cost"]["processes"] == 2 and manifest["metrics"]["steps"] == 6
    # every worker's tokens are counted: 6 global batches of 8 examples, as in one process (which examples
    # differ, and their lengths vary a lot, hence the range); rank 0 alone would give about half
    assert 0.7 < manifest["cost"]["tokens"] / a["cost"]["tokens"] < 1.4
    curve_1 = [c["eval_loss"] for c in a["metrics"]["curve"] if "eval_loss" in c]
    curve_2 = [c["eval_loss"] for c in manifest["metrics"]["curve"] if "eval_loss" in c]
    assert len(curve_1) == len(curve_2) == 3
    # Same global batch (2 x 4 = 8), schedule and initial weights; only which examples land in which step
    # differs (DistributedSampler vs RandomSampler), so the held-out curves agree closely, not bit for bit.
    print("eval loss, 1 process:", curve_1, "2 processes:", curve_2)
    for x, y in zip(curve_1, curve_2):
        assert abs(x - y) / x < 0.01, (curve_1, curve_2)
    assert curve_2[-1] < curve_2[0]
    assert abs(a["metrics"]["heldout_loss"] - b["metrics"]["heldout_loss"]) / a["metrics"]["heldout_loss"] < 0.05


def test_worker_command_lines():
    argv = ["customize", "/src/repo", "--launcher", "torchrun", "--nproc", "2", "--rev", "v1", "--strategy", "lora"]
    worker = distributed.worker_argv(argv, "/src/repo", "/data/ds")
    assert worker == ["customize", "/data/ds", "--strategy", "lora"]
    cmd = distributed.launch_command("torchrun", 2, worker, cuda=False)
    assert cmd[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert cmd[-5:] == ["codecustom", "customize", "/data/ds", "--strategy", "lora"]
    acc = distributed.launch_command("accelerate", 4, worker, cuda=True, fsdp=True)
    assert acc[acc.index("--config_file") + 1].endswith("fsdp.yaml") and Path(acc[acc.index("--config_file") + 1]).is_file()
    with pytest.raises(Exception, match="FSDP"):
        distributed.launch_command("accelerate", 2, worker, cuda=False, fsdp=True)


def test_batch_splits_over_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed.per_device_batch(8) == 4
    with pytest.raises(Exception, match="multiple of 2"):
        distributed.per_device_batch(7)
