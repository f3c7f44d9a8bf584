"""Generate unit tests for one function and keep only the useful ones (Cover-Agent / TestGen-LLM style).

k candidates are generated from the function's focal context (the miner's, as in training). Each runs
through the language's execution ladder in a sandboxed temp copy of the working tree, on top of the
candidates already kept; a candidate is kept only if it builds, passes every run and executes focal
lines or branches that the existing suite and the kept candidates do not (for languages without
coverage, building and passing is the bar, and the result says so). The kept tests are then added to
the right test file of the user's repository: inserted, never replacing a line (checked), atomically,
and only when the file did not change meanwhile. ``dry_run`` stops at the diff.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom.errors import DataError, UsageError
from codecustom.evaluation.execution import LadderOutcome, TestTarget, Workspace


@dataclass
class Focal:
    """The function to test and its focal contexts (methods2test levels)."""

    language: str
    path: str  # relative to the repo root (posix)
    name: str
    class_name: str | None
    start_line: int
    end_line: int
    contexts: dict[str, str]

    @property
    def title(self) -> str:
        return f"{self.class_name}.{self.name}" if self.class_name else self.name

    def target(self, test_path: str | None = None) -> TestTarget:
        return TestTarget(language=self.language, focal_path=self.path, focal_name=self.name,
                          focal_class=self.class_name, focal_start=self.start_line, focal_end=self.end_line,
                          test_path=test_path)


def parse_spec(spec: str) -> tuple[str, str]:
    """``FILE::FUNC`` (FUNC may be ``Class.method``) -> (file, func)."""
    file, sep, func = spec.rpartition("::")
    if not sep or not file or not func:
        raise UsageError(f"expected FILE::FUNC, got {spec!r}", hint="e.g. src/pkg/mod.py::parse or Foo.java::Foo.bar")
    return file, func


def repo_root(path: Path) -> Path:
    """The git work tree holding ``path`` (or the folder itself when it is not in one)."""
    import git

    folder = path if path.is_dir() else path.parent
    try:
        return Path(git.Repo(folder, search_parent_directories=True).working_tree_dir).resolve()
    except (git.exc.InvalidGitRepositoryError, git.exc.NoSuchPathError):
        return folder.resolve()


def find_focal(root: Path, rel_path: str, func: str) -> Focal:
    """Locate ``func`` (``name`` or ``Class.name``) in ``rel_path`` with the miner's extractor."""
    from codecustom.mining.index import CodeIndex
    from codecustom.mining.registry import language_for_path

    spec = language_for_path(rel_path)
    if spec is None or spec.context is None:
        raise UsageError(f"cannot generate tests for {rel_path}: its language has no test generation",
                         hint="supported: Python and Java files")
    src = (root / rel_path).read_bytes()
    facts = spec.make_extractor().extract(rel_path, src, is_test_file=spec.is_test_path(rel_path))
    cls, _, name = func.rpartition(".")
    matches = [m for m in facts.methods if m.name == name and not m.is_test
               and (not cls or (m.class_name or "") == cls or (m.class_name or "").endswith("." + cls))]
    if not matches:
        known = sorted({(f"{m.class_name}." if m.class_name else "") + m.name for m in facts.methods if not m.is_test})
        hint = f"functions in {rel_path}: {', '.join(known[:12])}" + (" ..." if len(known) > 12 else "") \
            if known else f"{rel_path} defines no function"
        raise UsageError(f"no function '{func}' in {rel_path}", hint=hint)
    if len(matches) > 1 and not cls and len({m.class_name for m in matches}) > 1:
        options = ", ".join(f"{m.class_name}.{m.name}" if m.class_name else m.name for m in matches)
        raise UsageError(f"'{func}' is ambiguous in {rel_path}", hint=f"name one of: {options}")
    focal = matches[0]
    index = CodeIndex()
    n = len(facts.methods)
    index.add(facts, list(range(n)), [0] * n,
              [f"{rel_path}::{m.class_name or ''}::{m.name}@{m.start_line}" for m in facts.methods])
    ref = index.methods_by_ordinal[facts.methods.index(focal)]
    contexts = spec.context().build(ref, focal.body, index)
    return Focal(spec.name, rel_path, focal.name, focal.class_name, focal.start_line, focal.end_line, contexts)


@dataclass
class Candidate:
    code: str
    outcome: LadderOutcome | None = None
    new_lines: list[int] = field(default_factory=list)
    new_arcs: list[tuple[int, int]] = field(default_factory=list)
    kept: bool = False
    verdict: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "kept": self.kept, "verdict": self.verdict, "new_lines": self.new_lines,
                "outcome": self.outcome.as_dict() if self.outcome else None}


@dataclass
class Selection:
    """What the ladder kept and where it goes."""

    focal: Focal
    candidates: list[Candidate]
    test_file: str | None = None
    old_text: str | None = None  # None: the test file does not exist yet
    new_text: str | None = None
    focal_lines: list[int] = field(default_factory=list)
    baseline_lines: list[int] = field(default_factory=list)
    final_lines: list[int] = field(default_factory=list)
    coverage_measured: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def kept(self) -> list[Candidate]:
        return [c for c in self.candidates if c.kept]

    def counts(self) -> dict[str, int]:
        out = {"generated": len(self.candidates), "built": 0, "passed": 0, "flaky": 0, "added coverage": 0, "kept": 0}
        for c in self.candidates:
            o = c.outcome
            if o is None:
                continue
            out["built"] += o.built
            out["passed"] += o.passed
            out["flaky"] += o.flaky
            out["added coverage"] += bool(c.new_lines or c.new_arcs)
            out["kept"] += c.kept
        return out


def select_tests(workspace: Workspace, focal: Focal, candidates: list[str], ladder: Any, *,
                 suite: str | None = None, baseline_timeout: float = 600.0) -> Selection:
    """Run every candidate through ``ladder`` on top of the ones kept so far; keep the useful ones."""
    selection = Selection(focal, [])
    seen: set[str] = set()
    covered_lines: set[int] = set()
    covered_arcs: set[tuple[int, int]] = set()
    measure = hasattr(ladder, "baseline_coverage")
    if measure:
        covered_lines, covered_arcs, note = ladder.baseline_coverage(workspace, focal.target(), tests=suite,
                                                                    timeout=baseline_timeout)
        selection.baseline_lines = sorted(covered_lines)
        if note:
            selection.notes.append(note)
    else:
        selection.coverage_measured = False
        selection.notes.append(f"coverage is not measured for {focal.language}: kept tests build and pass")
    test_file: str | None = None
    for code in candidates:
        cand = Candidate(code)
        selection.candidates.append(cand)
        key = "\n".join(line.strip() for line in code.strip().splitlines())
        if not key:
            cand.verdict = "empty"
            continue
        if key in seen:
            cand.verdict = "duplicate of an earlier candidate"
            continue
        seen.add(key)
        outcome = ladder.evaluate(workspace, focal.target(test_file), code)
        cand.outcome = outcome
        if not outcome.passed or not outcome.test_file or outcome.test_source is None:
            cand.verdict = outcome.reason or outcome.stage
            continue
        if selection.focal_lines == [] and outcome.focal_lines:
            selection.focal_lines = outcome.focal_lines
        if measure:
            cand.new_lines = sorted(set(outcome.lines_hit) - covered_lines)
            cand.new_arcs = sorted(set(outcome.arcs_hit) - covered_arcs)
            if not cand.new_lines and not cand.new_arcs:
                cand.verdict = "passes but adds no coverage of the focal function"
                continue
            covered_lines |= set(outcome.lines_hit)
            covered_arcs |= set(outcome.arcs_hit)
        cand.kept = True
        cand.verdict = "kept" + (f": +{len(cand.new_lines)} lines, +{len(cand.new_arcs)} branches" if measure else "")
        if test_file is None:
            test_file = outcome.test_file
            original = workspace.pristine / test_file
            selection.old_text = original.read_text(encoding="utf-8") if original.is_file() else None
        dest = workspace.pristine / outcome.test_file
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(outcome.test_source, encoding="utf-8")  # the next candidate is placed after this one
    selection.final_lines = sorted(covered_lines)
    if test_file is not None:
        selection.test_file = test_file
        selection.new_text = (workspace.pristine / test_file).read_text(encoding="utf-8")
    return selection


def only_inserts(old: str, new: str) -> bool:
    """True when ``new`` is ``old`` with lines inserted (none removed or changed)."""
    matcher = difflib.SequenceMatcher(None, old.splitlines(), new.splitlines(), autojunk=False)
    return all(tag in ("equal", "insert") for tag, *_ in matcher.get_opcodes())


def unified_diff(selection: Selection) -> str:
    if selection.test_file is None or selection.new_text is None:
        return ""
    old = selection.old_text or ""
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), selection.new_text.splitlines(keepends=True),
                                        fromfile=f"a/{selection.test_file}" if selection.old_text is not None
                                        else "/dev/null", tofile=f"b/{selection.test_file}"))


def write_tests(root: Path, selection: Selection) -> Path | None:
    """Write the kept tests into the repository (the only place codecustom writes into a user's repo)."""
    if selection.test_file is None or selection.new_text is None:
        return None
    dest = (root / selection.test_file).resolve()
    if root.resolve() not in dest.parents:
        raise DataError(f"refusing to write outside the repository: {dest}")
    current = dest.read_text(encoding="utf-8") if dest.is_file() else None
    if current != selection.old_text:
        raise DataError(f"{selection.test_file} changed while tests were being generated; nothing was written",
                        hint="rerun codecustom gen-tests")
    if current is not None and not only_inserts(current, selection.new_text):
        raise DataError(f"the new tests would change existing lines of {selection.test_file}; nothing was written",
                        hint="rerun with --dry-run to see the diff")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".codecustom", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(selection.new_text)
        if current is not None:
            os.chmod(tmp, dest.stat().st_mode & 0o7777)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return dest


__all__ = ["Candidate", "Focal", "Selection", "find_focal", "only_inserts", "parse_spec", "repo_root", "select_tests",
           "unified_diff", "write_tests"]
