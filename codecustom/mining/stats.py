"""The `--stats` summary: tables built from a manifest."""

from __future__ import annotations

from typing import Any

from codecustom.mining.records import Manifest

FilterRows = list[tuple[str, list[str], list[list[Any]]]]


def summary_rows(m: Manifest) -> FilterRows:
    """(title, headers, rows) for each table of the summary."""
    c, x = m.counts, m.extra
    seen = c.get("files_seen", 0)
    files = [["seen", seen], ["parsed", c.get("files_parsed", 0)], ["kept (files.jsonl)", c.get("files_kept", 0)]]
    files += [[f"  rejected: {reason}", n] for reason, n in sorted(m.filters.items(), key=lambda kv: -kv[1])
              if reason != "duplicate_method"]
    methods = [
        ["methods written", c.get("methods", 0)],
        ["  exact duplicates dropped", m.filters.get("duplicate_method", 0)],
        ["  skipped: syntax errors", c.get("methods_syntax_error", 0)],
        ["classes", c.get("classes", 0)],
        ["tests", c.get("tests", 0)],
        ["tests mapped (mappable langs)", f"{x.get('tests_mapped', 0):,} / {x.get('tests_mappable', 0):,} "
                                          f"({x.get('tests_mapped_share', 0):.1%})"],
        ["pairs written", c.get("pairs", 0)],
        ["  duplicate pairs dropped", c.get("duplicate_pairs", 0)],
    ]
    heur = [[h, n] for h, n in x.get("pairs_by_heuristic", {}).items()]
    rules = [[r, n] for r, n in x.get("pairs_by_class_rule", {}).items()]
    unmapped = [[r, n] for r, n in x.get("unmapped_reasons", {}).items()]
    splits = [[kind, sizes.get("train", 0), sizes.get("valid", 0), sizes.get("test", 0)]
              for kind, sizes in m.split_sizes.items()]
    out: FilterRows = [
        ("Files", ["files", "count"], files),
        ("Methods and tests", ["what", "count"], methods),
        ("Pairs by heuristic", ["heuristic", "pairs"], heur or [["(none)", 0]]),
        ("Pairs by focal-class rule", ["rule", "pairs"], rules or [["(none)", 0]]),
    ]
    if unmapped:
        out.append(("Tests not mapped, by reason", ["reason", "tests"], unmapped))
    disc = x.get("test_discovery") or {}
    langs = {lang for lang in m.languages if c.get(f"files_{lang}") or x.get("tests_by_language", {}).get(lang)}
    rules = [r for r in disc.get("rules", []) if r[0] in langs or r[0] == "note"]
    if rules:
        by_lang = x.get("tests_by_language", {})
        rows = [[lang, src, rule, by_lang.get(lang, 0) if lang in by_lang or lang in langs else ""]
                for lang, src, rule in rules]
        out.append(("Where tests were looked for", ["language", "from", "rule", "tests"], rows))
    for w in x.get("warnings", []):
        out.append(("Warning", ["what"], [[w]]))
    out.append((f"Splits (rule: {m.split_rule})", ["records", "train", "valid", "test"], splits))
    return out
