"""Post-filters applied to a raw continuation before it is shown to the user.

Each filter is a small function ``(text, ctx, suffix) -> text``; :data:`FILTERS` lists them in the
order they run. They never invent code: they only cut, re-indent or trim.
"""

from __future__ import annotations

from collections.abc import Callable

from codecustom.inference.gating import CursorContext
from codecustom.inference.stopping import BraceBlockEnd, FirstNewline, IndentBlockEnd, StopRule, any_of

PostFilter = Callable[[str, CursorContext, str], str]


def block_stop_rule(ctx: CursorContext, multiline: bool) -> StopRule | None:
    """The on-the-fly stop rule for a completion at ``ctx``: first newline, or the end of the block."""
    if not multiline:
        return FirstNewline()
    spec = ctx.language
    rules: list[StopRule | None] = []
    if spec.blocks == "indent" and ctx.block_indent >= 0:
        rules.append(IndentBlockEnd(ctx.block_indent))
    elif spec.blocks == "brace":
        rules.append(BraceBlockEnd(spec.line_comment or "//"))
    return any_of(rules)


def single_line(text: str, ctx: CursorContext, suffix: str) -> str:
    """Single-line mode keeps only the cursor's line."""
    if ctx.multiline:
        return text
    return text.split("\n", 1)[0]


def end_of_block(text: str, ctx: CursorContext, suffix: str) -> str:
    """Cut where the current block ends (in case the backend could not apply the rule while decoding)."""
    rule = block_stop_rule(ctx, ctx.multiline)
    cut = rule(text) if rule is not None else None
    return text if cut is None else text[:cut]


def drop_suffix_repeats(text: str, ctx: CursorContext, suffix: str) -> str:
    """Drop what the model regenerated of the code that already follows the cursor.

    Multi-line: cut at the first line that starts a run of lines equal to the suffix's next code
    lines (one line suffices when it is distinctive, two when it is only punctuation like ``}``).
    Single-line: drop a tail that repeats the closing characters already after the cursor.
    """
    if not ctx.multiline:
        closing = ctx.line_suffix.strip()
        if closing and text.rstrip().endswith(closing):
            return text.rstrip()[: -len(closing)]
        return text
    following = [ln.strip() for ln in suffix.split("\n")[1:] if ln.strip()]
    if not following:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if i == 0 and ctx.line_prefix.strip():
            continue  # the cursor line's own continuation is never a repeat of the next lines
        if not line.strip() or line.strip() != following[0]:
            continue
        need = 1 if len(following[0]) > 3 and any(ch.isalnum() for ch in following[0]) else 2
        ahead = [ln.strip() for ln in lines[i:] if ln.strip()]
        if len(ahead) >= need and ahead[:need] == following[:need] or len(ahead) < need and ahead == following[:len(ahead)]:
            return "\n".join(lines[:i])
    return text


def match_indentation(text: str, ctx: CursorContext, suffix: str) -> str:
    """Re-indent lines written with tabs in a spaces file (or the other way round)."""
    unit = ctx.indent_unit
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        body = line.lstrip(" \t")
        ws = line[: len(line) - len(body)]
        if unit == "\t" and " " in ws:
            ws = "\t" * (len(ws.replace("\t", "    ")) // 4)
        elif unit != "\t" and "\t" in ws:
            ws = ws.replace("\t", unit)
        out.append(ws + body)
    return "\n".join(out)


def trim_whitespace(text: str, ctx: CursorContext, suffix: str) -> str:
    """Trailing whitespace off every line and blank lines off the end."""
    lines = [ln.rstrip() for ln in text.split("\n")]
    while len(lines) > 1 and not lines[-1]:
        lines.pop()
    out = "\n".join(lines)
    if not ctx.multiline or "\n" not in out:
        return out.rstrip()
    return out


FILTERS: tuple[PostFilter, ...] = (single_line, end_of_block, drop_suffix_repeats, match_indentation, trim_whitespace)


def postprocess(text: str, ctx: CursorContext, suffix: str, filters: tuple[PostFilter, ...] = FILTERS) -> str:
    """Run every post-filter in order."""
    for f in filters:
        text = f(text, ctx, suffix)
    return text
