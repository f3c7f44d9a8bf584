"""`codecustom customize`: train a strategy on a repository and save it as a per-project artifact."""

from __future__ import annotations

import argparse
from typing import Any

from codecustom.modeling.strategies import describe  # no torch: keeps --help fast

HELP = "customize a base model to a repo with a strategy (full, l-eo, l-ldb, prefix, lora)"
_TEMPLATE = """\
Customize a base model to one repository and save the result as a small artifact on the shared base.

REPO is a git repository (mined first, see 'codecustom mine') or a dataset folder written by
'codecustom mine'. Training uses Hugging Face Trainer: held-out loss every N steps, early stopping,
the best checkpoint restored, --resume after a kill (from the last complete checkpoint, with the
same settings). One run at a time per project/task/strategy and store: a second one stops with a
line naming the first, or waits for it with --wait. Defaults scale with the data and the device
(CPU: fp32, batch 8, <= 20 steps, 256 tokens; CUDA: bf16, fused AdamW, packing, <= 3000 steps).
The artifact goes to <store>/<project>/<task>/<strategy>/ with a manifest of hyper-parameters,
held-out loss and cost (trainable %, time, tokens/s, peak memory, FLOPs, bytes).

strategies:
{strategies}

tasks:
  tests       focal method context -> unit test (loss on the test only)
  completion  fill-in-the-middle on the repo's files, packed (decoder-only models)

examples:
  codecustom customize . --strategy lora
  codecustom customize ~/src/gson --base bigcode/tiny_starcoder_py --strategy l-ldb --task completion
  codecustom customize ~/.cache/codecustom/datasets/gson/1a2b3c4 --strategy full,lora --max-steps 200
  codecustom customize . --strategy prefix --resume     # continue after an interruption
"""


DESCRIPTION = _TEMPLATE.format(strategies=describe())


def add_training_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by `customize` and `compare`."""
    p.add_argument("repo", metavar="REPO", help="git repository (path or URL) or a dataset folder from 'codecustom mine'")
    p.add_argument("--base", metavar="MODEL", help="base model: local folder or cached hub id (default: the shipped model)")
    p.add_argument("--task", choices=("tests", "completion"), default="tests", help="what to customize for (default: tests)")
    p.add_argument("--project", metavar="NAME", help="project name in the store (default: the repo's folder name)")
    p.add_argument("--store", metavar="DIR", help="artifact store (default: $CODECUSTOM_STORE or $CODECUSTOM_HOME/store)")
    p.add_argument("--rev", metavar="REV", help="revision to mine when REPO is a git repository (default: HEAD)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last complete checkpoint (finished strategies are kept)")
    p.add_argument("--wait", action="store_true",
                   help="when another run is training the same project/task/strategy into the same store, "
                        "wait for it instead of stopping")
    g = p.add_argument_group("data")
    g.add_argument("--context-level", default="fm_fc_c_m",
                   choices=("fm", "fm_fc", "fm_fc_c", "fm_fc_c_m", "fm_fc_c_m_f"),
                   help="focal context given to the model for --task tests (default: fm_fc_c_m)")
    g.add_argument("--max-length", type=int, metavar="N", help="tokens per example (default: 256 on CPU, 1024 on CUDA)")
    g.add_argument("--fim-rate", type=float, default=0.5, metavar="R", help="share of completion documents in FIM form (default 0.5)")
    g.add_argument("--spm-rate", type=float, default=0.5, metavar="R", help="share of FIM documents in SPM order (default 0.5)")
    g.add_argument("--min-examples", type=int, metavar="N", help="train even with fewer examples than the task's minimum")
    g.add_argument("--min-confidence", type=float, default=0.0, metavar="C",
                   help="--task tests: leave out test/focal pairs the miner found with confidence below C (0-1; "
                        "end-to-end entry points have 0.5, direct name matches 0.95; default 0: all)")
    t = p.add_argument_group("training")
    t.add_argument("--lr", type=float, metavar="LR", help="learning rate (default: the strategy's)")
    t.add_argument("--epochs", type=float, metavar="E", help="passes over the data (default: scaled to its size)")
    t.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps (default: scaled, capped at 20 on CPU)")
    t.add_argument("--batch-size", type=int, metavar="B", help="examples per step (default: 8 CPU, 16 CUDA)")
    t.add_argument("--grad-accum", type=int, default=1, metavar="K", help="gradient accumulation steps (default 1)")
    t.add_argument("--eval-steps", type=int, metavar="N", help="evaluate and checkpoint every N steps (default: ~6 per run)")
    t.add_argument("--patience", type=int, default=3, metavar="P", help="evaluations without improvement before stopping (default 3)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--device", metavar="DEV", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    t.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA)")
    t.add_argument("--no-packing", action="store_true", help="padded batches even on CUDA")
    s = p.add_argument_group("strategy options")
    s.add_argument("--lora-r", type=int, default=8, metavar="R", help="LoRA rank (default 8)")
    s.add_argument("--lora-alpha", type=int, default=16, metavar="A", help="LoRA alpha (default 16)")
    s.add_argument("--lora-dropout", type=float, default=0.05, metavar="P", help="LoRA dropout (default 0.05)")
    s.add_argument("--lora-targets", default="all", metavar="T",
                   help="all | attention | comma-separated layer names, e.g. q_proj,v_proj (default: all)")
    s.add_argument("--lora-embeddings", action="store_true", help="LoRA also trains the token embeddings and output layer")
    s.add_argument("--prefix-tokens", type=int, default=16, metavar="N", help="prefix tuning virtual tokens (default 16)")
    m = p.add_argument_group("model loading")
    m.add_argument("--trust-remote-code", action="store_true", help="allow a hub model's own Python code to run")
    m.add_argument("--allow-pickle", action="store_true", help="allow .bin/.pt weights (pickle can run code)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_training_arguments(p)
    p.add_argument("--strategy", default="lora", metavar="S",
                   help="full, l-eo, l-ldb, prefix, lora; several comma-separated, or all (default: lora)")
    d = p.add_argument_group("data-parallel training (docs/distributed.md)")
    d.add_argument("--launcher", default="none", choices=["none", "torchrun", "accelerate"],
                   help="run N data-parallel workers under torchrun or accelerate launch (DDP; FSDP with --fsdp)")
    d.add_argument("--nproc", type=int, metavar="N",
                   help="worker processes (default: the number of CUDA GPUs, else 2)")
    d.add_argument("--fsdp", action="store_true", help="shard the model with FSDP (accelerate, CUDA only)")


def request_from_args(args: argparse.Namespace, strategies: str) -> Any:
    """Turn parsed options into a :class:`~codecustom.training.customize.CustomizeRequest`."""
    from pathlib import Path

    from codecustom.data.tasks import TaskConfig
    from codecustom.errors import UsageError
    from codecustom.modeling.strategies import StrategyOptions, parse_strategies
    from codecustom.training.config import TrainConfig
    from codecustom.training.customize import CustomizeRequest

    for name in ("max_steps", "batch_size", "grad_accum", "eval_steps", "max_length", "min_examples"):
        value = getattr(args, name, None)
        if value is not None and value < (0 if name == "min_examples" else 1):
            raise UsageError(f"--{name.replace('_', '-')} must be at least {0 if name == 'min_examples' else 1}")
    for name in ("fim_rate", "spm_rate", "min_confidence"):
        if not 0.0 <= getattr(args, name) <= 1.0:
            raise UsageError(f"--{name.replace('_', '-')} must be between 0 and 1")
    if args.lr is not None and args.lr <= 0:
        raise UsageError("--lr must be positive")
    if args.patience < 1:
        raise UsageError("--patience must be at least 1")
    names = parse_strategies(strategies)
    if not names:
        raise UsageError("no strategy given", hint="e.g. --strategy lora, or all")
    train = TrainConfig(learning_rate=args.lr, epochs=args.epochs, max_steps=args.max_steps,
                        batch_size=args.batch_size, grad_accum=args.grad_accum, eval_steps=args.eval_steps,
                        patience=args.patience, seed=args.seed, device=args.device, compile=args.compile,
                        packing=False if args.no_packing else None)
    options = StrategyOptions(lora_r=args.lora_r, lora_alpha=args.lora_alpha, lora_dropout=args.lora_dropout,
                              lora_targets=args.lora_targets, lora_embeddings=args.lora_embeddings,
                              prefix_tokens=args.prefix_tokens)
    task_config = TaskConfig(context_level=args.context_level, fim_rate=args.fim_rate, spm_rate=args.spm_rate,
                             seed=args.seed, min_confidence=args.min_confidence)
    return CustomizeRequest(source=args.repo, base=args.base, strategies=names, task=args.task, train=train,
                            task_config=task_config, max_length=args.max_length, options=options,
                            project=args.project, store=Path(args.store).expanduser() if args.store else None,
                            resume=args.resume, wait=args.wait, rev=args.rev, trust_remote_code=args.trust_remote_code,
                            allow_pickle=args.allow_pickle, min_examples=args.min_examples)


def outcome_row(outcome: Any) -> list[Any]:
    m, c = outcome.metrics, outcome.cost
    peak = c.get("peak_memory_bytes")
    return [outcome.strategy, c.get("trainable_percent"), m.get("heldout_loss"), m.get("heldout_perplexity"),
            c.get("steps"), c.get("wall_time_s"), c.get("tokens_per_s"),
            round(peak / 2**20, 1) if peak else None, round(c.get("train_flops", 0) / 1e9, 3),
            round(c.get("artifact_bytes", 0) / 2**20, 3)]


OUTCOME_HEADERS = ["strategy", "trainable %", "held-out loss", "perplexity", "steps", "train s", "tokens/s",
                   "peak MB", "train GFLOPs", "artifact MB"]


def _launch(args: argparse.Namespace, console) -> int:
    """Mine once here, then run this same command on the dataset in --nproc workers."""
    import torch

    from codecustom.modeling.loading import pick_device
    from codecustom.training import distributed
    from codecustom.training.customize import resolve_dataset

    cuda = pick_device(args.device).startswith("cuda")
    nproc = args.nproc or (torch.cuda.device_count() if cuda else 2)
    dataset, _ = resolve_dataset(args.repo, rev=args.rev, console=console)
    worker = distributed.worker_argv(list(args._argv), args.repo, str(dataset))
    command = distributed.launch_command(args.launcher, nproc, worker, cuda=cuda, fsdp=args.fsdp)
    console.info(f"starting {nproc} {'FSDP' if args.fsdp else 'DDP'} workers with {args.launcher} "
                 f"({'nccl' if cuda else 'gloo'})")
    return distributed.run_workers(command)


def run(args: argparse.Namespace, console) -> int:
    from codecustom.training import distributed
    from codecustom.training.customize import customize

    if args.launcher != "none" and not distributed.in_worker():
        return _launch(args, console)
    if args.fsdp and not distributed.in_worker():
        from codecustom.errors import UsageError

        raise UsageError("--fsdp needs --launcher accelerate")
    if not distributed.is_main_process():
        console.quiet = True
        console.json_mode = False
    request = request_from_args(args, args.strategy)
    outcomes = customize(request, console)
    for o in outcomes:
        console.info(f"{o.strategy}: artifact {o.artifact}" + (" (reused)" if o.reused else ""))
    split = next((o.metrics.get("heldout_split") for o in outcomes if o.metrics.get("heldout_split")), None)
    console.table([outcome_row(o) for o in outcomes], OUTCOME_HEADERS,
                  title=f"customized {outcomes[0].manifest.get('project')} for {request.task}"
                        + (f" (held-out: {split} split)" if split else ""))
    console.result({"artifacts": [{"strategy": o.strategy, "path": str(o.artifact), "reused": o.reused,
                                   "metrics": o.metrics, "cost": o.cost} for o in outcomes]})
    return 0
