"""Line-completion evaluation on held-out files at seeded random cursor positions.

For each sampled position the model gets the file's prefix up to the cursor and the suffix from the end
of that line, and must produce the rest of the line. Only files that parse cleanly are sampled, so a
completion is syntax-valid when the file with the completion in place still parses cleanly.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from codecustom.evaluation.languages import LANGUAGES
from codecustom.evaluation.metrics import edit_similarity
from codecustom.evaluation.syntax import parses_cleanly
from codecustom.mining.records import FileRecord, read_jsonl

MIN_TARGET_CHARS = 2


@dataclass
class CompletionCase:
    path: str
    language: str
    line: int  # 1-based
    column: int  # 0-based cursor column
    prefix: str
    suffix: str
    target: str  # the rest of the line after the cursor
    prediction: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("prefix")
        data.pop("suffix")
        return data


def _candidate_lines(content: str, language: str) -> list[int]:
    comment = "#" if language == "python" else "//"
    out = []
    for i, line in enumerate(content.split("\n")):
        stripped = line.strip()
        if len(stripped) >= MIN_TARGET_CHARS + 1 and not stripped.startswith((comment, "/*", "*", '"""', "'''")):
            out.append(i)
    return out


def sample_cases(files: Sequence[FileRecord], n: int, *, seed: int = 0, per_file: int = 20) -> list[CompletionCase]:
    """``n`` cursor positions spread over ``files`` (at most ``per_file`` each), reproducible with ``seed``."""
    rng = random.Random(seed)
    usable = [f for f in files if f.language.lower() in LANGUAGES and parses_cleanly(f.content, f.language.lower())]
    rng.shuffle(usable)
    cases: list[CompletionCase] = []
    for f in usable:
        lang = f.language.lower()
        lines = f.content.split("\n")
        picks = _candidate_lines(f.content, lang)
        rng.shuffle(picks)
        for idx in picks[:per_file]:
            line = lines[idx]
            indent = len(line) - len(line.lstrip())
            end = len(line.rstrip())
            if end - indent < MIN_TARGET_CHARS + 1:
                continue
            col = rng.randint(indent, end - MIN_TARGET_CHARS)
            offset = sum(len(x) + 1 for x in lines[:idx]) + col
            line_end = sum(len(x) + 1 for x in lines[:idx]) + len(line)
            cases.append(CompletionCase(path=f.path, language=lang, line=idx + 1, column=col,
                                        prefix=f.content[:offset], suffix=f.content[line_end:],
                                        target=line[col:].rstrip()))
        if len(cases) >= n:
            break
    return cases[:n]


def load_files(dataset: Path, split: str = "test") -> list[FileRecord]:
    """Completion corpus files of ``split``."""
    return [f for f in read_jsonl(dataset / "files.jsonl", FileRecord) if f.split == split]


def run_completions(engine: Any, cases: Sequence[CompletionCase],
                    progress: Callable[[int], None] | None = None) -> None:
    """Fill ``case.prediction`` for every case (single-line mode, no gating: every cursor is asked)."""
    for case in cases:
        completion = engine.complete(case.prefix, case.suffix, language=case.language, multiline=False)
        case.prediction = completion.text.split("\n")[0].rstrip()
        if progress:
            progress(1)


def completion_metrics(cases: Sequence[CompletionCase]) -> dict[str, Any]:
    """Exact match, edit similarity and syntax-valid rate of the predictions."""
    done = [c for c in cases if c.prediction is not None]
    if not done:
        return {"n": 0}
    exact = sum(c.prediction.strip() == c.target.strip() for c in done) / len(done)
    sim = sum(edit_similarity(c.prediction.strip(), c.target.strip()) for c in done) / len(done)
    valid = sum(parses_cleanly(c.prefix + c.prediction + c.suffix, c.language) for c in done) / len(done)
    by_lang: dict[str, int] = {}
    for c in done:
        by_lang[c.language] = by_lang.get(c.language, 0) + 1
    return {"n": len(done), "exact_match": exact, "edit_similarity": sim, "syntax_valid": valid,
            "languages": by_lang}


__all__ = ["CompletionCase", "completion_metrics", "load_files", "run_completions", "sample_cases"]
