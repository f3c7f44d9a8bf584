"""The model card of a pretrained model: ``card.json`` (machine-readable) and ``README.md`` (for people).

``card.json`` is the source of truth; ``README.md`` is rendered from it, so tools that add results to
the card (``scripts/eval_base.py --update-card``) call :func:`write_card` to refresh both.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

CARD_FORMAT = "codecustom-pretrained"
CARD_VERSION = 1


def read_card(folder: Path) -> dict[str, Any]:
    """``card.json`` of a model folder ({} when absent)."""
    path = Path(folder) / "card.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def is_pretrain_output(folder: Path) -> bool:
    """True when ``folder`` was written by ``codecustom pretrain``."""
    return read_card(folder).get("format") == CARD_FORMAT


def write_card(folder: Path, card: dict[str, Any]) -> None:
    """Write ``card.json`` and the rendered ``README.md`` into ``folder``."""
    folder = Path(folder)
    (folder / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(render_readme(card), encoding="utf-8")


def _fmt_int(n: Any) -> str:
    return f"{int(n):,}" if isinstance(n, (int, float)) else "-"


def _fmt_float(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and math.isfinite(x) else "-"


def render_readme(card: dict[str, Any]) -> str:
    """A Markdown model card from ``card``."""
    cfg = card.get("config", {})
    tr = card.get("training", {})
    ev = card.get("evaluation", {})
    data = card.get("data", {})
    lines: list[str] = [f"# {card.get('name', 'codecustom model')}", ""]
    if card.get("placeholder"):
        lines += ["> **Placeholder** — " + str(card.get("placeholder_note", "not the released model.")), ""]
    lines += [
        f"A Llama-style code model trained from scratch by `codecustom pretrain` (size `{card.get('size')}`) "
        "on permissively licensed code only, with causal language modelling, fill-in-the-middle "
        "(StarCoder-style PSM/SPM with `<fim_prefix>`/`<fim_suffix>`/`<fim_middle>`) and the test-generation "
        "task mined by codecustom's own miner.",
        "",
        "| | |",
        "|---|---|",
        f"| parameters | {_fmt_int(card.get('parameters'))} |",
        f"| layers / hidden / heads (kv) / MLP | {cfg.get('num_hidden_layers')} / {cfg.get('hidden_size')} / "
        f"{cfg.get('num_attention_heads')} ({cfg.get('num_key_value_heads')}) / {cfg.get('intermediate_size')} |",
        f"| vocabulary | {_fmt_int(cfg.get('vocab_size'))} (byte-level BPE) |",
        f"| context | {_fmt_int(cfg.get('max_position_embeddings'))} tokens |",
        f"| weights | {card.get('weights', {}).get('dtype', '-')}, {_fmt_int(card.get('weights', {}).get('bytes'))} bytes |",
        f"| training tokens | {_fmt_int(tr.get('tokens'))} ({_fmt_int(tr.get('steps'))} steps) |",
        f"| training time | {_fmt_float(tr.get('seconds', 0) / 60, 1)} min on {tr.get('device', '-')} "
        f"({tr.get('precision', '-')}), {_fmt_int(tr.get('tokens_per_s'))} tokens/s |",
        f"| final training loss | {_fmt_float(tr.get('final_train_loss'))} |",
    ]
    held = ev.get("heldout_corpus", {})
    if held:
        lines.append(f"| held-out corpus perplexity | {_fmt_float(held.get('perplexity'), 2)} "
                     f"({_fmt_int(held.get('files'))} held-out files) |")
    tests = ev.get("heldout_tests", {})
    if tests:
        lines.append(f"| held-out test-generation loss | {_fmt_float(tests.get('loss'))} |")
    lines.append("")
    ooc = ev.get("out_of_corpus")
    if ooc:
        lines += ["## Quality on code outside the corpus", "",
                  f"Measured by `scripts/eval_base.py` ({ooc.get('command', '')}).", ""]
        rows = ooc.get("rows", [])
        if rows:
            keys = ["dataset", "model", "perplexity", "exact_match", "edit_similarity", "parse_rate", "samples"]
            lines += ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
            for row in rows:
                lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
            lines.append("")
    lines += ["## Data", "",
              f"{_fmt_int(data.get('files'))} files, {_fmt_int(data.get('bytes'))} bytes "
              f"({', '.join(data.get('languages', []))}), after license filtering, quality filters, exact and "
              "near-duplicate removal, and removal of every file that also appears (exactly or nearly) in an "
              "evaluation repository or in codecustom itself.", "",
              "| source | version | license | evidence | files |", "|---|---|---|---|---|"]
    for src in data.get("sources", []):
        lines.append(f"| {src.get('name')} | {src.get('version') or '-'} | {src.get('license')} | "
                     f"{src.get('evidence')} | {_fmt_int(src.get('files'))} |")
    excluded = data.get("excluded_sources", [])
    if excluded:
        lines += ["", "Left out for their license (not permissive, or not identifiable):", ""]
        lines += [f"- {s.get('name')} {s.get('version') or ''} — {s.get('license')} ({s.get('evidence')}), "
                  f"{_fmt_int(s.get('files'))} files" for s in excluded]
    rejected = data.get("rejected_files", {})
    if rejected:
        lines += ["", "Files dropped, by reason: " + ", ".join(f"{k} {v:,}" for k, v in rejected.items()) + "."]
    repos = data.get("exclude_repos", [])
    if repos:
        lines += ["", "Excluded repositories (files dropped exact / near): "
                  + "; ".join(f"`{r.get('repo')}` ({r.get('dropped_exact')} / {r.get('dropped_near')})" for r in repos)
                  + "."]
    task = card.get("test_task", {})
    lines += ["", "## Training", "",
              f"Objectives and token shares: {_mix(tr.get('token_mix', {}))}. FIM: {tr.get('fim', {})}.",
              f"Test-generation pairs: {_fmt_int(task.get('pairs'))} ({task.get('note', '')}).",
              f"Optimiser: {tr.get('optimizer', '-')}, peak LR {tr.get('learning_rate')}, "
              f"{tr.get('warmup_steps')} warmup steps, {tr.get('schedule', '-')}; batch "
              f"{tr.get('micro_batch')} x {tr.get('grad_accum')} x {tr.get('seq_len')} tokens; "
              f"stopped by {tr.get('stopped_by', '-')}.", ""]
    curve = card.get("loss_curve", [])
    if curve:
        pick = curve if len(curve) <= 12 else [curve[round(i * (len(curve) - 1) / 11)] for i in range(12)]
        lines += ["Loss curve (full curve in `card.json` and `loss_curve.json`):", "",
                  "| step | tokens | loss |", "|---|---|---|"]
        lines += [f"| {p['step']} | {_fmt_int(p['tokens'])} | {_fmt_float(p['loss'])} |" for p in pick]
        lines.append("")
    lines += ["## Reproduce", "", "```", str(card.get("reproduce") or card.get("command", "")), "```", "",
              "## Use", "", "```", "codecustom customize REPO            # the shipped model is the default --base",
              "codecustom complete FILE:LINE:COL --base PATH/TO/THIS/FOLDER", "```", ""]
    soft = card.get("software", {})
    if soft:
        lines += ["Software: " + ", ".join(f"{k} {v}" for k, v in soft.items()) + ".", ""]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)


def _mix(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    names = {"lm": "causal LM", "fim": "fill-in-the-middle", "test": "test generation"}
    return ", ".join(f"{names.get(k, k)} {100 * v / total:.1f}%" for k, v in counts.items()) or "-"
