"""`codecustom compare`: train several strategies on the same split and tabulate them beside the base."""

from __future__ import annotations

import argparse

from codecustom.cli.customize import add_training_arguments, request_from_args

HELP = "train strategies side by side and compare them with the base (held-out loss + cost)"
DESCRIPTION = """\
Train the chosen strategies on the same split of one repository's dataset and print one table:
rows base, full, l-eo, l-ldb, prefix, lora; columns held-out loss and perplexity (test split, or valid
when the dataset has no test split) and cost: trainable %, optimizer steps, wall time, tokens/s, peak
memory, training FLOPs and artifact size. Each strategy's artifact is saved to the store as with
'codecustom customize'. --json prints the same table as JSON.

examples:
  codecustom compare . --strategies all
  codecustom compare ~/src/gson --strategies lora,prefix --base bigcode/tiny_starcoder_py --json
  codecustom compare . --strategies all --resume     # continue after an interruption
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_training_arguments(p)
    p.add_argument("--strategies", default="all", metavar="LIST",
                   help="comma-separated strategies, or all (default: all)")
    p.add_argument("--split", default="test", choices=("test", "valid"),
                   help="held-out split for the loss columns (default: test)")


def run(args: argparse.Namespace, console) -> int:
    from codecustom.training.compare import compare

    request = request_from_args(args, args.strategies)
    request.eval_split = args.split
    result = compare(request, console)
    rows, headers = result.table()
    splits = {r.columns.get("split") for r in result.rows if r.columns.get("split")}
    console.table(rows, headers, title=f"{result.project}: {result.task} task, base {result.base_id}, "
                                       f"held-out split: {', '.join(sorted(splits)) or 'none'}")
    console.result(result.to_json())
    return 0
