"""What every language's execution ladder shares: targets, outcomes, and the temp copies it runs in."""

from __future__ import annotations

import io
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from codecustom.errors import DataError
from codecustom.mining.records import MethodRecord, PairRecord

# Folders never copied from a working tree into a sandbox workspace (tool state, not project code).
SKIP_DIRS = frozenset({".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__",
                       ".mypy_cache", ".pytest_cache", ".ruff_cache", ".idea", ".vscode", ".gradle", ".codecustom"})


@dataclass(frozen=True)
class TestTarget:
    """Where a generated test goes and what it should exercise (paths relative to the repo root)."""

    __test__ = False  # not a pytest class

    language: str
    focal_path: str
    focal_name: str
    focal_class: str | None
    focal_start: int  # 1-based lines of the focal definition at the mined revision
    focal_end: int
    test_path: str | None = None  # the existing test file the reference test lives in (None: create one)
    test_class: str | None = None
    test_name: str | None = None  # the reference test, replaced by the generated one

    @classmethod
    def from_records(cls, pair: PairRecord, focal: MethodRecord | None) -> TestTarget:
        """The target of a mined pair; ``focal`` is the pair's focal method record (for its lines)."""
        test_path, test_class, test_name = split_method_id(pair.test_id)
        if focal is None:
            raise DataError(f"pair {pair.test_id} names focal method {pair.focal_id}, which methods.jsonl lacks",
                            hint="re-mine the repository")
        return cls(language=pair.language, focal_path=focal.path, focal_name=focal.name,
                   focal_class=focal.class_name, focal_start=focal.start_line, focal_end=focal.end_line,
                   test_path=test_path or pair.test_path, test_class=test_class, test_name=test_name)


def split_method_id(method_id: str) -> tuple[str, str | None, str]:
    """``"<path>::<Class.Nested>::<name>@<line>"`` -> (path, class or None, name)."""
    parts = method_id.split("::")
    if len(parts) < 3:
        raise DataError(f"malformed method id {method_id!r}", hint="re-mine the repository")
    path, cls, rest = "::".join(parts[:-2]), parts[-2], parts[-1]
    return path, cls or None, rest.split("@", 1)[0]


@dataclass
class LadderOutcome:
    """How far one generated test got: builds -> passes (every run) -> covers the focal method."""

    built: bool = False
    passed: bool = False
    covered: bool | None = None  # None: coverage not measured for this language/setup
    stage: str = "build"  # where it stopped: build | pass | cover | done
    reason: str = ""  # short why, for reports and gen-tests output
    runs_passed: int = 0
    runs: int = 0
    focal_lines: list[int] = field(default_factory=list)  # executable lines of the focal method
    lines_hit: list[int] = field(default_factory=list)  # of those, the ones the test executed
    arcs_hit: list[tuple[int, int]] = field(default_factory=list)  # branch arcs inside the focal method
    seconds: float = 0.0
    test_file: str | None = None  # where the test was placed (relative path)
    test_source: str | None = None  # the placed test file's full text
    nodeid: str | None = None

    @property
    def flaky(self) -> bool:
        return 0 < self.runs_passed < self.runs

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("test_source", None)
        data["flaky"] = self.flaky
        return data


class Ladder(Protocol):
    """One language's way to build, run and measure a generated test in a temp copy of the repo."""

    language: str

    def availability(self, workspace: Workspace) -> tuple[str, str]:
        """(level, why): level ``run`` (build+pass+cover as supported), ``build`` (build rate only) or ``none``."""

    def evaluate(self, workspace: Workspace, target: TestTarget, code: str) -> LadderOutcome:
        """Place ``code`` for ``target`` in a fresh copy and climb the ladder."""


class Workspace:
    """A pristine copy of the repo in a private temp folder, and fresh per-run copies of it.

    The user's repository is only read (``git archive`` of a revision, or a copy of the working tree);
    every run gets its own copy, so what one generated test does to its files cannot affect the next.
    """

    def __init__(self, pristine: Path, root: tempfile.TemporaryDirectory) -> None:
        self.pristine = pristine
        self._root = root
        self._runs = 0
        self.cache: dict[str, object] = {}  # per-language setup results (baseline builds, classpaths)

    @property
    def root(self) -> Path:
        return Path(self._root.name)

    @classmethod
    def from_git(cls, repo: str | Path, revision: str) -> Workspace:
        """Export ``revision`` of the git repository at ``repo`` (never touching its work tree)."""
        import git

        try:
            handle = git.Repo(str(repo))
            buf = io.BytesIO()
            handle.archive(buf, treeish=revision, format="tar")
        except (git.exc.GitError, ValueError) as exc:
            raise DataError(f"cannot export revision {revision[:12]} of {repo}: {str(exc).strip().splitlines()[-1]}",
                            hint="pass --repo with the clone the dataset was mined from") from exc
        root = tempfile.TemporaryDirectory(prefix="codecustom-eval-")
        pristine = Path(root.name) / "pristine"
        pristine.mkdir()
        buf.seek(0)
        with tarfile.open(fileobj=buf) as tar:
            tar.extractall(pristine, filter="data")
        return cls(pristine, root)

    @classmethod
    def from_tree(cls, path: str | Path) -> Workspace:
        """Copy a working tree (uncommitted edits included; VCS and tool folders left out)."""
        root = tempfile.TemporaryDirectory(prefix="codecustom-eval-")
        pristine = Path(root.name) / "pristine"
        shutil.copytree(path, pristine, symlinks=True, ignore=lambda d, names: [n for n in names if n in SKIP_DIRS])
        return cls(pristine, root)

    def fresh_copy(self) -> Path:
        """A new writable copy of the pristine tree for one run."""
        self._runs += 1
        dest = self.root / "runs" / f"run{self._runs:05d}"
        shutil.copytree(self.pristine, dest, symlinks=True)
        return dest

    def discard(self, run_dir: Path) -> None:
        shutil.rmtree(run_dir, ignore_errors=True)

    def close(self) -> None:
        self._root.cleanup()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
