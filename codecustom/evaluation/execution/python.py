"""The Python ladder: place a generated test in the repo's test context and run it with pytest.

Placement: when the reference test's module exists, the generated test replaces the reference test in
that module (same class, same indentation), so it sees the module's imports, fixtures and helpers;
otherwise it goes into ``tests/test_<module>.py`` (appended, or created with the focal import). Imports
the model wrote are hoisted to module level, and the focal function/class is imported when the module
does not bind it already.

Ladder: the test is run ``runs`` times by node id, the first time under coverage.py with branch
measurement. Builds: the first run collected it without collection errors (a small pytest plugin
records this as soon as collection ends, so a test that later hangs still counts as built). Passes: every
run passes (a skip, an error or one failing run is a fail, so flaky counts as fail). Covers: at least
one statement of the focal method's body executed.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from codecustom.evaluation.execution.base import LadderOutcome, TestTarget, Workspace
from codecustom.evaluation.sandbox import Sandbox, SandboxLimits, interpreter_paths

PYTEST_OPTS = ["-p", "no:cacheprovider", "-o", "addopts=", "-q", "--no-header", "-rN", "-W", "ignore::DeprecationWarning"]
_COV_FILE = ".codecustom-coverage"
_JUNIT_FILE = ".codecustom-junit.xml"
_PROBE_DIR = ".codecustom-probe"
_COLLECT_FILE = ".codecustom-collected.json"
# A pytest plugin that records what was collected as soon as collection ends, so a test that hangs or
# is killed later still counts as built.
_PROBE_PLUGIN = """\
import json, os


def pytest_collection_finish(session):
    path = os.environ.get("CODECUSTOM_COLLECT_REPORT")
    if path:
        with open(path, "w") as fh:
            json.dump({"collected": len(session.items), "errors": session.testsfailed}, fh)
"""


class PlacementError(ValueError):
    """The generated code cannot be made into a runnable test (it does not build)."""


@dataclass
class Placement:
    test_file: str  # relative to the repo root
    source: str  # the full text of that file with the generated test in it
    nodeid: str
    test_name: str


@dataclass
class _Generated:
    imports: list[str]
    body: str  # dedented, imports removed
    kind: str  # "function" | "class"
    name: str  # test function name (method name for classes)
    class_name: str | None
    takes_self: bool
    unittest_style: bool


def parse_generated(code: str) -> _Generated:
    """Split a generated test into hoistable imports and the test itself."""
    text = textwrap.dedent(code).strip("\n") + "\n"
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise PlacementError(f"not valid Python: {exc.msg} (line {exc.lineno})") from None
    lines = text.splitlines()
    imports, keep = [], []
    for node in tree.body:
        segment = "\n".join(lines[_first_line(node) - 1: node.end_lineno])
        (imports if isinstance(node, (ast.Import, ast.ImportFrom)) else keep).append((node, segment))
    funcs = [n for n, _ in keep if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    classes = [n for n, _ in keep if isinstance(n, ast.ClassDef)]
    body = "\n\n".join(seg for _, seg in keep) + "\n"
    unittest_style = bool(re.search(r"\bself\.(assert\w*|fail\w*|subTest)\b", body))
    test_funcs = [f for f in funcs if f.name.startswith("test")]
    if test_funcs:
        f = test_funcs[0]
        takes_self = bool(f.args.args) and f.args.args[0].arg == "self"
        return _Generated([s for _, s in imports], body, "function", f.name, None, takes_self, unittest_style)
    for cls in classes:
        methods = [m for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and m.name.startswith("test")]
        if methods:
            return _Generated([s for _, s in imports], body, "class", methods[0].name, cls.name, True, unittest_style)
    raise PlacementError("no test function (def test_...) in the generated code")


def _first_line(node: ast.AST) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([d.lineno for d in decorators] + [node.lineno])


def module_name(path: str) -> str:
    """Dotted import name of a repo file, for the usual layouts (root or ``src/``)."""
    parts = Path(path).with_suffix("").parts
    if parts and parts[0] in {"src", "lib"} and len(parts) > 1:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _find_def(tree: ast.Module, class_path: str | None, name: str) -> tuple[ast.AST | None, list[ast.stmt]]:
    """The function ``name`` inside nested classes ``class_path`` (dotted); returns (node, its scope body)."""
    scope: list[ast.stmt] = tree.body
    for cls in (class_path.split(".") if class_path else []):
        found = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == cls), None)
        if found is None:
            return None, scope
        scope = found.body
    node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name), None)
    return node, scope


def _bound_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                names.add("*" if alias.name == "*" else (alias.asname or alias.name.split(".")[0]))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _add_imports(source: str, imports: list[str]) -> str:
    """Insert import lines after the module's last top-level import (or its docstring / __future__)."""
    tree = ast.parse(source)
    existing = {ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    todo = [i for i in dict.fromkeys(imports) if ast.unparse(ast.parse(i).body[0]) not in existing]
    if not todo:
        return source
    after = 0
    for i, node in enumerate(tree.body):
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                i == 0 and isinstance(node, ast.Expr) and isinstance(getattr(node, "value", None), ast.Constant)):
            after = node.end_lineno or after
    lines = source.splitlines(keepends=True)
    block = "".join(line + "\n" for line in todo)
    return "".join(lines[:after]) + block + "".join(lines[after:])


def _test_class_for(tree: ast.Module, focal_name: str) -> ast.ClassDef | None:
    """The module-level test class that tests ``focal_name`` (TestFoo / FooTest / FooTests), or the only one."""
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and "test" in n.name.lower()]
    wanted = {f"test{focal_name}".lower(), f"{focal_name}test".lower(), f"{focal_name}tests".lower()}
    named = [c for c in classes if c.name.lower() in wanted]
    if named:
        return named[0]
    return classes[0] if len(classes) == 1 else None


def _class_path(tree: ast.Module, cls: ast.ClassDef) -> str:
    return cls.name  # module-level classes only (see _test_class_for)


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name}_generated{i}" in taken:
        i += 1
    return f"{name}_generated{i}"


def _rename_def(body: str, old: str, new: str) -> str:
    return re.sub(rf"(\bdef\s+){re.escape(old)}(\s*\()", rf"\g<1>{new}\g<2>", body, count=1)


def default_test_file(root: Path, focal_path: str) -> str:
    """``tests/test_<module>.py`` (or ``test/``), matching an existing file when there is one."""
    stem = Path(focal_path).stem
    if stem == "__init__":
        stem = Path(focal_path).parent.name
    for folder in ("tests", "test"):
        if (root / folder).is_dir():
            matches = sorted((root / folder).rglob(f"test_{stem}.py"))
            if matches:
                return matches[0].relative_to(root).as_posix()
            return f"{folder}/test_{stem}.py"
    return f"tests/test_{stem}.py"


def place(root: Path, target: TestTarget, code: str) -> Placement:
    """Put the generated test into the repo tree at ``root`` (text only; nothing is written)."""
    gen = parse_generated(code)
    focal_name = target.focal_class.split(".")[0] if target.focal_class else target.focal_name
    focal_import = f"from {module_name(target.focal_path)} import {focal_name}"
    test_file = target.test_path if target.test_path and (root / target.test_path).is_file() else None
    source = (root / test_file).read_text(encoding="utf-8") if test_file else None
    tree = ast.parse(source) if source else None
    ref, scope = (_find_def(tree, target.test_class, target.test_name)
                  if tree is not None and target.test_name else (None, []))

    if ref is not None and gen.kind == "function":
        lines = source.splitlines(keepends=True)
        start, end = _first_line(ref) - 1, ref.end_lineno
        taken = {n.name for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                 and n is not ref}
        name = _unique(gen.name, taken)
        body = _rename_def(gen.body, gen.name, name) if name != gen.name else gen.body
        indented = textwrap.indent(body.rstrip("\n") + "\n", " " * ref.col_offset)
        new_source = "".join(lines[:start]) + indented + "".join(lines[end:])
        class_path = target.test_class
    else:
        test_file = test_file or default_test_file(root, target.focal_path)
        existing = (root / test_file).read_text(encoding="utf-8") if (root / test_file).is_file() else ""
        ex_tree = ast.parse(existing) if existing.strip() else ast.Module(body=[], type_ignores=[])
        taken = {n.name for n in ex_tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        body, imports_needed = gen.body, []
        if gen.kind == "class":
            class_name = _unique(gen.class_name or "TestGenerated", taken)
            body = re.sub(rf"(\bclass\s+){re.escape(gen.class_name or '')}\b", rf"\g<1>{class_name}", body, count=1)
            name, class_path = gen.name, class_name
        elif gen.takes_self and (home := _test_class_for(ex_tree, focal_name)) is not None:
            # a method: append it to the module's test class for the focal class (as a person would)
            taken_in = {n.name for n in home.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
            name = _unique(gen.name, taken_in)
            body = _rename_def(body, gen.name, name) if name != gen.name else body
            indent = " " * (home.body[0].col_offset if home.body else home.col_offset + 4)
            lines = existing.splitlines(keepends=True)
            end = home.end_lineno
            if lines and end <= len(lines) and not lines[end - 1].endswith("\n"):
                lines[end - 1] += "\n"
            block = "\n" + textwrap.indent(body.rstrip("\n") + "\n", indent)
            new_source = "".join(lines[:end]) + block + "".join(lines[end:])
            class_path = _class_path(ex_tree, home)
            gen.imports.extend(imports_needed)
            bound = _bound_names(ast.parse(new_source))
            imports = list(gen.imports)
            if focal_name not in bound and "*" not in bound:
                imports.append(focal_import)
            new_source = _add_imports(new_source, imports)
            nodeid = "::".join([test_file] + class_path.split(".") + [name])
            return Placement(test_file, new_source, nodeid, name)
        elif gen.takes_self:  # a method without its class: give it one
            camel = "".join(part[:1].upper() + part[1:] for part in focal_name.split("_"))
            class_name = _unique(f"TestGenerated{camel}", taken)
            base = "(unittest.TestCase)" if gen.unittest_style else ""
            if gen.unittest_style:
                imports_needed.append("import unittest")
            body = f"class {class_name}{base}:\n" + textwrap.indent(body, "    ")
            name, class_path = gen.name, class_name
        else:
            name = _unique(gen.name, taken)
            body = _rename_def(body, gen.name, name) if name != gen.name else body
            class_path = None
        sep = "" if not existing else ("\n\n" if existing.endswith("\n") else "\n\n\n")
        new_source = existing + sep + body.rstrip("\n") + "\n"
        gen.imports.extend(imports_needed)

    bound = _bound_names(ast.parse(new_source))
    imports = list(gen.imports)
    if focal_name not in bound and "*" not in bound:
        imports.append(focal_import)
    new_source = _add_imports(new_source, imports)
    try:
        ast.parse(new_source)
    except SyntaxError as exc:
        raise PlacementError(f"the test module does not parse with the generated test in it: {exc.msg}") from None
    nodeid = "::".join([test_file] + (class_path.split(".") if class_path else []) + [name])
    return Placement(test_file, new_source, nodeid, name)


def focal_body_lines(source: str, target: TestTarget) -> list[int]:
    """Statement lines of the focal function's body (docstring excluded), found near its mined position."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    candidates = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and n.name == target.focal_name]
    if not candidates:
        return []
    func = min(candidates, key=lambda n: abs(_first_line(n) - target.focal_start))
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str) and len(body) > 1:
        body = body[1:]
    lines = {n.lineno for stmt in body for n in ast.walk(stmt) if isinstance(n, ast.stmt)}
    return sorted(lines)


def _junit_outcome(path: Path) -> tuple[int, bool, str]:
    """(test cases seen, all of them passed, first failure message) from pytest's JUnit XML."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return 0, False, "no test report"
    cases = list(root.iter("testcase"))
    for case in cases:
        for tag in ("failure", "error", "skipped"):
            bad = case.find(tag)
            if bad is not None:
                message = (bad.get("message") or bad.text or tag).strip().splitlines()
                return len(cases), False, f"{tag}: {message[0][:200] if message else tag}"
    return len(cases), bool(cases), ""


def _collected(path: Path) -> tuple[int | None, int]:
    """(tests collected or None when collection never finished, collection errors) from the probe plugin."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data.get("collected", 0)), int(data.get("errors", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return None, 0


def _collect_error(stdout: str) -> str:
    """The most telling line of a pytest collection failure (the E-line of the error, else the summary)."""
    errors = [ln[1:].strip() for ln in stdout.splitlines() if ln.startswith("E ")]
    return (errors[-1] if errors else _last_line(stdout))[:240]


def _last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:240] if lines else ""


class PythonLadder:
    """pytest + coverage.py in the sandbox, with the interpreter ``python`` (default: this one)."""

    language = "python"

    def __init__(self, sandbox: Sandbox | None = None, *, python: str | None = None, runs: int = 3,
                 timeout: float = 60.0, plugins: bool = True) -> None:
        self.sandbox = sandbox or Sandbox()
        self.python = python or sys.executable
        self.runs = runs
        self.plugins = plugins  # False: PYTEST_DISABLE_PLUGIN_AUTOLOAD (faster; for suites needing no plugins)
        self.limits = SandboxLimits(wall_seconds=timeout, cpu_seconds=int(timeout * 2) + 10)

    def availability(self, workspace: Workspace | None = None) -> tuple[str, str]:
        try:
            done = subprocess.run([self.python, "-c", "import pytest, coverage"], capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return "none", f"cannot run {self.python}: {exc}"
        if done.returncode != 0:
            return "none", f"{self.python} lacks pytest or coverage (pip install pytest coverage)"
        return "run", f"pytest + coverage.py with {self.python}"

    def _env(self, run_dir: Path) -> dict[str, str]:
        probe = run_dir / _PROBE_DIR
        probe.mkdir(exist_ok=True)
        (probe / "codecustom_pytest_probe.py").write_text(_PROBE_PLUGIN, encoding="utf-8")
        paths = [str(run_dir)] + [str(run_dir / d) for d in ("src", "lib") if (run_dir / d).is_dir()] + [str(probe)]
        env = {"PYTHONPATH": ":".join(paths), "CODECUSTOM_COLLECT_REPORT": str(run_dir / _COLLECT_FILE)}
        if not self.plugins:
            env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        return env

    def _pytest(self, run_dir: Path, args: list[str], *, coverage_of: Path | None = None,
                timeout: float | None = None):
        prefix = [self.python, "-m"]
        if coverage_of is not None:
            prefix += ["coverage", "run", "--branch", f"--data-file={run_dir / _COV_FILE}",
                       f"--include={coverage_of}", "-m"]
        limits = self.limits if timeout is None else SandboxLimits(wall_seconds=timeout,
                                                                   cpu_seconds=int(timeout * 2) + 10)
        return self.sandbox.run(prefix + ["pytest", "-p", "codecustom_pytest_probe", *PYTEST_OPTS, *args],
                                cwd=run_dir, writable=[run_dir], readable=interpreter_paths(self.python),
                                env=self._env(run_dir), limits=limits)

    def evaluate(self, workspace: Workspace, target: TestTarget, code: str) -> LadderOutcome:
        started = time.monotonic()
        outcome = LadderOutcome(runs=self.runs)
        try:
            placement = place(workspace.pristine, target, code)
        except PlacementError as exc:
            outcome.reason = str(exc)
            return outcome
        outcome.test_file, outcome.test_source, outcome.nodeid = placement.test_file, placement.source, placement.nodeid
        focal_src = workspace.pristine / target.focal_path
        outcome.focal_lines = focal_body_lines(focal_src.read_text(encoding="utf-8"), target) \
            if focal_src.is_file() else []
        run_dir = workspace.fresh_copy()
        try:
            test_path = run_dir / placement.test_file
            test_path.parent.mkdir(parents=True, exist_ok=True)
            test_path.write_text(placement.source, encoding="utf-8")
            self._climb(run_dir, placement, target, outcome)
        finally:
            workspace.discard(run_dir)
            outcome.seconds = time.monotonic() - started
        return outcome

    def _climb(self, run_dir: Path, placement: Placement, target: TestTarget, outcome: LadderOutcome) -> None:
        focal_file = (run_dir / target.focal_path).resolve()
        junit = run_dir / _JUNIT_FILE
        for i in range(self.runs):
            junit.unlink(missing_ok=True)
            result = self._pytest(run_dir, [f"--junitxml={junit}", placement.nodeid],
                                  coverage_of=focal_file if i == 0 else None)
            cases, ok, why = _junit_outcome(junit)
            if i == 0:
                collected, errors = _collected(run_dir / _COLLECT_FILE)
                if not collected or errors:
                    if result.killed and collected is None:
                        outcome.reason = f"did not finish collecting ({result.killed})"
                    else:
                        outcome.reason = "does not collect: " + (_collect_error(result.stdout)
                                                                 or _last_line(result.stderr) or "no test collected")
                    return
                outcome.built, outcome.stage = True, "pass"
                self._read_coverage(run_dir / _COV_FILE, focal_file, outcome)
            if result.killed:
                ok, why = False, f"{result.killed} after {result.wall_seconds:.0f}s"
            elif result.returncode != 0 and ok:
                ok, why = False, f"pytest exit code {result.returncode}: {_last_line(result.stdout)}"
            if ok:
                outcome.runs_passed += 1
            elif not outcome.reason:
                outcome.reason = f"run {i + 1}: {why}" if i else why
            if not ok and outcome.runs_passed == 0:
                break  # failed the first run: no need to rerun
        outcome.passed = outcome.runs_passed == self.runs
        if outcome.flaky:
            outcome.reason = f"flaky: passed {outcome.runs_passed} of {self.runs} runs; " + outcome.reason
        if not outcome.passed:
            return
        outcome.stage = "cover"
        outcome.covered = bool(outcome.lines_hit)
        if outcome.covered:
            outcome.stage = "done"
        else:
            outcome.reason = "passes but executes no line of the focal method"

    @staticmethod
    def _read_coverage(data_file: Path, focal_file: Path, outcome: LadderOutcome) -> None:
        from coverage import CoverageData

        if not data_file.exists():
            return
        data = CoverageData(basename=str(data_file))
        try:
            data.read()
            lines = set(data.lines(str(focal_file)) or [])
            arcs = set(data.arcs(str(focal_file)) or [])
        except Exception:  # a corrupted data file is the test's doing: no coverage
            return
        body = set(outcome.focal_lines)
        outcome.lines_hit = sorted(lines & body)
        outcome.arcs_hit = sorted((a, b) for a, b in arcs if a in body or b in body)

    def baseline_coverage(self, workspace: Workspace, target: TestTarget, *, tests: str | None = None,
                          timeout: float = 600.0) -> tuple[set[int], set[tuple[int, int]], str]:
        """Focal lines/arcs the existing suite covers (for gen-tests' "adds coverage" check)."""
        run_dir = workspace.fresh_copy()
        try:
            focal_file = (run_dir / target.focal_path).resolve()
            args = [tests] if tests else []
            result = self._pytest(run_dir, args, coverage_of=focal_file, timeout=timeout)
            outcome = LadderOutcome()
            source = (workspace.pristine / target.focal_path).read_text(encoding="utf-8")
            outcome.focal_lines = focal_body_lines(source, target)
            self._read_coverage(run_dir / _COV_FILE, focal_file, outcome)
            note = "" if result.returncode in (0, 1, 5) and not result.killed else \
                f"the existing suite did not finish cleanly ({result.killed or f'exit {result.returncode}'})"
            return set(outcome.lines_hit), set(outcome.arcs_hit), note
        finally:
            workspace.discard(run_dir)
