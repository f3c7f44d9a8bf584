#!/usr/bin/env python3
"""Why do customized models write worse tests than the base? The numbers behind the answer.

For one mined dataset it prints three things:

1. **Training data** at each given length (CPU default 256, CUDA 1024): how many tests-task examples
   had their target test cut to fit (and so lost their end-of-sequence token), how many had their
   context cut, and the target lengths.
2. **Prompt parity**: for held-out pairs, the exact token ids the model was trained on before the test
   (training side: ``encode_test_example``) against the ids the generation engine feeds it
   (``TestGenEngine.prompt`` + the backend's tokenization), with the first position where they differ.
3. **Generation** per model (the base and each artifact of a store): learning rate and steps it was
   trained with, syntax validity, why decoding ended (EOS / end of the test function / loop / token
   limit), generated length against the reference, repeated 4-gram rate, and the first sample.

    python scripts/diagnose_testgen.py --dataset DIR --store STORE/PROJECT/tests --lengths 256 1024
    python scripts/diagnose_testgen.py --dataset DIR --stop legacy      # the stop rule of before the fix

``--stop legacy`` ends a test only where the old indentation/brace rule saw it close (no loop cut), to
measure how decoding behaved before the fix; ``--stop current`` (default) uses the engine's rule.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any


def legacy_prompt_ids(tokenizer: Any, context: str, test: str, language: str, max_length: int) -> tuple[list[int], bool]:
    """The prompt ids training fed before the fix, and whether the test was cut (lost its EOS) there.

    Then the prompt got what the test left of the window (``max_length - min(test, max_length // 2)``)
    and a test longer than what the prompt left was cut to fit.
    """
    from codecustom.data.tests_task import fit_test_prompt, target_ids

    target = target_ids(tokenizer, test, is_seq2seq=False)
    room = max_length - min(len(target), max(1, max_length // 2))
    prompt_ids = tokenizer(fit_test_prompt(tokenizer, context, language, room))["input_ids"]
    return prompt_ids, len(target) > max_length - len(prompt_ids)


def data_stats(dataset: Path, tokenizer: Any, lengths: list[int], context_level: str) -> list[dict[str, Any]]:
    """Per max length: the train split's tests, the share whose target was cut before the fix (and so lost its
    EOS), and now: the test budget chosen, tests left out for being longer, contexts cut."""
    from codecustom.data.tasks import TaskConfig, build_task_data
    from codecustom.data.tests_task import pick_context, target_ids
    from codecustom.evaluation.testgen import load_pairs

    pairs, _ = load_pairs(dataset, "train")
    lengths_of = sorted(len(target_ids(tokenizer, p.test, is_seq2seq=False)) for p in pairs)
    rows = []
    for length in lengths:
        legacy_cut = sum(legacy_prompt_ids(tokenizer, pick_context(p.context, context_level), p.test, p.language,
                                           length)[1] for p in pairs)
        data = build_task_data(dataset, "tests", tokenizer, is_seq2seq=False, splits=("train",),
                               config=TaskConfig(max_length=length, context_level=context_level), min_examples=0)
        stats, n = data.stats["train"], max(1, len(pairs))
        rows.append({"max_length": length, "tests": len(pairs), "legacy_target_cut": legacy_cut / n,
                     "test_budget": data.config.max_target_length, "examples": stats["examples"],
                     "left_out": stats.get("test_too_long", 0) / n, "context_cut": stats.get("context_cut", 0) / n,
                     "target_tokens_p50": lengths_of[len(lengths_of) // 2] if lengths_of else None,
                     "target_tokens_p90": lengths_of[int(0.9 * (len(lengths_of) - 1))] if lengths_of else None})
    return rows


def parity(dataset: Path, loaded: Any, context_level: str, split: str, limit: int | None) -> dict[str, Any]:
    """Training-side prompt ids against the ids the engine feeds, for held-out pairs: before the fix (the
    legacy encoding at the CPU default 256 against the old generation budget of positions - 256) and now
    (the model's recorded task settings against ``TestGenEngine.for_model``)."""
    from codecustom.data.tests_task import encode_test_example, fit_test_prompt, pick_context
    from codecustom.evaluation.testgen import load_pairs
    from codecustom.inference import TestGenEngine
    from codecustom.training.heldout import task_config_of

    pairs, _ = load_pairs(dataset, split, limit=limit)
    config = task_config_of(loaded)
    engine = TestGenEngine.for_model(loaded)
    old_same = new_same = 0
    for p in pairs:
        context = pick_context(p.context, context_level)
        old_fed = loaded.tokenizer(fit_test_prompt(loaded.tokenizer, context, p.language, 1024 - 256))["input_ids"]
        old_same += legacy_prompt_ids(loaded.tokenizer, context, p.test, p.language, 256)[0] == old_fed
        if config is not None:
            enc = encode_test_example(loaded.tokenizer, context, p.test, p.language, is_seq2seq=False,
                                      max_length=config.max_length, max_target_length=config.max_target_length,
                                      long_target="cut")
            trained = [t for t, lab in zip(enc.features["input_ids"], enc.features["labels"]) if lab == -100]
            new_same += trained == engine.prompt_ids(context, p.language)
    return {"pairs": len(pairs), "legacy_identical": old_same, "identical": new_same if config else None}


def model_rows(dataset: Path, models: list[tuple[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Generate held-out tests with each model; the shape of what came out."""
    from codecustom.data.tests_task import pick_context
    from codecustom.evaluation.evaluate import artifact_context_level
    from codecustom.evaluation.testgen import TestGenExample, generate_tests, load_pairs, text_metrics
    from codecustom.inference import TestGenEngine
    from codecustom.inference.languages import get_language
    from codecustom.inference.stopping import DefinitionEnd

    def legacy(language: str) -> Any:  # the rule of before the fix: indentation/braces only, no loop cut
        spec = get_language(language)
        return DefinitionEnd(spec.blocks, spec.line_comment)

    pairs, _ = load_pairs(dataset, args.split, limit=args.n)
    rows = []
    for name, loaded in models:
        manifest = (getattr(loaded, "extra", {}) or {}).get("manifest") or {}
        level = artifact_context_level(manifest)
        examples = [TestGenExample(pair=p, context=pick_context(p.context, level)) for p in pairs]
        engine = TestGenEngine.for_model(loaded, max_new_tokens=args.max_new_tokens,
                                         stop_rule=legacy if args.stop == "legacy" else None)
        generate_tests(engine, examples, samples=1, temperature=0.0)
        tests = text_metrics(examples)
        hyper = manifest.get("hyperparameters") or {}
        first = examples[0] if examples else None
        rows.append({"model": name, "learning_rate": hyper.get("learning_rate"), "steps": hyper.get("max_steps"),
                     "syntax_valid": tests.get("syntax_valid"), "stopped_by": tests.get("stopped_by"),
                     **(tests.get("shape") or {}),
                     "sample": {"test_id": first.pair.test_id, "reference": first.pair.test,
                                "generated": first.samples[0]} if first and first.samples else None})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, type=Path, help="a folder written by 'codecustom mine'")
    ap.add_argument("--base", default=None, help="base model (default: the shipped one)")
    ap.add_argument("--store", type=Path, help="<store>/<project>/tests: evaluate every strategy artifact in it")
    ap.add_argument("--lengths", type=int, nargs="+", default=[256, 1024], help="training lengths to inspect")
    ap.add_argument("--split", default="test", help="held-out split to generate on (default: test)")
    ap.add_argument("--n", type=int, default=16, help="held-out pairs per model")
    ap.add_argument("--max-new-tokens", type=int, default=256)
    ap.add_argument("--stop", choices=("current", "legacy"), default="current")
    ap.add_argument("--json", type=Path, help="also write everything here")
    args = ap.parse_args(argv)

    from codecustom.data.tests_task import DEFAULT_CONTEXT_LEVEL
    from codecustom.modeling.artifacts import load_artifact
    from codecustom.modeling.loading import load_base

    base = load_base(args.base)
    report: dict[str, Any] = {"dataset": str(args.dataset), "stop": args.stop}
    report["data"] = data_stats(args.dataset, base.tokenizer, args.lengths, DEFAULT_CONTEXT_LEVEL)
    print("## Training data (train split)\n")
    print("| max length | tests | target cut before the fix | test budget now | left out now | context cut | "
          "test tokens p50 / p90 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in report["data"]:
        print(f"| {r['max_length']} | {r['tests']} | {r['legacy_target_cut']:.0%} | {r['test_budget']} | "
              f"{r['left_out']:.0%} | {r['context_cut']:.0%} | {r['target_tokens_p50']} / {r['target_tokens_p90']} |")

    models: list[tuple[str, Any]] = [("base", base)]
    if args.store:
        for folder in sorted(p for p in args.store.iterdir() if (p / "manifest.json").is_file()):
            models.append((folder.name, load_artifact(folder, base=load_base(args.base))))
    report["parity"] = {}
    print("\n## Prompt parity: training's prompt ids vs the ids fed at generation, held-out pairs\n")
    for name, loaded in models:
        got = parity(args.dataset, loaded, DEFAULT_CONTEXT_LEVEL, args.split, None)
        report["parity"][name] = got
        now = "-" if got["identical"] is None else f"{got['identical']}/{got['pairs']}"
        print(f"- {name}: before the fix (trained at 256, fed up to 768 tokens) {got['legacy_identical']}/{got['pairs']} "
              f"identical; now {now}")

    report["models"] = model_rows(args.dataset, models, args)
    print(f"\n## Generation ({args.n} held-out pairs of split '{args.split}', stop rule: {args.stop})\n")
    print("| model | lr | steps | syntax | stopped by | tokens gen / ref | repeated 4-grams (ref) |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for r in report["models"]:
        stops = ", ".join(f"{k} {v:.0%}" for k, v in (r["stopped_by"] or {}).items())
        print(f"| {r['model']} | {r['learning_rate'] or '-'} | {r['steps'] or '-'} | {r['syntax_valid']:.0%} | {stops} | "
              f"{r.get('generated_tokens')} / {r.get('reference_tokens')} | "
              f"{r.get('repeated_4gram_rate'):.0%} ({r.get('reference_repeated_4gram_rate'):.0%}) |")
    for r in report["models"]:
        if r["sample"]:
            print(f"\n### {r['model']}: {r['sample']['test_id']}\n\n```\n{r['sample']['generated'][:1200]}\n```")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
