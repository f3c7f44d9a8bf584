"""Terminal output shared by every command: messages, progress bars, tables, JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from tqdm.auto import tqdm

T = TypeVar("T")


class Console:
    """Output policy for one command run.

    ``quiet`` silences progress and chatter (errors still print); ``json_mode`` makes the command's
    final result a single JSON document on stdout and sends human text to stderr.
    """

    def __init__(self, *, quiet: bool = False, json_mode: bool = False) -> None:
        self.quiet = quiet
        self.json_mode = json_mode

    @property
    def _human(self):  # human-readable text goes to stderr when stdout carries JSON
        return sys.stderr if self.json_mode else sys.stdout

    def info(self, message: str) -> None:
        """A line for a person; suppressed by --quiet."""
        if not self.quiet:
            print(message, file=self._human, flush=True)

    def warn(self, message: str) -> None:
        """A warning; printed even with --quiet."""
        print(f"warning: {message}", file=sys.stderr, flush=True)

    def progress(
        self, iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str = "", unit: str = "it"
    ) -> Iterator[T] | tqdm:
        """A progress bar on stderr (disabled by --quiet or when stderr is not a terminal)."""
        from tqdm.auto import tqdm  # here, not at import: `mine -q` never needs it

        return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not self.shows_progress, file=sys.stderr,
                    dynamic_ncols=True)

    @property
    def shows_progress(self) -> bool:
        """Whether :meth:`progress` would draw anything."""
        return not self.quiet and sys.stderr.isatty()

    def table(self, rows: Sequence[Sequence[Any]], headers: Sequence[str], *, title: str | None = None) -> None:
        """Print an aligned text table (skipped in JSON mode and with --quiet)."""
        if self.quiet or self.json_mode:
            return
        print(format_table(rows, headers, title=title), file=self._human, flush=True)

    def result(self, payload: Any) -> None:
        """The command's machine-readable result: printed as JSON only in --json mode."""
        if self.json_mode:
            json.dump(payload, sys.stdout, indent=2, default=str)
            sys.stdout.write("\n")
            sys.stdout.flush()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.3g}"
        return f"{value:.4g}" if abs(value) < 100 else f"{value:,.1f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], *, title: str | None = None) -> str:
    """Render rows as a plain aligned table; numbers right-aligned."""
    text = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [
        all(isinstance(r[i], (int, float)) or r[i] is None for r in rows) if rows else False for i in range(len(headers))
    ]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if numeric[i] else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    lines = [title] if title else []
    lines.append(fmt(list(headers)))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(r) for r in text)
    return "\n".join(lines)
