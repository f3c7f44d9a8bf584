"""The report's "Samples" section: what each model actually wrote, next to the reference test.

Metrics can hide what a user sees at once (a loop, a test that never ends). For a few held-out focal
methods the report shows the reference test and every model's first generated test, and per model why
decoding ended (end-of-sequence, the test function closed, a repetition loop was cut, the token limit).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SAMPLE_FOCALS = 3
STOP_ORDER = ("eos", "end of test", "loop", "length", "stop string", "cancelled")


@dataclass
class Generated:
    """One model's first test for a focal method."""

    model: str
    code: str
    stop_reason: str | None
    syntax_ok: bool | None


@dataclass
class Sample:
    """A held-out focal method, its reference test and each model's generation."""

    test_id: str
    focal_id: str
    language: str
    reference: str
    generated: list[Generated] = field(default_factory=list)


def pick_samples(evaluations: Mapping[str, Any], n: int = SAMPLE_FOCALS) -> list[Sample]:
    """``n`` held-out pairs every model generated for (the first by test id), with each model's first sample.

    ``evaluations`` maps a model name to its :class:`~codecustom.evaluation.evaluate.Evaluation`.
    """
    from codecustom.evaluation.syntax import is_valid_snippet

    per_model = {name: {e.pair.test_id: e for e in ev.tests if e.samples} for name, ev in evaluations.items()}
    if not per_model:
        return []
    common = sorted(set.intersection(*(set(m) for m in per_model.values())))
    out = []
    for test_id in common[:n]:
        first = next(iter(per_model.values()))[test_id]
        sample = Sample(test_id, first.pair.focal_id, first.pair.language, first.pair.test)
        for name, examples in per_model.items():
            code = examples[test_id].samples[0]
            sample.generated.append(Generated(name, str(code), getattr(code, "stop_reason", None),
                                              is_valid_snippet(code, first.pair.language)))
        out.append(sample)
    return out


def stop_table(summaries: Mapping[str, dict[str, Any] | None]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of the per-model "stopped by" breakdown (shares of generated tests)."""
    shares = {name: ((s or {}).get("tests") or {}).get("stopped_by") or {} for name, s in summaries.items()}
    reasons = [r for r in STOP_ORDER if any(r in v for v in shares.values())]
    reasons += sorted({r for v in shares.values() for r in v} - set(reasons))
    rows = [[name] + [f"{100 * v[r]:.0f}%" if r in v else "–" for r in reasons] for name, v in shares.items() if v]
    return reasons, rows


def samples_markdown(samples: Sequence[Sample], summaries: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """Markdown lines of the section (empty when there is nothing to show)."""
    reasons, rows = stop_table(summaries)
    if not samples and not rows:
        return []
    lines = ["", "## Samples", ""]
    if rows:
        lines += ["Why generation ended, per model:", "", "| model | " + " | ".join(reasons) + " |",
                  "|---|" + "|".join("---:" for _ in reasons) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    for s in samples:
        lines += ["", f"### `{s.focal_id}`", "", f"Reference (`{s.test_id}`):", "", f"```{s.language}",
                  s.reference.rstrip(), "```"]
        for g in s.generated:
            lines += ["", f"**{g.model}** — {_describe(g)}", "", f"```{s.language}", g.code.rstrip() or "(empty)", "```"]
    return lines


def samples_html(samples: Sequence[Sample], summaries: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """HTML of the section: the breakdown table and one collapsible block per focal method."""
    esc = html.escape
    reasons, rows = stop_table(summaries)
    if not samples and not rows:
        return []
    out = ["<h2>Samples</h2>"]
    if rows:
        out.append("<p>Why generation ended, per model:</p><table><thead><tr><th>model</th>"
                   + "".join(f"<th>{esc(r)}</th>" for r in reasons) + "</tr></thead><tbody>")
        out += ["<tr><th>" + esc(r[0]) + "</th>" + "".join(f'<td class="num">{esc(c)}</td>' for c in r[1:]) + "</tr>"
                for r in rows]
        out.append("</tbody></table>")
    for s in samples:
        out.append(f"<details><summary><code>{esc(s.focal_id)}</code></summary>"
                   f"<p>Reference (<code>{esc(s.test_id)}</code>):</p><pre>{esc(s.reference.rstrip())}</pre>")
        out += [f"<p><b>{esc(g.model)}</b> — {esc(_describe(g))}</p><pre>{esc(g.code.rstrip() or '(empty)')}</pre>"
                for g in s.generated]
        out.append("</details>")
    return out


def _describe(g: Generated) -> str:
    parts = [f"stopped by: {g.stop_reason}" if g.stop_reason else "stop reason not recorded"]
    if g.syntax_ok is not None:
        parts.append("parses" if g.syntax_ok else "does not parse")
    return ", ".join(parts)
