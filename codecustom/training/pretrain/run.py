"""``pretrain``: corpus -> tokenizer -> packed LM/FIM/test-task blocks -> Llama-style model -> model folder.

The output folder is a normal Hugging Face model folder (config, bf16 safetensors in shards of at most
14 MB, tokenizer) plus ``card.json``/``README.md`` (data, licenses, training, held-out perplexity) and
``loss_curve.json``. It is written to a temporary sibling and renamed into place, so an interrupted
run never leaves a half-written model where a good one was.
"""

from __future__ import annotations

import json
import math
import os
import platform
import random
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from codecustom import __version__
from codecustom.console import Console
from codecustom.errors import DataError, UsageError
from codecustom.training.pretrain import card as card_mod
from codecustom.training.pretrain import examples, task
from codecustom.training.pretrain.corpus import Corpus, build_corpus, default_workers
from codecustom.training.pretrain.filters import FileLimits
from codecustom.training.pretrain.languages import resolve_languages
from codecustom.training.pretrain.sizes import ModelSize, get_size

MAX_SHARD = "14MB"  # every weight file stays under 15 MiB
TEST_TASK_MODES = ("auto", "on", "off")


@dataclass
class PretrainOptions:
    """Everything ``codecustom pretrain`` can be told (defaults come from the size)."""

    corpus: list[str]
    out: Path
    size: str = "tiny"
    minutes: float | None = None
    max_steps: int | None = None
    epochs: float | None = None
    device: str | None = None  # None = cuda when available
    languages: list[str] | None = None
    exclude_repos: list[str] = field(default_factory=list)
    assume_license: str | None = None
    test_task: str = "auto"
    max_corpus_mb: float | None = None
    vocab_size: int | None = None
    seq_len: int | None = None
    batch_size: int | None = None
    grad_accum: int | None = None
    learning_rate: float | None = None
    warmup_steps: int | None = None
    fim_rate: float = 0.5
    workers: int | None = None
    seed: int = 0
    compile: bool = False
    overwrite: bool = False
    name: str | None = None
    command: str | None = None  # how this run was started, for the card


def pretrain(options: PretrainOptions, console: Console | None = None) -> dict[str, Any]:
    """Run the whole recipe; returns the command's result (paths, sizes, losses, timings)."""
    console = console or Console(quiet=True)
    size = get_size(options.size)
    languages = resolve_languages(options.languages)
    device = _resolve_device(options.device)
    if options.test_task not in TEST_TASK_MODES:
        raise UsageError(f"--test-task must be one of {', '.join(TEST_TASK_MODES)}")
    if options.minutes is not None and options.minutes <= 0:
        raise UsageError("--minutes must be positive")
    if options.max_steps is not None and options.max_steps <= 0:
        raise UsageError("--max-steps must be positive")
    if options.test_task == "on" and not task.miner_available():
        raise DataError("--test-task on needs codecustom's miner (codecustom.mining.mine_tree), which is not "
                        "available here", hint="install codecustom with its mining dependencies "
                        "(tree-sitter), or pass --test-task off")
    out = Path(options.out).expanduser().resolve()
    _check_out(out, options.overwrite)
    workers = options.workers or default_workers()
    timings: dict[str, float] = {}
    random.seed(options.seed)

    t0 = time.monotonic()
    console.info(f"gathering the corpus from {', '.join(options.corpus)}")
    corpus = build_corpus(options.corpus, languages, exclude_repos=options.exclude_repos,
                          assume_license=options.assume_license, limits=FileLimits(),
                          max_bytes=int(options.max_corpus_mb * 1e6) if options.max_corpus_mb else None,
                          workers=workers, seed=options.seed, console=console)
    timings["corpus_s"] = time.monotonic() - t0
    console.info(f"corpus: {len(corpus.documents):,} files, {corpus.n_bytes / 1e6:,.1f} MB from "
                 f"{sum(1 for s in corpus.sources if s.kept)} sources in {timings['corpus_s']:.1f}s")

    pairs: list[task.TaskPair] = []
    task_note = "test task off"
    if options.test_task != "off":
        t = time.monotonic()
        if task.miner_available():
            pairs = task.collect_pairs(corpus, workers=workers, console=console)
            task_note = f"mined from the corpus by codecustom's miner in {time.monotonic() - t:.1f}s"
        else:
            task_note = "the miner's git-free layer is not available: LM + FIM only"
            console.warn(task_note)
        timings["mine_s"] = time.monotonic() - t

    t = time.monotonic()
    seq_len = options.seq_len or size.seq_len
    tokenizer = _train_tokenizer(corpus, options.vocab_size or size.vocab_size, size, seq_len, options.seed)
    timings["tokenizer_s"] = time.monotonic() - t
    console.info(f"tokenizer: {len(tokenizer):,} tokens in {timings['tokenizer_s']:.1f}s")

    t = time.monotonic()
    train_data, eval_data, fim = _build_blocks(corpus, pairs, tokenizer, seq_len, options, workers)
    timings["encode_s"] = time.monotonic() - t
    console.info(f"training data: {len(train_data):,} blocks of {seq_len} tokens "
                 f"({_mix(train_data.token_counts)}) in {timings['encode_s']:.1f}s")
    timings["prep_s"] = time.monotonic() - t0

    import torch
    from transformers import LlamaForCausalLM

    from codecustom.training.pretrain.trainer import TrainSettings, train

    on_cuda = device.startswith("cuda")
    micro = options.batch_size or (size.micro_batch if on_cuda else min(size.micro_batch, 8))
    accum = options.grad_accum or (size.grad_accum if on_cuda else 1)
    micro = max(1, min(micro, len(train_data)))
    steps_per_epoch = max(1, len(train_data) // (micro * accum))
    if options.max_steps:
        max_steps = options.max_steps
    elif options.epochs:
        max_steps = max(1, math.ceil(options.epochs * steps_per_epoch))
    elif options.minutes:
        max_steps = steps_per_epoch * 50  # the time budget ends the run long before this
    else:
        max_steps = steps_per_epoch
    warmup = options.warmup_steps if options.warmup_steps is not None else min(size.warmup_steps, max(1, max_steps // 10))
    budget = options.minutes * 60 if options.minutes else None
    settings = TrainSettings(
        device=device, micro_batch=micro, grad_accum=accum,
        learning_rate=options.learning_rate or size.learning_rate, warmup_steps=warmup, max_steps=max_steps,
        budget_s=budget, min_lr_ratio=size.min_lr_ratio, weight_decay=size.weight_decay, compile=options.compile,
        seed=options.seed, eval_every_s=budget / 6 if budget else None,
        logging_steps=25 if budget else max(1, min(50, max_steps // 50)), workers=2 if on_cuda else 0,
    )
    vocab = int(math.ceil(len(tokenizer) / 64) * 64)
    config = size.llama_config(vocab, pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    config.max_position_embeddings = seq_len
    torch.manual_seed(options.seed)
    model = LlamaForCausalLM(config)
    n_params = sum(p.numel() for p in model.parameters())
    console.info(f"model: {n_params / 1e6:.2f}M parameters ({size.name}), training on {device} "
                 f"({settings.precision}), batch {micro}x{accum}x{seq_len}"
                 + (f", budget {options.minutes:g} min" if budget else f", {max_steps:,} steps"))

    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        outcome = train(model, train_data, eval_data, settings, partial / "_trainer", console)
        timings["train_s"] = outcome.train_seconds
        t = time.monotonic()
        shutil.rmtree(partial / "_trainer", ignore_errors=True)
        model = outcome.model.to(torch.bfloat16)
        model.config.dtype = "bfloat16"
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
        model.generation_config.bos_token_id = tokenizer.eos_token_id
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        model.save_pretrained(partial, max_shard_size=MAX_SHARD)
        tokenizer.save_pretrained(partial)
        weights = sorted(p for p in partial.iterdir() if p.name.endswith(".safetensors"))
        card = _card(options, size, config, n_params, tokenizer, corpus, pairs, task_note, fim, train_data,
                     settings, outcome, weights, timings)
        (partial / "loss_curve.json").write_text(json.dumps({"train": outcome.curve, "eval": outcome.eval_curve},
                                                            indent=1) + "\n", encoding="utf-8")
        card_mod.write_card(partial, card)
        _move_into_place(partial, out)
        timings["save_s"] = time.monotonic() - t
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    big = [p.name for p in out.iterdir() if p.name.endswith(".safetensors") and p.stat().st_size > 15 * 2**20]
    if big:
        console.warn(f"weight files over 15 MiB: {', '.join(big)}")
    result = {
        "out": str(out), "size": size.name, "parameters": n_params, "device": device,
        "steps": outcome.steps, "tokens": outcome.tokens, "stopped_by": outcome.stopped_by,
        "final_train_loss": card["training"]["final_train_loss"],
        "heldout_perplexity": card["evaluation"].get("heldout_corpus", {}).get("perplexity"),
        "heldout_test_loss": card["evaluation"].get("heldout_tests", {}).get("loss"),
        "bytes_on_disk": sum(p.stat().st_size for p in out.iterdir() if p.is_file()),
        "test_pairs": len(pairs), "timings_s": {k: round(v, 2) for k, v in timings.items()},
    }
    return result


def _resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device} was asked for but torch sees no CUDA device",
                         hint="pass --device cpu (slow) or run on a machine with a GPU")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise UsageError(f"unsupported --device {device}", hint="use auto, cpu, cuda or cuda:N")
    return device


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file", hint="pass a folder path for the model")
    if out.is_dir() and any(out.iterdir()):
        if not card_mod.is_pretrain_output(out):
            raise UsageError(f"--out {out} is not empty and was not written by codecustom pretrain",
                             hint="choose a new or empty folder; nothing there was touched")
        if not overwrite:
            raise UsageError(f"--out {out} already holds a pretrained model",
                             hint="pass --overwrite to replace it when the new one is saved, or choose another folder")
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    if not os.access(parent, os.W_OK):
        raise UsageError(f"cannot write into {parent}", hint="choose a folder you can write to")


def _move_into_place(partial: Path, out: Path) -> None:
    old = None
    if out.exists():
        if any(out.iterdir()):
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            out.rename(old)
        else:
            out.rmdir()
    partial.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _train_tokenizer(corpus: Corpus, vocab_size: int, size: ModelSize, seq_len: int, seed: int) -> Any:
    from codecustom.data.tokenizer import train_tokenizer

    docs = corpus.split("train")
    order = list(range(len(docs)))
    random.Random(seed).shuffle(order)
    sample, used = [], 0
    for i in order:
        if used >= size.tokenizer_sample_bytes:
            break
        sample.append(docs[i].text)
        used += len(docs[i].text)
    tokenizer = train_tokenizer(sample, vocab_size=vocab_size)
    tokenizer.model_max_length = seq_len
    return tokenizer


def _build_blocks(corpus: Corpus, pairs: list[task.TaskPair], tokenizer: Any, seq_len: int,
                  options: PretrainOptions, workers: int) -> tuple[examples.PackedData, dict[str, examples.PackedData], dict]:
    rng = random.Random(options.seed)
    fim = examples.FimOptions(fim_rate=options.fim_rate)
    train_texts = [d.text for d in corpus.split("train")]
    valid_texts = [d.text for d in corpus.split("valid")]
    cpt = examples.estimate_chars_per_token(train_texts, tokenizer)
    doc_units = examples.document_examples(train_texts, tokenizer, seq_len=seq_len, chars_per_token=cpt, rng=rng,
                                           options=fim)
    task_train = examples.test_examples([(p.context, p.test, p.language) for p in pairs if p.split == "train"],
                                        tokenizer, seq_len=seq_len, workers=workers)
    train = examples.pack(examples.interleave(doc_units, task_train, rng), seq_len, pad_id=tokenizer.pad_token_id)
    if len(train) == 0:
        raise DataError("the corpus is too small to fill one training block",
                        hint=f"add code to --corpus or lower --seq-len (now {seq_len})")
    valid_docs = examples.document_examples(valid_texts, tokenizer, seq_len=seq_len, chars_per_token=cpt,
                                            rng=random.Random(options.seed + 1),
                                            options=examples.FimOptions(fim_rate=0.0))
    evals = {"lm": examples.pack(valid_docs, seq_len, pad_id=tokenizer.pad_token_id)}
    task_valid = examples.test_examples([(p.context, p.test, p.language) for p in pairs if p.split == "valid"],
                                        tokenizer, seq_len=seq_len, workers=workers)
    if task_valid:
        evals["test"] = examples.pack([[ex] for ex in task_valid], seq_len, pad_id=tokenizer.pad_token_id)
    fim_card = {**asdict(fim), "chars_per_token": round(cpt, 3), "chunk_chars": int(seq_len * cpt * 0.9)}
    return train, evals, fim_card


def _mix(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return ", ".join(f"{k} {100 * v / total:.0f}%" for k, v in counts.items())


def _card(options: PretrainOptions, size: ModelSize, config: Any, n_params: int, tokenizer: Any, corpus: Corpus,
          pairs: list[task.TaskPair], task_note: str, fim: dict, train_data: examples.PackedData, settings: Any,
          outcome: Any, weights: list[Path], timings: dict[str, float]) -> dict[str, Any]:
    import tokenizers
    import torch
    import transformers

    from codecustom.data import tokenizer as tok_mod
    from codecustom.data.tests_task import PROMPT_VERSION

    final_loss = outcome.curve[-1]["loss"] if outcome.curve else None
    evaluation: dict[str, Any] = {}
    if "eval_lm_loss" in outcome.final_eval:
        loss = outcome.final_eval["eval_lm_loss"]
        evaluation["heldout_corpus"] = {"loss": round(loss, 4), "perplexity": round(math.exp(min(loss, 50)), 3),
                                        "files": len(corpus.split("valid")),
                                        "note": "causal LM loss per token on held-out corpus files (no FIM)"}
    if "eval_test_loss" in outcome.final_eval:
        loss = outcome.final_eval["eval_test_loss"]
        evaluation["heldout_tests"] = {"loss": round(loss, 4), "perplexity": round(math.exp(min(loss, 50)), 3),
                                       "pairs": sum(1 for p in pairs if p.split == "valid"),
                                       "note": "loss on the test tokens given the focal-context prompt"}
    seconds = outcome.train_seconds
    return {
        "format": card_mod.CARD_FORMAT,
        "card_version": card_mod.CARD_VERSION,
        "name": options.name or f"codecustom-{size.name}",
        "placeholder": False,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "codecustom_version": __version__,
        "size": size.name,
        "architecture": "llama",
        "parameters": n_params,
        "config": {k: getattr(config, k) for k in ("vocab_size", "hidden_size", "intermediate_size",
                                                   "num_hidden_layers", "num_attention_heads",
                                                   "num_key_value_heads", "max_position_embeddings",
                                                   "tie_word_embeddings")},
        "weights": {"dtype": "bfloat16", "files": [{"name": p.name, "bytes": p.stat().st_size} for p in weights],
                    "bytes": sum(p.stat().st_size for p in weights)},
        "tokenizer": {"type": "byte-level BPE", "vocab_size": len(tokenizer),
                      "special_tokens": tok_mod.SPECIAL_TOKENS, "trained_on_bytes": min(
                          size.tokenizer_sample_bytes, corpus.n_bytes)},
        "training": {
            "device": _device_name(settings.device), "precision": settings.precision, "steps": outcome.steps,
            "tokens": outcome.tokens, "seconds": round(seconds, 1),
            "tokens_per_s": round(outcome.tokens / seconds, 1) if seconds else None,
            "stopped_by": outcome.stopped_by, "budget_minutes": options.minutes, "max_steps": settings.max_steps,
            "micro_batch": settings.micro_batch, "grad_accum": settings.grad_accum,
            "seq_len": int(train_data.input_ids.shape[1]), "learning_rate": settings.learning_rate,
            "warmup_steps": settings.warmup_steps,
            "schedule": f"linear warmup, cosine to {settings.min_lr_ratio:g}x over max(step, time) progress",
            "optimizer": "AdamW (fused)" if settings.device.startswith("cuda") else "AdamW",
            "weight_decay": settings.weight_decay, "compile": settings.compile, "seed": options.seed,
            "final_train_loss": final_loss, "token_mix": train_data.token_counts, "fim": fim,
            "blocks": len(train_data), "peak_memory_mb": outcome.peak_memory_mb,
            "timings_s": {k: round(v, 1) for k, v in timings.items()},
        },
        "evaluation": evaluation,
        "test_task": {"pairs": len(pairs), "train_pairs": sum(1 for p in pairs if p.split == "train"),
                      "prompt_version": PROMPT_VERSION, "note": task_note},
        "loss_curve": outcome.curve,
        "eval_curve": outcome.eval_curve,
        "data": corpus.card(),
        "command": options.command,
        "reproduce": os.environ.get("CODECUSTOM_PRETRAIN_RECIPE") or options.command,
        "software": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
                     "codecustom": __version__},
    }


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
