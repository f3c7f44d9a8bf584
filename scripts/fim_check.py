#!/usr/bin/env python3
"""Does a model use the prefix when it fills in the middle? PSM vs SPM, measured by swapping prefixes.

For seeded line-completion cuts of real Python files (prefix up to a random cursor, middle = the rest of
that line, suffix = what follows), the mean NLL of the middle's tokens is computed with the real prefix and
with the prefix of another cut, in PSM and in SPM order. A model that learnt an order completes from the
prefix, so swapping it costs many nats; a gap near zero means that order ignores the prefix (the shipped
model's PSM, trained on FIM examples cut at block boundaries). Pick the model's ``fim_mode`` from this.

    python scripts/fim_check.py                                   # the shipped model on this repo's code
    python scripts/fim_check.py --model PATH --eval /path/to/src --cases 200 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def line_cuts(texts: list[str], n: int, seed: int, prefix_chars: int = 800,
              suffix_chars: int = 300) -> list[tuple[str, str, str]]:
    """``n`` (prefix, middle, suffix) cuts: a random cursor in a random non-trivial line, middle to its end."""
    rng = random.Random(seed)
    texts = [t for t in texts if t.count("\n") > 10]
    cuts: list[tuple[str, str, str]] = []
    for _ in range(n * 50):
        if len(cuts) >= n or not texts:
            break
        text = rng.choice(texts)
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        if len(line.strip()) < 8:
            continue
        col = rng.randrange(indent, len(line) - 3)
        start = sum(len(x) + 1 for x in lines[:i])
        cuts.append((text[max(0, start + col - prefix_chars):start + col], line[col:],
                     text[start + len(line):start + len(line) + suffix_chars]))
    return cuts


def middle_nll(model, tokenizer, fim, prefix: str, middle: str, suffix: str, mode: str) -> float:
    """Mean NLL (nats) of the middle's tokens after the FIM prompt in ``mode``."""
    import torch

    ids = fim.encode(tokenizer, prefix, middle, suffix, mode)[:-1]  # without the closing eos
    n_mid = len(tokenizer(middle, add_special_tokens=False, split_special_tokens=True)["input_ids"])
    x = torch.tensor([ids], device=model.device)
    with torch.inference_mode():
        logits = model(x).logits[0, :-1].float()
    logp = torch.log_softmax(logits, -1)[-n_mid:]
    return -logp.gather(-1, x[0, 1:][-n_mid:, None]).mean().item()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "codecustom" / "models" / "default"))
    ap.add_argument("--eval", action="append", type=Path, help="folder of Python files (repeatable)")
    ap.add_argument("--cases", type=int, default=120)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from codecustom.data.fim import FimFormat
    from codecustom.errors import CodecustomError
    from codecustom.modeling.loading import load_base

    folders = args.eval or [ROOT / "codecustom", ROOT / "lsp"]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise SystemExit(f"fim_check: no such folder: {', '.join(missing)}; give --eval a folder of Python files")
    texts = [p.read_text(encoding="utf-8", errors="replace") for f in folders for p in sorted(f.rglob("*.py"))]
    try:
        loaded = load_base(args.model, device=args.device)
    except CodecustomError as exc:
        raise SystemExit(f"fim_check: {exc}") from None
    model, tokenizer = loaded.model.float().eval(), loaded.tokenizer
    try:
        fim = FimFormat.for_tokenizer(tokenizer, add_missing=False)
    except ValueError:
        raise SystemExit(f"fim_check: {args.model} has no fill-in-the-middle tokens; nothing to compare") from None
    cuts = line_cuts(texts, args.cases, args.seed)
    if len(cuts) < 2:
        raise SystemExit("fim_check: fewer than 2 usable lines in the --eval folders; point it at more code")
    rows = {}
    for mode in ("psm", "spm"):
        real = [middle_nll(model, tokenizer, fim, p, m, s, mode) for p, m, s in cuts]
        swapped = [middle_nll(model, tokenizer, fim, cuts[(k + 7) % len(cuts)][0], m, s, mode)
                   for k, (_, m, s) in enumerate(cuts)]
        rows[mode] = {"real_prefix_nll": sum(real) / len(real), "swapped_prefix_nll": sum(swapped) / len(swapped)}
        rows[mode]["prefix_gain"] = rows[mode]["swapped_prefix_nll"] - rows[mode]["real_prefix_nll"]
    print(f"model {args.model}; {len(cuts)} line cuts from {', '.join(map(str, folders))}")
    print(f"{'order':<6} {'real prefix':>12} {'swapped':>9} {'gain (nats)':>12}")
    for mode, r in rows.items():
        print(f"{mode:<6} {r['real_prefix_nll']:>12.3f} {r['swapped_prefix_nll']:>9.3f} {r['prefix_gain']:>12.3f}")
    best = max(rows, key=lambda m: rows[m]["prefix_gain"])
    print(f"uses the prefix most in {best.upper()} order (tokenizer_config.json \"fim_mode\": \"{best}\")")
    if args.json:
        args.json.write_text(json.dumps({"model": args.model, "cases": len(cuts), "rows": rows, "best": best},
                                        indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
