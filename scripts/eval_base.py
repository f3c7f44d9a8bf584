#!/usr/bin/env python3
"""Quality of a base model on code it never saw, next to unigram/bigram baselines.

For each evaluation folder (default: this repository's codecustom/ and lsp/, which every pretraining
run excludes) it reports, on Python files:

* perplexity per token of the files (windows of the model's context, no overlap);
* single-line completion at seeded random cursors (codecustom.evaluation.completion: the prefix up to
  the cursor and the suffix from the end of the line are given, the rest of the line is predicted, as
  the language server does it, through ``CompletionEngine``): exact match, edit similarity, and the
  share of completions after which the file still parses with tree-sitter (only files that parse
  before are sampled, so this is "the completed file parses");
* the same for a unigram and a bigram model over the same tokenizer's tokens, trained on ``--corpus``
  (add-one smoothing; completion = greedy continuation from the last prefix token to the end of line;
  the unigram "completion" is the most frequent tokens up to a newline, i.e. the floor).

    python scripts/eval_base.py                                    # shipped model, this repo's code
    python scripts/eval_base.py --model /tmp/m/base --eval /tmp/pydash/src --corpus stdlib --json out.json

``--corpus stdlib`` names this Python's standard library (the shipped model's corpus also holds
site-packages; the baselines use what is on this machine and say so).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sysconfig
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def python_files(folders: list[Path], limit_bytes: int | None = None) -> list[tuple[str, str]]:
    """(path, text) of the .py files under ``folders`` (sorted, UTF-8 only, optional byte cap)."""
    out, total = [], 0
    for folder in folders:
        for p in sorted(folder.rglob("*.py")):
            if any(part in {"__pycache__", "site-packages", ".venv"} for part in p.parts):
                continue
            try:
                text = p.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
            out.append((str(p), text))
            total += len(text)
            if limit_bytes and total >= limit_bytes:
                return out
    return out


class NGram:
    """Unigram (n=1) or bigram (n=2) token model with add-one smoothing."""

    def __init__(self, n: int, vocab_size: int) -> None:
        self.n, self.v = n, vocab_size
        self.uni: Counter = Counter()
        self.bi: dict[int, Counter] = {}
        self.total = 0

    def fit(self, sequences: list[list[int]]) -> "NGram":
        for ids in sequences:
            self.uni.update(ids)
            self.total += len(ids)
            if self.n == 2:
                for a, b in zip(ids, ids[1:]):
                    self.bi.setdefault(a, Counter())[b] += 1
        return self

    def logprob(self, prev: int | None, tok: int) -> float:
        if self.n == 2 and prev is not None:
            row = self.bi.get(prev)
            count = row[tok] if row else 0
            denom = (sum(row.values()) if row else 0) + self.v
            return math.log((count + 1) / denom)
        return math.log((self.uni[tok] + 1) / (self.total + self.v))

    def next_token(self, prev: int | None) -> int:
        if self.n == 2 and prev is not None and prev in self.bi:
            return self.bi[prev].most_common(1)[0][0]
        return self.uni.most_common(1)[0][0]


def model_perplexity(model, tokenizer, texts: list[str], window: int) -> float:
    import torch

    nll, count = 0.0, 0
    device = next(model.parameters()).device
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            for start in range(0, len(ids), window):
                chunk = ids[start:start + window]
                if len(chunk) < 2:
                    continue
                x = torch.tensor([chunk], device=device)
                loss = model(input_ids=x, labels=x).loss.item()
                nll += loss * (len(chunk) - 1)
                count += len(chunk) - 1
    return math.exp(nll / max(count, 1))


def ngram_perplexity(lm: NGram, sequences: list[list[int]]) -> float:
    nll, count = 0.0, 0
    for ids in sequences:
        for prev, tok in zip([None] + ids[:-1], ids):
            if prev is None:
                continue
            nll -= lm.logprob(prev, tok)
            count += 1
    return math.exp(nll / max(count, 1))


class NGramCompleter:
    """Greedy end-of-line completion from an n-gram model (what the engine interface expects)."""

    def __init__(self, lm: NGram, tokenizer, max_tokens: int = 24) -> None:
        self.lm, self.tok, self.max_tokens = lm, tokenizer, max_tokens

    def complete(self, prefix: str, suffix: str, *, language: str, multiline: bool = False):
        from types import SimpleNamespace

        ids = self.tok(prefix[-200:], add_special_tokens=False)["input_ids"]
        prev = ids[-1] if ids else None
        out: list[int] = []
        for _ in range(self.max_tokens):
            nxt = self.lm.next_token(prev)
            out.append(nxt)
            if "\n" in self.tok.decode(out):
                break
            prev = nxt
        return SimpleNamespace(text=self.tok.decode(out).split("\n")[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "codecustom" / "models" / "default"))
    ap.add_argument("--eval", action="append", type=Path, help="evaluation folder (repeatable)")
    ap.add_argument("--corpus", default="stdlib", help="baseline training folder, or 'stdlib'")
    ap.add_argument("--corpus-mb", type=float, default=20.0, help="cap on baseline training text (MB)")
    ap.add_argument("--cursors", type=int, default=200, help="completion cursors (seeded)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=512, help="tokens per perplexity window")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from codecustom.evaluation.completion import completion_metrics, run_completions, sample_cases
    from codecustom.inference import CompletionEngine
    from codecustom.inference.backends import in_process
    from codecustom.mining.records import FileRecord
    from codecustom.modeling.loading import load_base, pick_device

    folders = args.eval or [ROOT / "codecustom", ROOT / "lsp"]
    files = python_files(folders)
    records = [FileRecord(path=p, language="python", content=t, sha="") for p, t in files]
    t0 = time.perf_counter()
    loaded = load_base(args.model, device=pick_device(None if args.device == "auto" else args.device))
    tokenizer, model = loaded.tokenizer, loaded.model
    model.eval()
    texts = [t for _, t in files]
    rows = {}

    cases = sample_cases(records, args.cursors, seed=args.seed)
    ppl = model_perplexity(model, tokenizer, texts, args.window)
    engine = CompletionEngine(in_process(loaded), tokenizer)
    run_completions(engine, cases)
    rows["model"] = {"perplexity": ppl, **completion_metrics(cases)}
    model_s = time.perf_counter() - t0

    corpus = Path(sysconfig.get_paths()["stdlib"]) if args.corpus == "stdlib" else Path(args.corpus)
    train = python_files([corpus], limit_bytes=int(args.corpus_mb * 1e6))
    train_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for _, t in train]
    eval_ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    for n, name in ((1, "unigram"), (2, "bigram")):
        lm = NGram(n, len(tokenizer)).fit(train_ids)
        base_cases = sample_cases(records, args.cursors, seed=args.seed)
        run_completions(NGramCompleter(lm, tokenizer), base_cases)
        rows[name] = {"perplexity": ngram_perplexity(lm, eval_ids), **completion_metrics(base_cases)}

    print(f"model {args.model} ({sum(p.numel() for p in model.parameters()):,} parameters, {loaded.device}); "
          f"eval: {len(files)} files, {sum(map(len, eval_ids)):,} tokens from {', '.join(map(str, folders))}; "
          f"baselines trained on {len(train)} files of {corpus} ({sum(map(len, train_ids)):,} tokens)")
    print(f"{'':<8} {'perplexity':>10} {'line EM':>8} {'edit sim':>9} {'parses':>7} {'cursors':>8}")
    for name, r in rows.items():
        print(f"{name:<8} {r['perplexity']:>10.2f} {r.get('exact_match', 0):>8.1%} {r.get('edit_similarity', 0):>9.1%} "
              f"{r.get('syntax_valid', 0):>7.1%} {r.get('n', 0):>8}")
    print(f"model evaluation took {model_s:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "eval": [str(f) for f in folders], "rows": rows},
                                        indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
