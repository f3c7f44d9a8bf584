"""`codecustom compare`: train several strategies on the same split and tabulate them beside the base."""

from __future__ import annotations

import argparse

from codecustom.cli.customize import add_training_arguments, request_from_args

HELP = "train strategies side by side and compare them with the base: quality (incl. running tests) + cost"
DESCRIPTION = """\
Train the chosen strategies on the same split of one repository's dataset and print one table:
rows base, full, l-eo, l-ldb, prefix, lora; columns held-out loss and perplexity (test split, or valid
when the dataset has no test split), quality on the held-out split (as 'codecustom evaluate': BLEU,
CodeBLEU, exact match, edit similarity, syntax-valid rate, reference-test perplexity, generated tests
run in a sandbox: build@1 / pass@1 (3 runs) / cover@1, line completion EM / edit similarity / syntax)
and cost: trainable %, optimizer steps, wall time, tokens/s, peak memory, training FLOPs and artifact
size. Each strategy's artifact is saved to the store as with 'codecustom customize'. Writes report.md
and a self-contained report.html with plots (quality vs cost, held-out loss curves, metric bars) to
--report. --json prints the same table as JSON; --no-eval keeps to loss and cost.

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
                   help="held-out split for the loss and quality columns (default: test)")
    e = p.add_argument_group("evaluation (quality columns)")
    e.add_argument("--no-eval", action="store_true", help="skip the quality columns (loss and cost only)")
    e.add_argument("--eval-max-examples", type=int, metavar="N",
                   help="held-out tests evaluated per model (default: 50 on CUDA, 8 on CPU)")
    e.add_argument("--samples", type=int, default=1, metavar="K", help="tests sampled per focal method: pass@K (default 1)")
    e.add_argument("--temperature", type=float, metavar="T", help="sampling temperature when K > 1 (default 0.8)")
    e.add_argument("--max-new-tokens", type=int, metavar="N",
                   help="longest generated test in tokens (default: as customized; 256 for a base)")
    e.add_argument("--completions", type=int, metavar="N",
                   help="line-completion cursors per model (0: none; default: 100 on CUDA, 16 on CPU)")
    e.add_argument("--no-exec", action="store_true", help="do not run generated tests")
    e.add_argument("--exec-repo", metavar="DIR", help="git clone to run tests from (default: the dataset's repository)")
    e.add_argument("--runs", type=int, default=3, metavar="N", help="runs a generated test must pass (default 3)")
    e.add_argument("--timeout", type=float, default=60.0, metavar="S", help="wall-time limit per test run (s)")
    e.add_argument("--python", metavar="PY", help="interpreter for a Python repo's tests (needs pytest, coverage)")
    e.add_argument("--no-pytest-plugins", action="store_true", help="disable pytest plugin autoloading in test runs")
    e.add_argument("--report", metavar="DIR", help="where report.md / report.html go "
                                                   "(default: $CODECUSTOM_HOME/reports/<project>/<time>)")


def _evaluation_config(args: argparse.Namespace, cuda: bool):
    from codecustom.errors import UsageError
    from codecustom.evaluation.evaluate import EvalConfig

    examples = args.eval_max_examples if args.eval_max_examples is not None else (50 if cuda else 8)
    completions = args.completions if args.completions is not None else (100 if cuda else 16)
    if examples < 1 or completions < 0:
        raise UsageError("--eval-max-examples must be at least 1 and --completions at least 0")
    return EvalConfig(split=args.split, samples=args.samples, temperature=args.temperature,
                      max_examples=examples, completion_cases=completions, execute=not args.no_exec,
                      runs=args.runs, timeout=args.timeout, python=args.python,
                      pytest_plugins=not args.no_pytest_plugins, max_new_tokens=args.max_new_tokens)


def run(args: argparse.Namespace, console) -> int:
    import shlex
    import sys
    import time
    from pathlib import Path

    from codecustom import paths
    from codecustom.training.compare import DEFAULT_PROVIDERS, compare, cost_columns, heldout_columns

    request = request_from_args(args, args.strategies)
    request.eval_split = args.split
    provider = None
    providers = list(DEFAULT_PROVIDERS)
    if not args.no_eval:
        from codecustom.evaluation.compare import QualityProvider
        from codecustom.evaluation.evaluate import check_dataset
        from codecustom.modeling.loading import pick_device
        from codecustom.training.customize import resolve_dataset

        config = _evaluation_config(args, pick_device(args.device).startswith("cuda"))
        dataset, _ = resolve_dataset(request.source, rev=request.rev, console=console)
        request.source = str(check_dataset(dataset))  # mine once; training and evaluation share it
        provider = QualityProvider(dataset, config, repo=args.exec_repo, console=console)
        providers = [heldout_columns, provider, cost_columns] + [p for p in DEFAULT_PROVIDERS
                                                                  if p not in (heldout_columns, cost_columns)]
    try:
        result = compare(request, console, providers=providers)
    finally:
        if provider is not None:
            provider.close()
    rows, headers = result.table()
    splits = {r.columns.get("split") for r in result.rows if r.columns.get("split")}
    console.table(rows, headers, title=f"{result.project}: {result.task} task, base {result.base_id}, "
                                       f"held-out split: {', '.join(sorted(splits)) or 'none'}")
    from codecustom.evaluation.compare import write_compare_report
    from codecustom.evaluation.sandbox import probe

    out = Path(args.report) if args.report else paths.home() / "reports" / result.project / time.strftime(
        "%Y%m%d-%H%M%S")
    if provider is not None:
        from codecustom.evaluation.evaluate import write_evaluation

        for name, evaluation in provider.evaluations.items():
            write_evaluation(evaluation, out / "models" / name)
    command = "codecustom " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""
    written = write_compare_report(result, provider, out, command=command,
                                   sandbox=probe().describe() if provider is not None else None)
    console.info(f"report: {written['md']} and {written['html']}")
    if provider is not None and provider.exec_note:
        console.warn(f"generated tests were not run: {provider.exec_note}")
    payload = result.to_json()
    payload["report"] = {k: str(v) for k, v in written.items()}
    console.result(payload)
    return 0
