#!/usr/bin/env python
"""Training throughput and MFU of each customization strategy, on Hugging Face Trainer as customize runs it.

Model: a Llama-style causal LM built from a ``LlamaConfig`` with random weights (default 12 layers,
hidden 768, MLP 2048, 12 heads, vocab 32000, untied output: 134M parameters), trained on random
token blocks of ``--seq`` tokens (packed: no padding). Each row is one (strategy, variant) run of
``--warmup`` steps (compilation, allocator warm-up) then ``--steps`` timed steps; the clock syncs the
GPU only at the two ends, so the timed window is steady state.

Variants (``--variants``, applied to ``full``; other strategies run ``tuned``):
  plain     Trainer with bf16 autocast, default AdamW, default attention, no compile
  compiled  plain + torch.compile + fused AdamW
  tuned     what ``codecustom customize`` uses on CUDA (codecustom.training.speed): compile, fused AdamW,
            no per-step host syncs (no NaN check, no token counting, rare logging), non-blocking
            pinned copies, dataloader workers, no KV cache, mask-free causal SDPA (flash) when exact
  tuned-bf16w  tuned with bf16 weights (and optimizer state) instead of fp32 master weights + autocast

MFU = 6 * N * tokens/s / peak, N = all parameters of the base model (as the issue defines it);
HFU uses codecustom's strategy-aware FLOPs formula (codecustom/training/cost.py: only what each
strategy computes, attention included) over the same peak. Peak defaults to 989e12 (H100 SXM dense
bf16); pass --peak-flops for other GPUs.

    python scripts/bench_train.py --out bench_train.json                      # the GPU run
    python scripts/bench_train.py --strategies full --variants plain,tuned   # a subset
    python scripts/bench_train.py --device cpu --tiny --out /tmp/b.json      # smoke test on CPU
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

log = logging.getLogger("bench_train")
H100_BF16_DENSE = 989e12
VARIANTS = ("plain", "compiled", "tuned", "tuned-bf16w")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="cuda (default when available) or cpu")
    p.add_argument("--tiny", action="store_true", help="a tiny model and few steps (CPU smoke test)")
    p.add_argument("--strategies", default="all", help="comma-separated strategies or all (default: all)")
    p.add_argument("--variants", default="plain,compiled,tuned",
                   help=f"variants for full fine-tuning, from {', '.join(VARIANTS)} (default: plain,compiled,tuned)")
    p.add_argument("--seq", type=int, help="tokens per sequence (default 1024; tiny 64)")
    p.add_argument("--batch", type=int, help="sequences per step (default 16; tiny 2)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 8; tiny 1)")
    p.add_argument("--steps", type=int, help="timed steps (default 20; tiny 2)")
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--hidden", type=int, default=768)
    p.add_argument("--intermediate", type=int, default=2048)
    p.add_argument("--heads", type=int, default=12)
    p.add_argument("--vocab", type=int, default=32000)
    p.add_argument("--tie", action="store_true", help="tie the output layer to the embeddings (110M instead of 134M)")
    p.add_argument("--peak-flops", type=float, default=None,
                   help="peak dense bf16 FLOP/s of the device (default 989e12 on CUDA = H100 SXM; none on CPU)")
    p.add_argument("--compile-mode", default=None, help="torch.compile mode for compiled variants (default: inductor default)")
    p.add_argument("--workers", type=int, default=2, help="dataloader workers for tuned variants (default 2)")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--verbose", action="store_true", help="log fallbacks and tracebacks")
    return p.parse_args(argv)


def model_config(args: argparse.Namespace) -> Any:
    from transformers import LlamaConfig

    if args.tiny:
        return LlamaConfig(vocab_size=1024, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=args.seq,
                           tie_word_embeddings=args.tie, use_cache=False)
    return LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                       num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.heads,
                       max_position_embeddings=max(args.seq, 2048), tie_word_embeddings=args.tie, use_cache=False)


class RandomBlocks:
    """Fixed random token blocks (seeded): packed training data without padding."""

    def __init__(self, n: int, seq: int, vocab: int, seed: int = 0) -> None:
        import torch

        gen = torch.Generator().manual_seed(seed)
        self.data = torch.randint(0, vocab, (n, seq), generator=gen)

    def __len__(self) -> int:
        return self.data.shape[0]

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.data[i]
        return {"input_ids": row, "labels": row}


def make_clock(warmup: int, steps: int, cuda: bool) -> Any:
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        """Times steps warmup+1 .. warmup+steps; syncs the GPU only at those two points."""

        def __init__(self) -> None:
            self.t0 = self.t1 = None

        def _now(self) -> float:
            if cuda:
                import torch

                torch.cuda.synchronize()
            return time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if state.global_step == warmup:
                self.t0 = self._now()
            elif state.global_step == warmup + steps:
                self.t1 = self._now()

    return Clock()


def run_row(strategy: str, variant: str, args: argparse.Namespace, *, cuda: bool, compile_ok: bool = True) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, PrinterCallback, ProgressCallback, Trainer, set_seed

    from codecustom.modeling.strategies import STRATEGIES, StrategyOptions, trainable_summary
    from codecustom.training.cost import TokenCounts, flop_profile
    from codecustom.training.speed import performance_arguments, use_causal_kernel
    from codecustom.training.trainer import make_training_args

    set_seed(0)
    config = model_config(args)
    model = AutoModelForCausalLM.from_config(config)
    n_params = sum(p.numel() for p in model.parameters())
    bf16_weights = variant == "tuned-bf16w"
    if bf16_weights:
        model.to(torch.bfloat16)
    strat = STRATEGIES[strategy]
    model = strat.prepare(model, StrategyOptions())
    device = "cuda" if cuda else "cpu"
    model.to(device)
    summary = trainable_summary(model)
    notes: list[str] = []
    tuned = variant.startswith("tuned")
    compiled = variant in ("compiled", "tuned", "tuned-bf16w") and compile_ok and cuda
    if variant != "plain" and not compile_ok:
        notes.append("eager (compile failed)")
    elif variant != "plain" and not cuda:
        notes.append("eager on CPU")
    if tuned and not use_causal_kernel(model, config.vocab_size):
        notes.append("standard SDPA (mask-free kernel not exact here)")
    total = args.warmup + args.steps
    data = RandomBlocks(total * args.batch, args.seq, config.vocab_size)
    if tuned:
        perf = performance_arguments(cuda=cuda, bf16=not bf16_weights, compile=compiled,
                                     compile_mode=args.compile_mode, num_workers=args.workers if cuda else 0)
    else:
        perf = {"bf16": cuda, "use_cpu": not cuda,
                "optim": "adamw_torch_fused" if variant == "compiled" and cuda else "adamw_torch",
                "torch_compile": compiled}
        if compiled and args.compile_mode:
            perf["torch_compile_mode"] = args.compile_mode
    targs = make_training_args(
        output_dir=str(Path(args.workdir) / f"{strategy}-{variant}"), per_device_train_batch_size=args.batch,
        max_steps=total, learning_rate=strat.default_lr, lr_scheduler_type="constant", warmup_steps=0,
        save_strategy="no", eval_strategy="no", report_to="none", disable_tqdm=True,
        logging_steps=total + 1 if tuned else 500, remove_unused_columns=False, seed=0, **perf)
    clock = make_clock(args.warmup, args.steps, cuda)
    trainer = Trainer(model=model, args=targs, train_dataset=data, callbacks=[clock])
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    if clock.t0 is None or clock.t1 is None:
        raise RuntimeError("training ended before the timed window")
    seconds = clock.t1 - clock.t0
    tokens = args.steps * args.batch * args.seq
    tokens_per_s = tokens / seconds
    counts = TokenCounts()
    for _ in range(args.steps):
        counts.add_batch({"input_ids": torch.empty(args.batch, args.seq, dtype=torch.long)}, is_seq2seq=False)
    counts.tokens = tokens
    formula_flops = flop_profile(trainer.model, reaches_input=strat.reaches_input).flops(counts)
    peak_flops = args.peak_flops
    row: dict[str, Any] = {
        "strategy": strategy, "variant": variant, "params": n_params, "trainable_params": summary.trainable,
        "trainable_percent": round(summary.percent, 4), "batch": args.batch, "seq": args.seq,
        "timed_steps": args.steps, "seconds": round(seconds, 4), "step_ms": round(1000 * seconds / args.steps, 2),
        "tokens_per_s": round(tokens_per_s, 1),
        "model_tflops_per_s": round(6 * n_params * tokens_per_s / 1e12, 2),
        "mfu": round(6 * n_params * tokens_per_s / peak_flops, 4) if peak_flops else None,
        "hfu_formula": round(formula_flops / seconds / peak_flops, 4) if peak_flops else None,
        "peak_memory_gb": round((torch.cuda.max_memory_allocated() if cuda else _rss()) / 2**30, 2),
        "attention": trainer.model.config._attn_implementation if hasattr(trainer.model, "config") else None,
        "notes": "; ".join(notes),
    }
    del trainer, model, data
    return row


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _cleanup(cuda: bool) -> None:
    gc.collect()
    try:
        import torch._dynamo

        torch._dynamo.reset()
    except Exception:  # older torch: nothing to reset
        pass
    if cuda:
        import torch

        torch.cuda.empty_cache()


def plan_rows(args: argparse.Namespace) -> list[tuple[str, str]]:
    from codecustom.modeling.strategies import parse_strategies

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"bench_train: unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    rows = []
    for strategy in parse_strategies(args.strategies):
        for variant in (variants if strategy == "full" else ["tuned"]):
            rows.append((strategy, variant))
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    from codecustom.console import format_table as fmt

    headers = ["strategy", "variant", "trainable %", "tokens/s", "step ms", "MFU %", "HFU %", "peak GB", "attention",
               "notes"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["strategy"], r["variant"], None, None, None, None, None, None, None,
                         f"error: {r['error']}"])
            continue
        body.append([r["strategy"], r["variant"], r["trainable_percent"], r["tokens_per_s"], r["step_ms"],
                     None if r["mfu"] is None else round(100 * r["mfu"], 1),
                     None if r["hfu_formula"] is None else round(100 * r["hfu_formula"], 1),
                     r["peak_memory_gb"], r["attention"], r["notes"] or ""])
    return fmt(body, headers)


def main(argv: list[str] | None = None) -> int:
    import tempfile

    args = parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    import torch
    import transformers

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import warnings

    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
    cuda = (args.device or ("cuda" if torch.cuda.is_available() else "cpu")).startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("bench_train: --device cuda but no CUDA device is available")
    defaults = (64, 2, 1, 2) if args.tiny else (1024, 16, 8, 20)
    args.seq = args.seq or defaults[0]
    args.batch = args.batch or defaults[1]
    args.warmup = args.warmup if args.warmup is not None else defaults[2]
    args.steps = args.steps or defaults[3]
    if args.peak_flops is None and cuda:
        args.peak_flops = H100_BF16_DENSE
    rows_plan = plan_rows(args)
    device_name = torch.cuda.get_device_name() if cuda else platform.processor() or "cpu"
    import peft

    header = {"device": device_name, "cuda": cuda, "torch": torch.__version__, "transformers": transformers.__version__,
              "peft": peft.__version__, "python": platform.python_version(), "peak_flops": args.peak_flops,
              "model": {k: v for k, v in model_config(args).to_dict().items()
                        if k in ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                                 "vocab_size", "tie_word_embeddings")},
              "seq": args.seq, "batch": args.batch, "warmup_steps": args.warmup, "timed_steps": args.steps}
    print(f"bench_train: {device_name}, torch {torch.__version__}, transformers {transformers.__version__}; "
          f"seq {args.seq} x batch {args.batch}; {len(rows_plan)} runs", flush=True)
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_train_") as work:
        args.workdir = work
        for strategy, variant in rows_plan:
            started = time.perf_counter()
            try:
                try:
                    row = run_row(strategy, variant, args, cuda=cuda)
                except Exception as exc:
                    if variant == "plain" or not cuda:
                        raise
                    log.warning("%s/%s: compiled run failed (%s: %s); retrying eager", strategy, variant,
                                type(exc).__name__, exc)
                    if args.verbose:
                        traceback.print_exc()
                    _cleanup(cuda)
                    row = run_row(strategy, variant, args, cuda=cuda, compile_ok=False)
            except Exception as exc:  # one failed row never loses the others
                if args.verbose:
                    traceback.print_exc()
                row = {"strategy": strategy, "variant": variant, "error": f"{type(exc).__name__}: {exc}"[:300]}
            row["wall_s"] = round(time.perf_counter() - started, 1)
            results.append(row)
            _cleanup(cuda)
            done = row.get("tokens_per_s")
            print(f"  {strategy:<7} {variant:<12} " + (f"{done:,.0f} tokens/s" if done else row.get("error", "")),
                  flush=True)
            if args.out:
                Path(args.out).write_text(json.dumps({**header, "rows": results}, indent=2) + "\n")
    print(format_table(results))
    if args.peak_flops:
        print(f"MFU = 6 * N * tokens/s / {args.peak_flops:.3g} with N = {results[0].get('params', 0):,} parameters; "
              "HFU = codecustom's per-strategy FLOPs formula / time / peak")
    if args.out:
        print(f"wrote {args.out}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
