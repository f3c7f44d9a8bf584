#!/usr/bin/env python
"""Decode latency: HF ``generate`` (dynamic cache), HF with its static cache, and codecustom's fast path.

Default workload (issue 7): 32 new tokens after a 512-token prompt, batch 1, greedy, on a ~135M
Llama-style model built at random from ``LlamaConfig`` (SmolLM-135M's shape: 30 layers, hidden 576),
bf16 on CUDA. Every method generates exactly ``--new-tokens`` tokens (end-of-sequence disabled) and
is timed end to end (prefill + decode, synchronized) over ``--runs`` runs after ``--warmup`` runs;
the table shows p50/p95 and whether the tokens equal HF ``generate``'s.

  python scripts/bench_generate.py                                  # GPU, random 135M model
  python scripts/bench_generate.py --device cpu --model codecustom/models/default --runs 20
  python scripts/bench_generate.py --preset 100m --out results.json

A method that cannot run here is reported as skipped with the reason (never a crash); fallbacks inside
the fast path (CUDA graph capture, torch.compile) are logged and shown in the "how" column.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("bench_generate")

PRESETS = {
    # SmolLM-135M's shape: 134.5M parameters with tied embeddings
    "135m": dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                 num_key_value_heads=3, vocab_size=49152),
    # a wider, shallower ~110M model
    "100m": dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
                 num_key_value_heads=4, vocab_size=32000),
    # seconds-long smoke run on a laptop CPU
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=1024),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    p.add_argument("--model", help="model folder to load instead of a random-init Llama (e.g. the shipped model)")
    p.add_argument("--preset", choices=sorted(PRESETS), default="135m", help="random model shape (default 135m)")
    p.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="default: bf16 on CUDA, fp32 on CPU")
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--new-tokens", type=int, default=32)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--runs", type=int, default=50, help="timed runs per method (default 50)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (compilation, graph capture)")
    p.add_argument("--methods", default="hf-dynamic,hf-static,ours-eager,ours,ours-compiled",
                   help="comma-separated subset of: hf-dynamic, hf-static, ours-eager, ours, ours-compiled")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    p.add_argument("--out", help="write the results as JSON here")
    return p.parse_args(argv)


def build_model(args: argparse.Namespace) -> tuple[Any, Any, str]:
    import torch
    import transformers as tf

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[args.dtype]
    if args.model:
        from codecustom.modeling.loading import load_base

        loaded = load_base(args.model, device=args.device, dtype=dtype)
        return loaded.model, loaded.tokenizer, f"{args.model} ({loaded.arch})"
    config = tf.LlamaConfig(**PRESETS[args.preset], max_position_embeddings=2048, tie_word_embeddings=True,
                            bos_token_id=0, eos_token_id=1, pad_token_id=2)
    torch.manual_seed(0)
    model = tf.LlamaForCausalLM(config).to(dtype=dtype, device=args.device).eval()
    return model, None, f"random Llama ({args.preset})"


def make_prompt(args: argparse.Namespace, model: Any, tokenizer: Any) -> list[list[int]]:
    """``batch`` prompts of exactly ``prompt_tokens`` ids: real code through the tokenizer, else random ids."""
    import random

    n = args.prompt_tokens
    if tokenizer is not None:
        import sysconfig

        text = ""
        for rel in ("argparse.py", "textwrap.py", "json/decoder.py"):
            path = Path(sysconfig.get_paths()["stdlib"]) / rel
            if path.exists():
                text += path.read_text(encoding="utf-8")
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) >= n * args.batch:
            return [ids[i * n:(i + 1) * n] for i in range(args.batch)]
    rng = random.Random(0)
    vocab = model.config.vocab_size
    return [[rng.randrange(3, vocab) for _ in range(n)] for _ in range(args.batch)]


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn: Callable[[], list[list[int]]], args: argparse.Namespace) -> tuple[list[float], list[list[int]]]:
    for _ in range(args.warmup):
        fn()
    sync(args.device)
    times, out = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        out = fn()
        sync(args.device)
        times.append((time.perf_counter() - start) * 1000)
    return times, out


def hf_method(model: Any, rows: list[list[int]], args: argparse.Namespace, static: bool) -> Callable[[], list[list[int]]]:
    import torch

    ids = torch.tensor(rows, device=args.device)
    mask = torch.ones_like(ids)
    kwargs: dict[str, Any] = dict(max_new_tokens=args.new_tokens, min_new_tokens=args.new_tokens, do_sample=False,
                                  temperature=None, top_p=None, top_k=None, pad_token_id=model.config.pad_token_id)
    if static:
        kwargs["cache_implementation"] = "static"

    def run() -> list[list[int]]:
        with torch.inference_mode():
            out = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        return out[:, ids.shape[1]:].tolist()

    return run


def ours_method(model: Any, rows: list[list[int]], args: argparse.Namespace, *, graphs: bool,
                compile: bool) -> tuple[Callable[[], list[list[int]]], Any]:
    from codecustom.inference.fast import FastDecoder, fast_path_problem
    from codecustom.inference.params import GenerationParams

    problem = fast_path_problem(model, args.device)
    if problem:
        raise RuntimeError(problem)
    decoder = FastDecoder(model, pad_id=model.config.pad_token_id or 0, eos_ids=[],
                          cuda_graphs=graphs and args.device.startswith("cuda"), compile=compile)
    params = GenerationParams(max_new_tokens=args.new_tokens)
    return (lambda: decoder.generate(rows, params)), decoder


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    import torch
    import transformers

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.dtype = args.dtype or ("bf16" if args.device.startswith("cuda") else "fp32")
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer, label = build_model(args)
    rows = make_prompt(args, model, tokenizer)
    params_m = sum(p.numel() for p in model.parameters()) / 1e6
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor() or platform.machine()
    print(f"model: {label}, {params_m:.1f}M parameters, {args.dtype} on {args.device} ({gpu}); "
          f"prompt {args.prompt_tokens} tokens x batch {args.batch}, {args.new_tokens} new tokens, "
          f"{args.runs} runs after {args.warmup} warm-up; torch {torch.__version__}, "
          f"transformers {transformers.__version__}", flush=True)

    results: list[dict[str, Any]] = []
    reference: list[list[int]] | None = None
    for name in [m.strip() for m in args.methods.split(",") if m.strip()]:
        how = ""
        try:
            if name in ("hf-dynamic", "hf-static"):
                fn = hf_method(model, rows, args, static=name == "hf-static")
                how = "HF generate" + (", static cache" + (" (auto-compiled)" if args.device.startswith("cuda") else "")
                                       if name == "hf-static" else ", dynamic cache")
                decoder = None
            elif name in ("ours", "ours-eager", "ours-compiled"):
                fn, decoder = ours_method(model, rows, args, graphs=name != "ours-eager", compile=name == "ours-compiled")
            else:
                raise ValueError(f"unknown method {name}")
            log.info("running %s", name)
            times, out = timed(fn, args)
            if decoder is not None:
                stats = decoder.last_stats
                compiled = decoder.compiled
                how = "static cache, " + ("CUDA graph per step" if stats.get("graph") else "eager steps") + \
                    (" + torch.compile" if compiled else "") + ", host stop check every 8 steps"
            if reference is None and name == "hf-dynamic":
                reference = out
            match = None if reference is None else sum(a == b for a, b in zip(out, reference)) / len(reference)
            p50, p95 = percentile(times, 0.5), percentile(times, 0.95)
            results.append({"method": name, "how": how, "p50_ms": p50, "p95_ms": p95, "mean_ms": statistics.fmean(times),
                            "min_ms": min(times), "tokens_per_s": args.batch * args.new_tokens / (p50 / 1000),
                            "same_tokens_as_hf": match, "runs": len(times)})
        except Exception as exc:  # report and go on: one broken method must not hide the others
            log.warning("%s skipped: %s: %s", name, type(exc).__name__, exc)
            log.debug("%s", traceback.format_exc())
            results.append({"method": name, "how": how, "skipped": f"{type(exc).__name__}: {exc}"})

    base = next((r["p50_ms"] for r in results if r["method"] == "hf-dynamic" and "p50_ms" in r), None)
    header = f"{'method':<14} {'p50 ms':>9} {'p95 ms':>9} {'tok/s':>8} {'vs HF':>7} {'same':>5}  how"
    print("\n" + header + "\n" + "-" * len(header))
    for r in results:
        if "skipped" in r:
            print(f"{r['method']:<14} {'skipped':>9}  {r['skipped'][:100]}")
            continue
        speed = f"{base / r['p50_ms']:.1f}x" if base else "-"
        same = "-" if r["same_tokens_as_hf"] is None else f"{r['same_tokens_as_hf']:.0%}"
        print(f"{r['method']:<14} {r['p50_ms']:>9.1f} {r['p95_ms']:>9.1f} {r['tokens_per_s']:>8.0f} {speed:>7} "
              f"{same:>5}  {r['how']}")
    if args.out:
        payload = {"device": args.device, "gpu_or_cpu": gpu, "dtype": args.dtype, "model": label,
                   "params_millions": round(params_m, 1), "prompt_tokens": args.prompt_tokens,
                   "new_tokens": args.new_tokens, "batch": args.batch, "runs": args.runs, "warmup": args.warmup,
                   "torch": torch.__version__, "transformers": transformers.__version__, "results": results}
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
