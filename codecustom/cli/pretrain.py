"""``codecustom pretrain``: train a code model from scratch on permissively licensed local code."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from codecustom.console import Console
from codecustom.training.pretrain.languages import DEFAULT_LANGUAGES, LANGUAGES
from codecustom.training.pretrain.sizes import SIZES

HELP = "pretrain a small code model from scratch on local, permissively licensed code"

DESCRIPTION = """\
Pretrain a Llama-style code model from scratch on code that is on this machine, so that
customization has a base that already knows code (and writes tests) without any download.

Steps: gather files from the --corpus folders, keep only permissively licensed sources (license
from each distribution's metadata or license files; the stdlib is PSF), filter and dedupe files
(exact and near-duplicates), drop every file that also appears in an --exclude-repo (and in
codecustom itself), train a byte-level BPE tokenizer with FIM tokens, then train causal LM +
fill-in-the-middle, mixed with the test-generation task mined from the corpus by codecustom's
miner. The output folder is a Hugging Face model folder with a model card (card.json, README.md)
that records every source and its license, the training run and the loss curve; use it with
--base.

--corpus takes folders (the Python stdlib, a site-packages folder, unpacked sdists, checkouts) or
the shorthands 'stdlib' and 'site-packages' (this Python's own). Stop the run with --minutes
(training time budget: the LR schedule anneals to it and the model is saved) or --max-steps;
without either it trains one epoch. Ctrl-C once stops after the current step and saves.

examples:
  codecustom pretrain --corpus stdlib site-packages --out ./my-base --size tiny --minutes 6
  codecustom pretrain --corpus ~/src/mylib --assume-license MIT --out ./mylib-base --size micro --max-steps 200
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", nargs="+", required=True, metavar="DIR",
                        help="folders of code, or 'stdlib' / 'site-packages' (this Python's)")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="where to write the model folder")
    parser.add_argument("--size", default="tiny", choices=list(SIZES),
                        help="model size: " + "; ".join(f"{s.name}: {s.description}" for s in SIZES.values())
                        + " (default: tiny)")
    stop = parser.add_mutually_exclusive_group()
    stop.add_argument("--minutes", type=float, metavar="N", help="training time budget in minutes")
    stop.add_argument("--max-steps", type=int, metavar="N", help="optimizer steps to train")
    stop.add_argument("--epochs", type=float, metavar="N", help="passes over the training data (default: 1)")
    parser.add_argument("--device", default="auto", metavar="DEV",
                        help="auto (CUDA when available), cpu, cuda or cuda:N (default: auto)")
    parser.add_argument("--exclude-repo", dest="exclude_repos", action="append", default=[], metavar="DIR",
                        help="an evaluation repo: its files (exact or near copies) never enter the corpus; repeatable")
    parser.add_argument("--languages", default=",".join(DEFAULT_LANGUAGES), metavar="LIST",
                        help=f"comma-separated corpus languages from {', '.join(LANGUAGES)} "
                        f"(default: {','.join(DEFAULT_LANGUAGES)})")
    parser.add_argument("--assume-license", metavar="SPDX",
                        help="license for corpus folders that carry none (e.g. your own code: MIT)")
    parser.add_argument("--test-task", default="auto", choices=["auto", "on", "off"],
                        help="mix in test generation mined from the corpus (auto: when the miner is available)")
    parser.add_argument("--max-corpus-mb", type=float, metavar="MB",
                        help="use a seeded random subset of files of at most this many MB")
    tuning = parser.add_argument_group("overrides of the size's defaults")
    tuning.add_argument("--vocab-size", type=int, metavar="N")
    tuning.add_argument("--seq-len", type=int, metavar="N")
    tuning.add_argument("--batch-size", type=int, metavar="N", help="sequences per device step")
    tuning.add_argument("--grad-accum", type=int, metavar="N")
    tuning.add_argument("--lr", dest="learning_rate", type=float, metavar="LR")
    tuning.add_argument("--warmup-steps", type=int, metavar="N")
    tuning.add_argument("--fim-rate", type=float, default=0.5, metavar="P",
                        help="share of chunks turned into fill-in-the-middle examples (default: 0.5)")
    parser.add_argument("--workers", type=int, metavar="N", help="processes for data preparation (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (CUDA; slower start)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a model previously written to --out (only once the new one is saved)")
    parser.add_argument("--name", help="model name for the card (default: codecustom-SIZE)")


def _command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (every option that differs from its default)."""
    defaults = vars(build_defaults())
    parts = ["codecustom", "pretrain", "--corpus", *args.corpus, "--out", str(args.out)]
    for key, value in vars(args).items():
        if key in {"corpus", "out", "_module", "command", "quiet", "json", "debug"} or value == defaults.get(key):
            continue
        flag = "--" + {"learning_rate": "lr"}.get(key, key).replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, list):
            for item in value:
                parts += ["--exclude-repo" if key == "exclude_repos" else flag, str(item)]
        elif value not in (None, False):
            parts += [flag, str(value)]
    return shlex.join(parts)


def build_defaults() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    add_arguments(parser)
    return parser.parse_args(["--corpus", "x", "--out", "x"])


def run(args: argparse.Namespace, console: Console) -> int:
    from codecustom.errors import UsageError
    from codecustom.training.pretrain.run import PretrainOptions, pretrain

    languages = [x.strip() for x in args.languages.split(",") if x.strip()]
    if not 0.0 <= args.fim_rate <= 1.0:
        raise UsageError("--fim-rate must be between 0 and 1")
    options = PretrainOptions(
        corpus=args.corpus, out=args.out, size=args.size, minutes=args.minutes, max_steps=args.max_steps,
        epochs=args.epochs, device=args.device, languages=languages, exclude_repos=args.exclude_repos,
        assume_license=args.assume_license, test_task=args.test_task, max_corpus_mb=args.max_corpus_mb,
        vocab_size=args.vocab_size, seq_len=args.seq_len, batch_size=args.batch_size, grad_accum=args.grad_accum,
        learning_rate=args.learning_rate, warmup_steps=args.warmup_steps, fim_rate=args.fim_rate,
        workers=args.workers, seed=args.seed, compile=args.compile, overwrite=args.overwrite, name=args.name,
        command=_command_line(args),
    )
    result = pretrain(options, console)
    console.table([[k, v] for k, v in result.items() if not isinstance(v, dict)], ["", "value"],
                  title=f"pretrained {result['size']} model in {result['out']}")
    console.result(result)
    return 0
