#!/usr/bin/env python3
"""Draw a deterministic random sample of mined test→focal pairs (or of unmapped tests) for checking by hand,
and score hand labels. No methods2test needed (scripts/methods2test_compare.py runs both tools side by side).

    python -m codecustom mine /tmp/javarepos/google+gson --lang java --out /tmp/prec/gson -q   # per repo
    python scripts/sample_pairs.py --dataset gson=/tmp/prec/gson --dataset commons-cli=/tmp/prec/cli \\
        --sample 25 --seed 3 --exclude docs/results/mining_overload_labels_round1.jsonl --out /tmp/prec/sample.jsonl
    python scripts/sample_pairs.py ... --labels docs/results/mining_overload_labels_round3.jsonl   # score
    python scripts/sample_pairs.py --dataset gson=/tmp/prec/gson --unmapped 40 --seed 3 --out /tmp/prec/unmapped.jsonl
    python scripts/sample_pairs.py --dataset gson=/tmp/prec/gson --tests 40 --seed 11 --out /tmp/prec/blind.jsonl

--tests draws random test methods (mapped or not) and writes label rows with the focal left empty, for labelling
blind (the miner's answer is not in them): the convention of docs/results/mining.md ("Labelling convention").

Pairs are sampled from each dataset's pairs.jsonl (rows as in methods2test_compare.py, plus the focal method's
source); --unmapped samples Java test methods of methods.jsonl that no pair maps. Tests named in --exclude
label files are never drawn again, so a new round is a fresh sample.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from methods2test_compare import sample_rows, short_focal  # noqa: E402,F401


def _jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_key(test_id: str, test_class: str | None) -> str:
    """`path::Class::method` (the labels' form) from a record id `path::Class::method@line`."""
    path, _, rest = test_id.partition("::")
    method = rest.rsplit("::", 1)[-1].split("@")[0]
    return f"{path}::{test_class or rest.rsplit('::', 1)[0]}::{method}"


def sample_mapped(name: str, ds: Path, n: int, seed: int, exclude: set[tuple[str, str]]) -> list[dict]:
    pairs = [p for p in _jsonl(ds / "pairs.jsonl")
             if (name, test_key(p["test_id"], p.get("test_class"))) not in exclude]
    rows = sample_rows("ours", name, pairs, n, seed)
    by_test = {test_key(p["test_id"], p.get("test_class")): p for p in pairs}
    for r in rows:
        p = by_test[r["test"]]
        r["focal_source"] = p["focal"]
        r["class_rule"] = p.get("class_rule")
    return rows


def sample_unmapped(name: str, ds: Path, n: int, seed: int, exclude: set[tuple[str, str]]) -> list[dict]:
    mapped = {p["test_id"] for p in _jsonl(ds / "pairs.jsonl")}
    tests = [m for m in _jsonl(ds / "methods.jsonl") if m["is_test"] and m["language"] == "java"
             and m["id"] not in mapped and (name, test_key(m["id"], m["class_name"])) not in exclude]
    rng = random.Random(f"{seed}:{name}:unmapped")
    picked = rng.sample(tests, min(n, len(tests)))
    return [{"repo": name, "tool": "ours_unmapped", "test": test_key(m["id"], m["class_name"]), "test_source": m["body"],
             "single_focal": None, "focal": None, "note": ""} for m in picked]


def sample_tests(name: str, ds: Path, n: int, seed: int, exclude: set[tuple[str, str]]) -> list[dict]:
    """Random test methods of a dataset as blind label rows (``focal``/``kind`` to fill in by hand)."""
    manifest = _jsonl_manifest(ds)
    tests = [m for m in _jsonl(ds / "methods.jsonl") if m["is_test"] and m["language"] in ("python", "java")
             and (name, test_key(m["id"], m["class_name"])) not in exclude]
    rng = random.Random(f"{seed}:{name}:tests")
    picked = sorted(rng.sample(tests, min(n, len(tests))), key=lambda m: (m["path"], m["start_line"]))
    return [{"repo": name, "commit": manifest.get("revision", ""), "language": m["language"],
             "test": test_key(m["id"], m["class_name"]), "test_line": m["start_line"], "focal": None, "kind": None,
             "note": "", "test_source": m["body"]} for m in picked]


def _jsonl_manifest(ds: Path) -> dict:
    return json.loads((ds / "manifest.json").read_text(encoding="utf-8"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", action="append", required=True, metavar="NAME=DIR", help="a `codecustom mine` output")
    ap.add_argument("--sample", type=int, default=25, help="mapped pairs per dataset")
    ap.add_argument("--unmapped", type=int, default=0, help="sample this many unmapped tests per dataset instead")
    ap.add_argument("--tests", type=int, default=0, help="sample this many test methods per dataset for blind labels")
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--exclude", type=Path, action="append", default=[], help="label files whose tests are not drawn")
    ap.add_argument("--labels", type=Path, help="hand labels (JSONL, verdict yes/no) to score against the sample")
    ap.add_argument("--out", type=Path, help="write the sample here (JSONL)")
    args = ap.parse_args()
    exclude = {(r["repo"], r["test"]) for f in args.exclude for r in _jsonl(f)}
    rows: list[dict] = []
    for spec in args.dataset:
        name, _, path = spec.partition("=")
        ds = Path(path)
        if args.tests:
            rows += sample_tests(name, ds, args.tests, args.seed, exclude)
        elif args.unmapped:
            rows += sample_unmapped(name, ds, args.unmapped, args.seed, exclude)
        else:
            rows += sample_mapped(name, ds, args.sample, args.seed, exclude)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")
        print(f"{len(rows)} rows -> {args.out}")
    if args.labels:
        labels = {(r["repo"], r["test"]): r for r in _jsonl(args.labels)}
        print("| repo | checked | exact | precision |")
        print("|---|---:|---:|---:|")
        tot = [0, 0]
        for name in dict.fromkeys(r["repo"] for r in rows):
            got = [labels.get((name, r["test"])) for r in rows if r["repo"] == name]
            got = [g for g in got if g and g.get("verdict") in ("yes", "no")]
            yes = sum(g["verdict"] == "yes" for g in got)
            tot[0] += len(got)
            tot[1] += yes
            print(f"| {name} | {len(got)} | {yes} | {yes / len(got):.0%} |" if got else f"| {name} | 0 | - | - |")
        if tot[0]:
            print(f"| all | {tot[0]} | {tot[1]} | {tot[1] / tot[0]:.1%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
