"""Data-parallel customization: re-running ``codecustom customize`` under torchrun or accelerate.

The parent process (``--launcher torchrun|accelerate``) mines the repository once, then starts
``--nproc`` workers that run the same command on the mined dataset. Hugging Face Trainer sees the
launcher's environment (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``) and wraps the model in DDP (NCCL
on CUDA, gloo on CPU) or FSDP (accelerate with ``launch/fsdp.yaml``). The per-process batch is the
global batch divided by the world size, so a run on N processes follows the same schedule (steps,
learning rate, examples per step) as one process. Only rank 0 writes checkpoints and the artifact
and prints; the other ranks stay quiet.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from codecustom.errors import UsageError

LAUNCHERS = ("none", "torchrun", "accelerate")
CONFIGS = Path(__file__).resolve().parent / "launch"
# flags the parent consumes; workers get the rest of the command line unchanged
_PARENT_FLAGS = {"--launcher": 1, "--nproc": 1, "--fsdp": 0}


def world_size() -> int:
    """Processes in this run (1 when not launched by torchrun/accelerate)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main_process() -> bool:
    return rank() == 0


def in_worker() -> bool:
    """True inside a process started by a launcher."""
    return world_size() > 1 or "LOCAL_RANK" in os.environ


def per_device_batch(global_batch: int) -> int:
    """Examples per process per step so that the global batch stays what one process would use."""
    n = world_size()
    if global_batch % n:
        raise UsageError(f"batch size {global_batch} does not split over {n} processes",
                         hint=f"pass --batch-size as a multiple of {n}")
    return max(1, global_batch // n)


def barrier() -> None:
    """Wait for every rank (no-op outside a distributed run)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def worker_argv(argv: list[str], source: str, dataset: str) -> list[str]:
    """The worker's command line: launcher flags dropped, the repository replaced by its mined dataset."""
    out: list[str] = []
    skip = 0
    replaced = False
    for arg in argv:
        if skip:
            skip -= 1
            continue
        name = arg.split("=", 1)[0]
        if name in _PARENT_FLAGS:
            skip = _PARENT_FLAGS[name] if "=" not in arg else 0
            continue
        if name == "--rev":  # the dataset is already at that revision
            skip = 1 if "=" not in arg else 0
            continue
        if not replaced and arg == source:
            out.append(dataset)
            replaced = True
            continue
        out.append(arg)
    if not replaced:
        raise UsageError(f"could not find the repository argument {source!r} on the command line")
    return out


def launch_command(launcher: str, nproc: int, args: list[str], *, cuda: bool, fsdp: bool = False) -> list[str]:
    """The command that starts ``nproc`` workers running ``codecustom <args>``."""
    if nproc < 1:
        raise UsageError("--nproc must be at least 1")
    if launcher == "torchrun":
        if fsdp:
            raise UsageError("--fsdp needs --launcher accelerate (it reads launch/fsdp.yaml)")
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                "-m", "codecustom", *args]
    if launcher == "accelerate":
        if fsdp and not cuda:
            raise UsageError("FSDP customization needs CUDA GPUs", hint="use DDP (no --fsdp) on CPU")
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(nproc)]
        if cuda:
            cmd += ["--config_file", str(CONFIGS / ("fsdp.yaml" if fsdp else "ddp.yaml"))]
        else:
            cmd += ["--cpu", "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
        return cmd + ["-m", "codecustom", *args]
    raise UsageError(f"unknown launcher {launcher!r}", hint=f"choose one of {', '.join(LAUNCHERS)}")


def run_workers(command: list[str]) -> int:
    """Run the launcher in the foreground; its exit code is ours."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // max(1, _nproc_of(command)))))
    try:
        return subprocess.run(command, env=env).returncode
    except FileNotFoundError as exc:
        raise UsageError(f"cannot start the launcher: {exc}") from None


def _nproc_of(command: list[str]) -> int:
    for i, arg in enumerate(command):
        if arg.startswith("--nproc-per-node="):
            return int(arg.split("=", 1)[1])
        if arg == "--num_processes" and i + 1 < len(command):
            return int(command[i + 1])
    return 1

