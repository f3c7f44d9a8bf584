"""`codecustom gen-tests FILE::FUNC`: generate tests, keep those that build, pass and add coverage."""

from __future__ import annotations

import argparse

HELP = "generate unit tests for a function; keep only those that build, pass and add coverage"
DESCRIPTION = """\
Generate K candidate unit tests for one function with the project's customized model (or a base),
run each in a sandboxed temp copy of your working tree, and keep only the ones that

  build    (Python: pytest collects it; Java: javac compiles it)
  pass     (every one of --runs runs; a flaky test is dropped)
  add coverage of the function over the existing suite and the tests already kept
           (Python, coverage.py lines and branches; Java: coverage not measured, build + pass is the bar)

The kept tests are added to the right test file (the module's existing test file, else
tests/test_<module>.py or src/test/java/.../FooTest.java, created if needed). Existing lines are never
changed or removed. This is the only command that writes into your repository; --dry-run prints the
diff instead.

examples:
  codecustom gen-tests src/textkit/strings.py::slugify --dry-run
  codecustom gen-tests textkit/numbers.py::Stats.median -k 8 --base default
  codecustom gen-tests src/main/java/org/example/Words.java::Words.capitalize --model ARTIFACT
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="FILE::FUNC", help="source file and function (Class.method for methods)")
    p.add_argument("--repo", metavar="DIR", help="repository root (default: the git work tree holding FILE)")
    p.add_argument("-k", "--samples", type=int, default=5, metavar="K", help="candidate tests to generate (default 5)")
    p.add_argument("--temperature", type=float, default=0.8, metavar="T", help="sampling temperature (K > 1)")
    p.add_argument("--model", metavar="ARTIFACT", help="artifact folder (default: the project's newest tests artifact)")
    p.add_argument("--base", metavar="MODEL", help="base model (alone, or the base --model is loaded on)")
    p.add_argument("--context-level", metavar="LEVEL", help="focal context level (default: the artifact's)")
    p.add_argument("--max-new-tokens", type=int, metavar="N",
                   help="longest generated test in tokens (default: as customized; 256 for a base)")
    p.add_argument("--runs", type=int, default=3, metavar="N", help="runs a test must pass (default 3)")
    p.add_argument("--timeout", type=float, default=60.0, metavar="S", help="wall-time limit per test run (s)")
    p.add_argument("--suite", metavar="PATH", help="existing tests to measure baseline coverage with (default: all)")
    p.add_argument("--python", metavar="PY", help="interpreter for a Python repo's tests (needs pytest, coverage)")
    p.add_argument("--no-pytest-plugins", action="store_true", help="disable pytest plugin autoloading in test runs")
    p.add_argument("--dry-run", action="store_true", help="print the diff; write nothing")
    p.add_argument("--seed", type=int, default=0, help="sampling seed")
    p.add_argument("--device", help="cpu, cuda, ... (default: cuda when available)")


def _load(args: argparse.Namespace, project: str, console):
    from codecustom.modeling.artifacts import load_artifact, newest_artifact
    from codecustom.modeling.loading import load_base

    if args.model:
        base = load_base(args.base, device=args.device) if args.base else None
        return load_artifact(args.model, base, device=args.device), str(args.model)
    if args.base:
        return load_base(args.base, device=args.device), f"base {args.base}"
    newest = newest_artifact(project, task="tests")
    if newest is not None:
        return load_artifact(newest.path, device=args.device), f"{newest.strategy} artifact {newest.path}"
    console.warn(f"no customized tests model for project '{project}'; using the shipped base model "
                 "(run 'codecustom customize' for tests that fit the repo)")
    return load_base(None, device=args.device), "base default"


def run(args: argparse.Namespace, console) -> int:
    from pathlib import Path

    from codecustom import paths
    from codecustom.data.tests_task import pick_context
    from codecustom.errors import UsageError
    from codecustom.evaluation.evaluate import artifact_context_level
    from codecustom.evaluation.execution import Workspace, get_ladder
    from codecustom.evaluation.gentests import (find_focal, parse_spec, repo_root, select_tests, unified_diff,
                                                write_tests)
    from codecustom.evaluation.sandbox import probe

    if args.samples < 1:
        raise UsageError(f"-k must be at least 1, got {args.samples}")
    if args.runs < 1 or args.timeout <= 0:
        raise UsageError("--runs must be at least 1 and --timeout positive")
    file, func = parse_spec(args.target)
    path = Path(file).expanduser()
    root = Path(args.repo).expanduser().resolve() if args.repo else None
    if not path.is_absolute():
        path = (root or Path.cwd()) / path
    if not path.is_file():
        raise UsageError(f"{file} does not exist")
    root = root or repo_root(path)
    try:
        rel = path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise UsageError(f"{file} is not inside the repository {root}", hint="pass --repo") from None
    focal = find_focal(root, rel, func)
    ladder = get_ladder(focal.language, runs=args.runs, timeout=args.timeout, python=args.python,
                        plugins=not args.no_pytest_plugins)
    if ladder is None:
        raise UsageError(f"no execution ladder for {focal.language}")

    project = paths.project_name(root)
    loaded, model_name = _load(args, project, console)
    from codecustom.inference import TestGenEngine

    level = args.context_level or artifact_context_level((loaded.extra or {}).get("manifest") or {})
    engine = TestGenEngine.for_model(loaded, max_new_tokens=args.max_new_tokens, seed=args.seed)
    temperature = args.temperature if args.samples > 1 else 0.0
    console.info(f"generating {args.samples} test(s) for {focal.title} ({rel}) with {model_name}")
    candidates = engine.generate(pick_context(focal.contexts, level), language=focal.language, n=args.samples,
                                 temperature=temperature)

    isolation = probe()
    with Workspace.from_tree(root) as workspace:
        level_ok, why = ladder.availability(workspace)
        if level_ok != "run":
            raise UsageError(f"cannot run {focal.language} tests here: {why}")
        console.info(f"running candidates in the sandbox ({why})")
        selection = select_tests(workspace, focal, candidates, ladder, suite=args.suite)

    counts = selection.counts()
    console.table([[k, v] for k, v in counts.items()], ["ladder", "tests"], title=f"{focal.title}: candidate tests")
    for i, cand in enumerate(selection.candidates, 1):
        console.info(f"  candidate {i}: {cand.verdict}")
    for note in selection.notes:
        console.warn(note)
    if selection.coverage_measured and selection.focal_lines:
        total = len(selection.focal_lines)
        console.info(f"focal lines covered: {len(selection.baseline_lines)}/{total} by the existing suite -> "
                     f"{len(selection.final_lines)}/{total} with the kept tests")
    diff = unified_diff(selection)
    written = None
    if not selection.kept:
        console.info("no candidate met the bar; nothing written")
    elif args.dry_run:
        if not console.json_mode:
            print(diff, end="")
    else:
        written = write_tests(root, selection)
        console.info(f"added {len(selection.kept)} test(s) to {selection.test_file}")
    if not isolation.network:
        console.warn("the sandbox has no network isolation on this machine (no network namespace)")
    console.result({"focal": {"path": focal.path, "function": focal.title, "language": focal.language},
                    "model": model_name, "counts": counts, "test_file": selection.test_file,
                    "written": str(written) if written else None, "dry_run": args.dry_run, "diff": diff,
                    "coverage": {"measured": selection.coverage_measured, "focal_lines": selection.focal_lines,
                                 "baseline": selection.baseline_lines, "final": selection.final_lines},
                    "candidates": [c.as_dict() for c in selection.candidates], "notes": selection.notes,
                    "sandbox": isolation.describe()})
    return 0
