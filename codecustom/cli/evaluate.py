"""`codecustom evaluate`: quality of a customized model (or a base alone) on the held-out split."""

from __future__ import annotations

import argparse

HELP = "evaluate an artifact or a base model on the held-out split: text metrics, generated tests run, completion"
DESCRIPTION = """\
Evaluate a customized model (an artifact folder) or a base model alone (--base) on a mined dataset's
held-out split:

  test generation  BLEU, CodeBLEU, exact match, edit similarity, syntax-valid rate, perplexity of the
                   reference tests, and the execution ladder: each generated test is placed in the
                   repo's test context in a sandboxed temp copy of the repo at the mined revision and
                   run (Python: pytest + coverage.py; Java: javac/Maven offline + JUnit):
                   builds -> passes (3 runs; flaky = fail) -> covers the focal method
  completion       line completion at seeded random cursors in held-out files: exact match, edit
                   similarity, syntax-valid rate

Greedy decoding by default; --samples K samples K tests per focal method and adds build@K / pass@K.
Generated code never runs in your repository: see the report's Sandbox section for what isolated it.
Writes eval.json, tests.jsonl, completions.jsonl, report.md and report.html to --out.

examples:
  codecustom evaluate ~/.cache/codecustom/store/myproj/tests/lora --data DATASET
  codecustom evaluate --base default --repo ~/src/myproj          # mines the repo first
  codecustom evaluate ARTIFACT --data DATASET --samples 5 --temperature 0.8 --json
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("artifact", metavar="ARTIFACT", nargs="?", help="artifact folder written by customize/compare")
    p.add_argument("--base", metavar="MODEL",
                   help="base model: evaluated alone without ARTIFACT, else the base ARTIFACT is loaded on "
                        "(default: the one its manifest names)")
    p.add_argument("--data", metavar="DATASET", help="mined dataset folder (default: the artifact's dataset)")
    p.add_argument("--repo", metavar="REPO",
                   help="git repository the dataset was mined from (default: the one its manifest names); "
                        "without --data, REPO is mined first")
    p.add_argument("--split", default="test", help="split to evaluate on (default: test)")
    p.add_argument("--lang", metavar="LANG", nargs="+", action="extend", help="only these languages")
    p.add_argument("--max-examples", type=int, metavar="N", help="evaluate at most N held-out tests")
    p.add_argument("--samples", type=int, default=1, metavar="K", help="tests sampled per focal method (default 1: greedy)")
    p.add_argument("--temperature", type=float, metavar="T", help="sampling temperature (default 0.8 when K > 1)")
    p.add_argument("--max-new-tokens", type=int, metavar="N",
                   help="longest generated test in tokens (default: as customized; 256 for a base)")
    p.add_argument("--context-level", metavar="LEVEL",
                   help="focal context level (fm ... fm_fc_c_m_f; default: the artifact's training level)")
    p.add_argument("--completions", type=int, default=100, metavar="N",
                   help="line-completion cursors to evaluate (0 skips completion; default 100)")
    p.add_argument("--no-exec", action="store_true", help="do not run generated tests (text metrics only)")
    p.add_argument("--runs", type=int, default=3, metavar="N", help="runs a test must pass (default 3)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="wall-time limit per test run (s)")
    p.add_argument("--python", metavar="PY", help="interpreter that runs a Python repo's tests (needs pytest, coverage)")
    p.add_argument("--no-pytest-plugins", action="store_true",
                   help="disable pytest plugin autoloading in test runs (faster; for suites that need none)")
    p.add_argument("--predictions", metavar="FILE",
                   help="evaluate generations made elsewhere (JSONL: test_id, samples) instead of generating")
    p.add_argument("--batch-size", type=int, default=8, metavar="N", help="generation batch size")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling and completion cursors")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--out", metavar="DIR", help="where to write the results (default: $CODECUSTOM_HOME/evaluations/...)")
    p.add_argument("--trust-remote-code", action="store_true", help="allow models that ship their own Python code")
    p.add_argument("--allow-pickle", action="store_true", help="allow .bin/.pt (pickle) weights")


def _load_model(args: argparse.Namespace):
    from codecustom.modeling.loading import load_base

    opts = {"trust_remote_code": args.trust_remote_code, "allow_pickle": args.allow_pickle, "device": args.device}
    if args.artifact:
        from codecustom.modeling.artifacts import load_artifact, read_manifest

        manifest = read_manifest(args.artifact)
        base = load_base(args.base, **opts) if args.base else None
        loaded = load_artifact(args.artifact, base, device=args.device, trust_remote_code=args.trust_remote_code,
                               allow_pickle=args.allow_pickle)
        return loaded, manifest.get("strategy") or "artifact", manifest
    return load_base(args.base, **opts), "base", {}


def _dataset_from(args: argparse.Namespace, manifest: dict, console):
    from pathlib import Path

    from codecustom.errors import UsageError
    from codecustom.evaluation.evaluate import check_dataset

    if args.data:
        return check_dataset(args.data)
    recorded = (manifest.get("dataset") or {}) if isinstance(manifest.get("dataset"), dict) else {}
    path = recorded.get("path") or manifest.get("dataset_path")
    if path and Path(path).exists():
        return check_dataset(path)
    if args.repo:
        from codecustom.mining import mine

        console.info(f"mining {args.repo} ...")
        return mine(args.repo, console=console)
    raise UsageError("no dataset to evaluate on", hint="pass --data DATASET (from 'codecustom mine') or --repo REPO")


def run(args: argparse.Namespace, console) -> int:
    import time
    from pathlib import Path

    from codecustom import paths
    from codecustom.errors import UsageError
    from codecustom.evaluation.evaluate import (EvalConfig, evaluate_model, load_predictions, resolve_repo,
                                                write_evaluation)
    from codecustom.evaluation.execution import Workspace
    from codecustom.evaluation.report import ReportMeta, ReportRow, cost_from_manifest, table_rows, write_report
    from codecustom.evaluation.report.samples import pick_samples
    from codecustom.evaluation.sandbox import probe
    from codecustom.mining.records import read_manifest as read_data_manifest

    if not args.artifact and not args.base and not args.predictions:
        raise UsageError("nothing to evaluate", hint="pass an ARTIFACT folder, --base MODEL, or --predictions FILE")
    for flag, value, low in (("--max-examples", args.max_examples, 1), ("--completions", args.completions, 0),
                             ("--batch-size", args.batch_size, 1), ("--max-new-tokens", args.max_new_tokens, 1)):
        if value is not None and value < low:
            raise UsageError(f"{flag} must be at least {low}, got {value}")
    if args.timeout <= 0:
        raise UsageError(f"--timeout must be positive, got {args.timeout}")
    config = EvalConfig(split=args.split, samples=args.samples, temperature=args.temperature,
                        max_examples=args.max_examples, languages=args.lang, context_level=args.context_level,
                        completion_cases=args.completions, execute=not args.no_exec, runs=args.runs,
                        timeout=args.timeout, python=args.python, pytest_plugins=not args.no_pytest_plugins,
                        max_new_tokens=args.max_new_tokens, batch_size=args.batch_size, seed=args.seed)
    predictions = load_predictions(args.predictions) if args.predictions else None
    loaded, name, manifest = (None, "predictions", {}) if predictions is not None and not (args.artifact or args.base) \
        else _load_model(args)
    dataset = _dataset_from(args, manifest, console)
    data_manifest = read_data_manifest(dataset)
    project = manifest.get("project") or paths.project_name(data_manifest.repo or dataset.name)

    workspace, note = None, ""
    if config.execute:
        repo, revision, note = resolve_repo(dataset, args.repo)
        if repo is not None:
            workspace = Workspace.from_git(repo, revision)
    isolation = probe()
    try:
        evaluation = evaluate_model(loaded, dataset, name=name, config=config, workspace=workspace,
                                    exec_note=note, console=console, predictions=predictions)
    finally:
        if workspace is not None:
            workspace.close()
    evaluation.summary["sandbox"] = isolation.describe()

    out = Path(args.out) if args.out else paths.home() / "evaluations" / project / \
        f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    write_evaluation(evaluation, out)
    cost, heldout, curve = cost_from_manifest(manifest) if manifest else ({}, {}, [])
    row = ReportRow(name=name, summary=evaluation.summary, cost=cost, heldout=heldout, curve=curve)
    meta = ReportMeta(title=f"codecustom evaluate: {project} ({name})",
                      facts={"dataset": str(dataset), "revision": data_manifest.revision, "split": config.split,
                             "model": (evaluation.summary["model"].get("base_id") or "-"),
                             "held-out tests": evaluation.summary["tests"].get("n_examples", 0)},
                      sandbox=isolation.describe(), notes=[note] if note else [],
                      samples=pick_samples({name: evaluation}))
    written = write_report([row], out, meta)

    headers, body = table_rows([row])
    console.table(body, headers, title=f"{project}: {name} on split '{config.split}'")
    execution = evaluation.summary["tests"].get("execution") or {}
    if execution.get("enabled"):
        console.info(f"execution ladder: {execution.get('ladder', {})}")
    elif execution.get("note"):
        console.warn(f"generated tests were not run: {execution['note']}")
    if not isolation.network:
        console.warn("the sandbox has no network isolation on this machine (no network namespace)")
    console.info(f"wrote {out / 'eval.json'}, {written['md']}, {written['html']}")
    console.result({**evaluation.summary, "out": str(out), "report": {k: str(v) for k, v in written.items()}})
    return 0
