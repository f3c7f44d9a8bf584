"""The Java ladder: compile a generated test in the repo's test class and run it with JUnit, offline.

Setup, once per workspace: a project with ``pom.xml`` is built with ``mvn -o test-compile`` in the
sandbox and its test classpath is read from Maven's debug log; otherwise (or when Maven cannot build
offline) ``src/main/java`` and ``src/test/java`` are compiled with ``javac`` against JUnit 4/5 jars
found in ``~/.m2``. Per generated test: the reference test method in its test class is replaced (or a
``FooTest.java`` is created), the class is compiled with ``javac -proc:none`` on top of the baseline
build (builds), then the one test method is run ``runs`` times through a small JUnit launcher
(JUnit 4 ``Request.method`` or the JUnit Platform ``selectMethod``) (passes: every run). Coverage is not
measured for Java (``covered`` is None). When the code compiles but no JUnit runner is available, the
ladder reports build rate only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codecustom import paths
from codecustom.evaluation.execution.base import LadderOutcome, TestTarget, Workspace
from codecustom.evaluation.languages import parse
from codecustom.evaluation.sandbox import Sandbox, SandboxLimits

# JVMs reserve a lot of address space and many threads: cap the heap, use few GC/JIT threads.
JAVA_ENV = {"JAVA_TOOL_OPTIONS": "-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1", "MALLOC_ARENA_MAX": "2"}
RESULT_TAG = "CODECUSTOM-RESULT "

_RUNNER_MAIN = r"""
public class CodecustomRunner {
    public static void main(String[] args) throws Exception {
        String kind = args[0];
        Class<?> impl = Class.forName(kind.equals("platform") ? "CodecustomPlatformRunner" : "CodecustomJUnit4Runner");
        impl.getMethod("run", String.class, String.class).invoke(null, args[1], args[2]);
    }

    static String quote(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 32) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    static void report(long run, long failed, long skipped, String message) {
        System.out.println("CODECUSTOM-RESULT {\"run\": " + run + ", \"failed\": " + failed + ", \"skipped\": "
            + skipped + ", \"message\": " + quote(message) + "}");
        System.out.flush();
    }
}
"""
_RUNNER_JUNIT4 = r"""
public class CodecustomJUnit4Runner {
    public static void run(String cls, String method) throws Exception {
        Class<?> c = Class.forName(cls, true, CodecustomJUnit4Runner.class.getClassLoader());
        org.junit.runner.Result r = new org.junit.runner.JUnitCore().run(org.junit.runner.Request.method(c, method));
        String message = r.getFailures().isEmpty() ? "" : r.getFailures().get(0).toString();
        CodecustomRunner.report(r.getRunCount(), r.getFailureCount(), r.getIgnoreCount(), message);
        System.exit(r.wasSuccessful() ? 0 : 1);
    }
}
"""
_RUNNER_PLATFORM = r"""
import org.junit.platform.launcher.*;
import org.junit.platform.launcher.core.*;
import org.junit.platform.launcher.listeners.*;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;

public class CodecustomPlatformRunner {
    public static void run(String cls, String method) throws Exception {
        LauncherDiscoveryRequest request = LauncherDiscoveryRequestBuilder.request()
            .selectors(selectMethod(cls + "#" + method)).build();
        Launcher launcher = LauncherFactory.create();
        SummaryGeneratingListener listener = new SummaryGeneratingListener();
        launcher.execute(request, listener);
        TestExecutionSummary s = listener.getSummary();
        String message = s.getFailures().isEmpty() ? "" : String.valueOf(s.getFailures().get(0).getException());
        CodecustomRunner.report(s.getTestsStartedCount(), s.getTotalFailureCount(), s.getTestsSkippedCount(), message);
        System.exit(s.getTotalFailureCount() == 0 && s.getTestsSucceededCount() > 0 ? 0 : 1);
    }
}
"""


class PlacementError(ValueError):
    """The generated code cannot be made into a test method."""


# -- ~/.m2 ----------------------------------------------------------------------------------------

def m2_repository() -> Path:
    """The local Maven repository (``$M2_REPO``, else ``~/.m2/repository``)."""
    return Path(os.environ.get("M2_REPO") or Path.home() / ".m2" / "repository")


def _version_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.\-]", version))


def find_jar(group: str, artifact: str, version: str | None = None) -> Path | None:
    """The jar of ``group:artifact`` (``version``, else the newest release present) in ~/.m2."""
    base = m2_repository() / group.replace(".", "/") / artifact
    if not base.is_dir():
        return None
    versions = [version] if version else sorted(
        (v.name for v in base.iterdir() if v.is_dir() and re.fullmatch(r"[\d.]+", v.name)), key=_version_key,
        reverse=True)
    for v in versions:
        jar = base / v / f"{artifact}-{v}.jar"
        if jar.is_file():
            return jar
    return None


@dataclass
class JUnitJars:
    junit4: list[Path] = field(default_factory=list)
    platform: list[Path] = field(default_factory=list)  # jupiter api+engine, platform commons/engine/launcher, ...

    @classmethod
    def discover(cls) -> JUnitJars:
        jars = cls()
        junit, hamcrest = find_jar("junit", "junit"), find_jar("org.hamcrest", "hamcrest-core")
        if junit:
            jars.junit4 = [junit] + ([hamcrest] if hamcrest else [])
        api_dir = m2_repository() / "org/junit/jupiter/junit-jupiter-api"
        versions = sorted((v.name for v in api_dir.iterdir() if v.is_dir() and v.name.startswith("5.")),
                          key=_version_key, reverse=True) if api_dir.is_dir() else []
        for v in versions:  # Jupiter 5.x.y pairs with Platform 1.x.y
            pv = "1." + v.split(".", 1)[1]
            found = [find_jar("org.junit.jupiter", "junit-jupiter-api", v),
                     find_jar("org.junit.jupiter", "junit-jupiter-engine", v),
                     find_jar("org.junit.platform", "junit-platform-commons", pv),
                     find_jar("org.junit.platform", "junit-platform-engine", pv),
                     find_jar("org.junit.platform", "junit-platform-launcher", pv),
                     find_jar("org.opentest4j", "opentest4j"), find_jar("org.apiguardian", "apiguardian-api")]
            if all(found[:6]):
                jars.platform = [j for j in found if j]
                params = find_jar("org.junit.jupiter", "junit-jupiter-params", v)
                if params:
                    jars.platform.append(params)
                break
        return jars

    def runtime_for(self, classpath: list[str]) -> list[Path]:
        """Jars a project's test classpath lacks to run Jupiter tests: the Jupiter engine and the Platform
        launcher (Maven's surefire normally brings them), in the versions matching what the project has."""
        names = " ".join(Path(c).name for c in classpath)
        extra = []
        api = re.search(r"junit-jupiter-api-([\d.]+)\.jar", names)
        if api and "junit-jupiter-engine" not in names:
            extra.append(find_jar("org.junit.jupiter", "junit-jupiter-engine", api.group(1)))
            names += f" junit-platform-engine-1.{api.group(1).split('.', 1)[1]}.jar"
        if "junit-platform-launcher" not in names:
            engine = re.search(r"junit-platform-engine-([\d.]+)\.jar", names)
            extra.append(find_jar("org.junit.platform", "junit-platform-launcher", engine.group(1) if engine else None)
                         or find_jar("org.junit.platform", "junit-platform-launcher"))
        return [j for j in extra if j]


def _runner_dir(jars: JUnitJars) -> Path | None:
    """Our JUnit launcher, compiled once per JUnit jar set into the codecustom cache (trusted code)."""
    key = hashlib.sha256("|".join([_RUNNER_MAIN, _RUNNER_JUNIT4, _RUNNER_PLATFORM] + [str(j) for j in
                                   jars.junit4 + jars.platform]).encode()).hexdigest()[:16]
    out = paths.home() / "cache" / "java-runner" / key
    if (out / "CodecustomRunner.class").is_file():
        return out
    tmp = out.with_name(key + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "src").mkdir(parents=True)
    sources = {"CodecustomRunner": (_RUNNER_MAIN, [])}
    if jars.junit4:
        sources["CodecustomJUnit4Runner"] = (_RUNNER_JUNIT4, jars.junit4)
    if jars.platform:
        sources["CodecustomPlatformRunner"] = (_RUNNER_PLATFORM, jars.platform)
    for name, (src, _) in sources.items():
        (tmp / "src" / f"{name}.java").write_text(src, encoding="utf-8")
    for name, (_, cp) in sources.items():
        classpath = os.pathsep.join([str(tmp)] + [str(j) for j in cp])
        done = subprocess.run(["javac", "-proc:none", "-nowarn", "-d", str(tmp), "-cp", classpath,
                               "-sourcepath", str(tmp / "src"), str(tmp / "src" / f"{name}.java")],
                              capture_output=True, text=True, env={**os.environ, **JAVA_ENV})
        if done.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            return None
    shutil.rmtree(tmp / "src")
    try:
        os.replace(tmp, out)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return out


# -- placement ------------------------------------------------------------------------------------

def _nodes(node: Any, kind: str) -> list[Any]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type == kind:
            out.append(n)
        stack.extend(reversed(n.children))
    return out


def _text(src: bytes, node: Any) -> str:
    return src[node.start_byte:node.end_byte].decode("utf-8", errors="replace")


def _name(src: bytes, node: Any) -> str:
    name = node.child_by_field_name("name")
    return _text(src, name) if name is not None else ""


@dataclass
class _GeneratedMethod:
    imports: list[str]
    method: str  # dedented source of the test method (annotations included)
    name: str
    has_test_annotation: bool


def parse_generated(code: str) -> _GeneratedMethod:
    """The first test method in generated Java (a bare method, or methods/classes), plus its imports."""
    text = textwrap.dedent(code).strip("\n")
    imports = [ln.strip() for ln in text.splitlines() if re.match(r"\s*import\s+[\w.*\s]+;\s*$", ln)]
    body = "\n".join(ln for ln in text.splitlines() if not re.match(r"\s*(import|package)\s+[\w.*\s]+;\s*$", ln))
    wrapped = f"class __CodecustomWrapper__ {{\n{body}\n}}\n"
    src = wrapped.encode()
    tree = parse(wrapped, "java")
    methods = _nodes(tree.root_node, "method_declaration")
    if not methods:
        raise PlacementError("no Java method in the generated code")

    def annotated(m: Any) -> bool:
        mods = next((c for c in m.children if c.type == "modifiers"), None)
        return mods is not None and any(_text(src, a).split("(")[0] in ("@Test", "@org.junit.Test",
                                                                       "@org.junit.jupiter.api.Test")
                                        for a in mods.children if "annotation" in a.type)

    chosen = next((m for m in methods if annotated(m)), None) or \
        next((m for m in methods if _name(src, m).startswith("test")), None)
    if chosen is None:
        raise PlacementError("no test method (@Test or test...) in the generated code")
    if tree.root_node.has_error:
        # keep going: javac decides, but a method cut off mid-way will not compile
        pass
    return _GeneratedMethod(imports, textwrap.dedent(_text(src, chosen)), _name(src, chosen), annotated(chosen))


def _find_class(tree: Any, src: bytes, dotted: str | None) -> Any | None:
    classes = [n for n in _nodes(tree.root_node, "class_declaration")]
    if not dotted:
        return classes[0] if classes else None
    parts = dotted.split(".")
    for c in classes:
        if _name(src, c) != parts[-1]:
            continue
        chain, p = [], c.parent
        while p is not None:
            if p.type == "class_declaration":
                chain.insert(0, _name(src, p))
            p = p.parent
        if chain == parts[:-1] or not parts[:-1]:
            return c
    return None


def _package(src: str) -> str:
    match = re.search(r"^\s*package\s+([\w.]+)\s*;", src, re.M)
    return match.group(1) if match else ""


def _add_imports(source: str, imports: list[str]) -> str:
    todo = [i for i in dict.fromkeys(imports) if i not in source]
    if not todo:
        return source
    lines = source.splitlines(keepends=True)
    at = 0
    for i, line in enumerate(lines):
        if re.match(r"\s*(package|import)\s", line):
            at = i + 1
    return "".join(lines[:at]) + "".join(t + "\n" for t in todo) + "".join(lines[at:])


@dataclass
class JavaPlacement:
    test_file: str
    source: str
    class_name: str  # binary name: pkg.Outer$Inner
    method: str
    jupiter: bool


def default_test_file(focal_path: str, focal_class: str | None) -> str:
    """``src/test/java/<pkg>/<Focal>Test.java`` next to ``src/main/java/<pkg>/<Focal>.java``."""
    p = Path(focal_path)
    cls = (focal_class or p.stem).split(".")[0]
    parts = list(p.parent.parts)
    if "main" in parts:
        parts[parts.index("main")] = "test"
    elif parts[:1] == ["src"]:
        parts = ["src", "test", "java"] + parts[1:]
    return (Path(*parts) / f"{cls}Test.java").as_posix() if parts else f"{cls}Test.java"


def place(root: Path, target: TestTarget, code: str, *, prefer_jupiter: bool = False) -> JavaPlacement:
    """Put the generated test method into its test class (text only)."""
    gen = parse_generated(code)
    test_file = target.test_path if target.test_path and (root / target.test_path).is_file() else None
    if test_file is None:
        test_file = default_test_file(target.focal_path, target.focal_class)
    path = root / test_file
    if path.is_file():
        source = path.read_text(encoding="utf-8")
    else:
        focal_src = (root / target.focal_path).read_text(encoding="utf-8") if (root / target.focal_path).is_file() else ""
        pkg = _package(focal_src)
        cls = Path(test_file).stem
        header = f"package {pkg};\n\n" if pkg else ""
        imports = ("import org.junit.jupiter.api.Test;\nimport static org.junit.jupiter.api.Assertions.*;\n"
                   if prefer_jupiter else "import org.junit.Test;\nimport static org.junit.Assert.*;\n")
        source = f"{header}{imports}\npublic class {cls} {{\n}}\n"
    jupiter = "org.junit.jupiter" in source
    method = gen.method
    if not gen.has_test_annotation:
        method = "@Test\n" + method
        gen.imports.append("import org.junit.jupiter.api.Test;" if jupiter else "import org.junit.Test;")
    src = source.encode("utf-8")
    tree = parse(source, "java")
    cls_node = _find_class(tree, src, target.test_class if target.test_path == test_file else None)
    if cls_node is None:
        raise PlacementError(f"no test class in {test_file}")
    body = cls_node.child_by_field_name("body")
    methods = [c for c in body.children if c.type == "method_declaration"]
    ref = next((m for m in methods if target.test_name and _name(src, m) == target.test_name
                and target.test_path == test_file), None)
    taken = {_name(src, m) for m in methods if m is not ref}
    name = gen.name
    if name in taken:
        i = 2
        while f"{name}Generated{i}" in taken:
            i += 1
        method = re.sub(rf"\b{re.escape(name)}(\s*\()", rf"{name}Generated{i}\1", method, count=1)
        name = f"{name}Generated{i}"
    if ref is not None:
        column = ref.start_point[1]
        lines = method.strip("\n").splitlines()
        text = lines[0] + "".join("\n" + (" " * column + ln if ln.strip() else "") for ln in lines[1:])
        new = src[:ref.start_byte] + text.encode() + src[ref.end_byte:]
    else:
        close = body.end_byte - 1  # the class body's closing brace
        indent = " " * (cls_node.start_point[1] + 4)
        block = "\n" + textwrap.indent(method.strip("\n"), indent) + "\n"
        before = src[:close].rstrip(b" \t")
        new = before + block.encode() + src[close:]
    new_source = _add_imports(new.decode("utf-8"), gen.imports)
    chain = []
    node = cls_node
    while node is not None:
        if node.type == "class_declaration":
            chain.insert(0, _name(src, node))
        node = node.parent
    pkg = _package(new_source)
    binary = (pkg + "." if pkg else "") + "$".join(chain)
    return JavaPlacement(test_file, new_source, binary, name, jupiter)


# -- the ladder -----------------------------------------------------------------------------------

@dataclass
class JavaBuild:
    """The baseline build of a workspace: how tests compile and run."""

    level: str  # run | build | none
    reason: str
    mode: str = ""  # maven | javac
    classpath: list[str] = field(default_factory=list)
    runner: Path | None = None
    jars: JUnitJars = field(default_factory=JUnitJars)
    jupiter: bool = False  # new test files use JUnit 5 (the project's existing tests do)


def _test_classpath_from_maven_log(log: str) -> list[str] | None:
    found = None
    for match in re.finditer(r"-d (\S+test-classes) -classpath (\S+)", log):
        found = [p for p in match.group(2).split(os.pathsep) if p]
    return found


def _readable(classpath: list[str]) -> list[Path]:
    """What a sandboxed javac/java must read besides its run folder: the local Maven repository and the
    classpath's entries (the baseline build's classes, our runner)."""
    return [m2_repository()] + [Path(c) for c in classpath if not Path(c).is_relative_to(m2_repository())]


class JavaLadder:
    """javac + JUnit (after ``mvn -o test-compile`` where the project builds with Maven) in the sandbox."""

    language = "java"

    def __init__(self, sandbox: Sandbox | None = None, *, runs: int = 3, timeout: float = 60.0,
                 build_timeout: float = 600.0, **_: Any) -> None:
        self.sandbox = sandbox or Sandbox()
        self.runs = runs
        self.limits = SandboxLimits(wall_seconds=timeout, cpu_seconds=int(timeout * 3) + 10, memory_bytes=8 << 30,
                                    max_processes=512)
        self.build_limits = SandboxLimits(wall_seconds=build_timeout, cpu_seconds=int(build_timeout * 3),
                                          memory_bytes=8 << 30, max_processes=512)

    # setup ---------------------------------------------------------------------------------------
    def availability(self, workspace: Workspace) -> tuple[str, str]:
        build = self.prepare(workspace)
        return build.level, build.reason

    def prepare(self, workspace: Workspace) -> JavaBuild:
        """Build the baseline once per workspace (cached on it)."""
        cached = workspace.cache.get("java")
        if isinstance(cached, JavaBuild):
            return cached
        build = self._prepare(workspace)
        workspace.cache["java"] = build
        return build

    def _prepare(self, workspace: Workspace) -> JavaBuild:
        if not shutil.which("javac") or not shutil.which("java"):
            return JavaBuild("none", "no JDK (javac/java) on PATH")
        jars = JUnitJars.discover()
        base = workspace.root / "java-baseline"
        if base.exists():
            shutil.rmtree(base)
        shutil.copytree(workspace.pristine, base, symlinks=True)
        notes = []
        classpath = None
        mode = ""
        if (base / "pom.xml").is_file() and shutil.which("mvn"):
            result = self.sandbox.run(["mvn", "-o", "-B", "-X", "-l", "codecustom-build.log",
                                       f"-Dmaven.repo.local={m2_repository()}", "test-compile"],
                                      cwd=base, writable=[base], readable=[m2_repository()], env=JAVA_ENV,
                                      limits=self.build_limits)
            log = (base / "codecustom-build.log").read_text(encoding="utf-8", errors="replace") \
                if (base / "codecustom-build.log").is_file() else ""
            classpath = _test_classpath_from_maven_log(log) if result.returncode == 0 else None
            if classpath:
                mode = "maven"
            else:
                errors = [ln for ln in log.splitlines() if ln.startswith("[ERROR]")]
                notes.append("mvn -o test-compile failed" + (f": {errors[0][8:200]}" if errors else
                                                              f" (exit {result.returncode})"))
        if classpath is None:
            classpath, why = self._javac_baseline(base, jars)
            if classpath is None:
                return JavaBuild("none", "; ".join(notes + [why]))
            mode = "javac"
        runner = _runner_dir(jars)
        runnable = runner is not None and (jars.junit4 or jars.platform)
        jupiter = _prefers_jupiter(workspace.pristine, jars)
        if not runnable:
            return JavaBuild("build", "; ".join(notes + ["no JUnit jars in ~/.m2 to run tests: build rate only"]),
                             mode, classpath, None, jars, jupiter)
        how = "mvn -o test-compile + javac" if mode == "maven" else "javac"
        return JavaBuild("run", "; ".join(notes + [f"{how}, JUnit from ~/.m2 (coverage not measured for Java)"]),
                         mode, classpath, runner, jars, jupiter)

    def _javac_baseline(self, base: Path, jars: JUnitJars) -> tuple[list[str] | None, str]:
        main_dir = base / "src" / "main" / "java"
        test_dir = base / "src" / "test" / "java"
        if main_dir.is_dir():
            main = sorted(main_dir.rglob("*.java"))
        else:
            main = sorted(p for p in base.rglob("*.java") if "test" not in {q.lower() for q in p.relative_to(base).parts[:-1]})
        junit = [str(j) for j in jars.junit4 + jars.platform]
        classes, test_classes = base / "target" / "classes", base / "target" / "test-classes"
        classes.mkdir(parents=True, exist_ok=True)
        test_classes.mkdir(parents=True, exist_ok=True)
        if main:
            result = self._javac(base, [str(p) for p in main], classes, [str(classes)] + junit, self.build_limits)
            if result.returncode != 0:
                return None, f"javac cannot compile the project's sources: {_first_error(result.stdout + result.stderr)}"
        tests = sorted(test_dir.rglob("*.java")) if test_dir.is_dir() else []
        if tests:  # existing tests give helpers to generated ones; their failure is not fatal
            self._javac(base, [str(p) for p in tests], test_classes, [str(test_classes), str(classes)] + junit,
                        self.build_limits)
        for res in ("main", "test"):
            resources = base / "src" / res / "resources"
            if resources.is_dir():
                shutil.copytree(resources, classes if res == "main" else test_classes, dirs_exist_ok=True)
        return [str(test_classes), str(classes)] + junit, ""

    def _javac(self, cwd: Path, files: list[str], out: Path, classpath: list[str], limits: SandboxLimits):
        return self.sandbox.run(["javac", "-proc:none", "-nowarn", "-encoding", "UTF-8", "-implicit:none",
                                 "-d", str(out), "-cp", os.pathsep.join(classpath), *files],
                                cwd=cwd, writable=[cwd], readable=_readable(classpath), env=JAVA_ENV, limits=limits)

    # per test -----------------------------------------------------------------------------------
    def evaluate(self, workspace: Workspace, target: TestTarget, code: str) -> LadderOutcome:
        started = time.monotonic()
        outcome = LadderOutcome(runs=self.runs)
        build = self.prepare(workspace)
        if build.level == "none":
            outcome.reason = build.reason
            return outcome
        try:
            placement = place(workspace.pristine, target, code, prefer_jupiter=build.jupiter)
        except PlacementError as exc:
            outcome.reason = str(exc)
            return outcome
        outcome.test_file, outcome.test_source = placement.test_file, placement.source
        outcome.nodeid = f"{placement.class_name}#{placement.method}"
        run_dir = workspace.fresh_copy()
        try:
            self._climb(run_dir, build, placement, outcome)
        finally:
            workspace.discard(run_dir)
            outcome.seconds = time.monotonic() - started
        return outcome

    def _climb(self, run_dir: Path, build: JavaBuild, placement: JavaPlacement, outcome: LadderOutcome) -> None:
        test_path = run_dir / placement.test_file
        test_path.parent.mkdir(parents=True, exist_ok=True)
        test_path.write_text(placement.source, encoding="utf-8")
        out = run_dir / ".codecustom-classes"
        out.mkdir()
        compiled = self._javac(run_dir, [str(test_path)], out, [str(out)] + build.classpath, self.limits)
        if compiled.killed or compiled.returncode != 0:
            outcome.reason = "does not compile: " + (compiled.killed or _first_error(compiled.stdout + compiled.stderr))
            return
        outcome.built, outcome.stage = True, "pass"
        if build.level != "run" or build.runner is None:
            outcome.reason = "built; no JUnit runner available to run it"
            outcome.runs = 0
            return
        kind = "platform" if placement.jupiter and build.jars.platform else "junit4"
        extra = build.jars.runtime_for(build.classpath) if kind == "platform" else []
        runtime = [str(out)] + build.classpath + [str(j) for j in extra] + [str(build.runner)]
        if kind == "junit4" and not any("junit-4" in c or "/junit/junit/" in c for c in build.classpath):
            runtime += [str(j) for j in build.jars.junit4]
        for i in range(self.runs):
            result = self.sandbox.run(["java", "-cp", os.pathsep.join(runtime), "CodecustomRunner", kind,
                                       placement.class_name, placement.method], cwd=run_dir, writable=[run_dir],
                                      readable=_readable(runtime), env=JAVA_ENV, limits=self.limits)
            report = _runner_report(result.stdout)
            ok = not result.killed and result.returncode == 0 and report is not None and report["run"] > 0 \
                and report["failed"] == 0 and report["skipped"] == 0
            if ok:
                outcome.runs_passed += 1
            elif not outcome.reason:
                why = result.killed or (report or {}).get("message") or _first_error(result.stderr) or \
                    f"exit {result.returncode}"
                if report is not None and report["run"] == 0:
                    why = "no test ran"
                outcome.reason = (f"run {i + 1}: " if i else "") + str(why)[:240]
            if not ok and outcome.runs_passed == 0:
                break
        outcome.passed = outcome.runs_passed == self.runs
        if outcome.flaky:
            outcome.reason = f"flaky: passed {outcome.runs_passed} of {self.runs} runs; " + outcome.reason
        if outcome.passed:
            outcome.stage = "done"  # coverage is not measured for Java: covered stays None


def _prefers_jupiter(root: Path, jars: JUnitJars) -> bool:
    """Whether the project's tests use JUnit 5 (majority of test files), or only Jupiter is available."""
    jupiter = junit4 = 0
    for path in list(root.rglob("*Test*.java"))[:200]:
        text = path.read_text(encoding="utf-8", errors="replace")
        jupiter += "org.junit.jupiter" in text
        junit4 += bool(re.search(r"import\s+(static\s+)?org\.junit\.(Test|Assert)", text))
    if jupiter or junit4:
        return jupiter > junit4
    return bool(jars.platform) and not jars.junit4


def _runner_report(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_TAG):
            try:
                return json.loads(line[len(RESULT_TAG):])
            except json.JSONDecodeError:
                return None
    return None


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if "error:" in line or line.startswith(("Exception", "Error")):
            return line.strip()[:240]
    lines = [ln for ln in text.strip().splitlines() if ln.strip() and "JAVA_TOOL_OPTIONS" not in ln]
    return lines[0][:240] if lines else ""
