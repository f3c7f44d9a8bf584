"""The project's own test configuration: where its tests live and how they are named.

Read before any file is parsed, from the configuration files at the mined revision:

* pytest: ``pytest.ini`` ``[pytest]``, ``pyproject.toml`` ``[tool.pytest.ini_options]``, ``tox.ini`` ``[pytest]``,
  ``setup.cfg`` ``[tool:pytest]`` (first found per folder, pytest's order): ``python_files``, ``python_classes``,
  ``python_functions``, ``testpaths``. A configuration applies to its folder and below (the nearest one wins).
* Maven ``pom.xml``: ``<testSourceDirectory>`` and surefire/failsafe ``<include>`` patterns.
* Gradle ``build.gradle(.kts)``: ``sourceSets { test { java { srcDir(s) ... } } }``.

Without configuration the languages' defaults apply (registry.py). :class:`TestLayout` answers "is this a test file"
and "how are tests named here", and keeps notes on where it looked and why for ``mine --stats``; hooks it cannot
follow (a conftest.py ``pytest_collect_file``) are noted so a repository whose tests were not found gets a warning
naming them.
"""

from __future__ import annotations

import configparser
import fnmatch
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

PYTEST_FILES = ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg")  # pytest's order of precedence
BUILD_FILES = ("pom.xml", "build.gradle", "build.gradle.kts")
CONFIG_FILES = frozenset(PYTEST_FILES + BUILD_FILES)
DEFAULT_PY_FILES = ("test_*.py", "*_test.py")
DEFAULT_PY_CLASSES = ("Test",)
DEFAULT_PY_FUNCTIONS = ("test",)
_GLOB = re.compile(r"[*?\[]")
_MAX_CONFIG_BYTES = 1_000_000


@dataclass(frozen=True)
class PythonNaming:
    """pytest's naming rules for one folder (and below)."""

    root: str = ""  # folder of the configuration file, "" for the repository root
    files: tuple[str, ...] = DEFAULT_PY_FILES
    classes: tuple[str, ...] = DEFAULT_PY_CLASSES
    functions: tuple[str, ...] = DEFAULT_PY_FUNCTIONS
    testpaths: tuple[str, ...] = ()
    source: str = "pytest defaults"

    def matches_file(self, path: str) -> bool:
        rel = _relative(path, self.root)
        if rel is None:
            return False
        base = posixpath.basename(path)
        if self.testpaths and not any(_under(rel, tp) for tp in self.testpaths):
            return False
        return any(fnmatch.fnmatchcase(rel if "/" in pat else base, pat) for pat in self.files)

    def is_test_function(self, name: str) -> bool:
        return _name_matches(name, self.functions)

    def is_test_class(self, name: str) -> bool:
        return _name_matches(name, self.classes)

    @property
    def custom(self) -> bool:
        return (self.files, self.classes, self.functions) != (DEFAULT_PY_FILES, DEFAULT_PY_CLASSES, DEFAULT_PY_FUNCTIONS)


DEFAULT_NAMING = PythonNaming()


@dataclass
class TestLayout:
    """Where a repository keeps its tests, from its configuration (and the defaults)."""

    python: list[PythonNaming] = field(default_factory=list)  # deepest root first
    java_dirs: list[str] = field(default_factory=list)  # test source folders from Maven / Gradle
    java_includes: list[tuple[str, str]] = field(default_factory=list)  # (root, surefire pattern)
    notes: list[str] = field(default_factory=list)  # where it looked and what it found, for --stats
    unfollowed: list[str] = field(default_factory=list)  # configuration we could not follow

    def naming_for(self, path: str) -> PythonNaming:
        """The pytest naming that applies to a Python file (the nearest configuration)."""
        for naming in self.python:
            if _relative(path, naming.root) is not None:
                return naming
        return DEFAULT_NAMING

    def is_python_test(self, path: str) -> bool:
        base = posixpath.basename(path)
        if base == "conftest.py":
            return True
        naming = self.naming_for(path)
        if naming.matches_file(path):
            return True
        # files the defaults name tests stay tests wherever they are (testpaths only says where pytest starts)
        return any(fnmatch.fnmatchcase(base, p) for p in DEFAULT_PY_FILES) or base == "tests.py"

    def in_configured_test_folder(self, path: str) -> bool:
        """Whether a file lies under a folder the configuration names for tests (testpaths, test source dirs)."""
        naming = self.naming_for(path)
        rel = _relative(path, naming.root)
        if rel is not None and any(_under(rel, tp) for tp in naming.testpaths if tp not in (".", "")):
            return True
        return any(_under(path, d) for d in self.java_dirs)

    def is_java_test(self, path: str, default: bool) -> bool:
        if default:
            return True
        if any(_under(path, d) for d in self.java_dirs):
            return True
        return any(_relative(path, root) is not None and fnmatch.fnmatchcase(_relative(path, root) or "", pat)
                   for root, pat in self.java_includes)

    def describe(self) -> list[list[str]]:
        """Rows (language, source, rule) for the --stats table."""
        rows = [["python", n.source, _naming_text(n)] for n in self.python]
        if not self.python:
            rows.append(["python", "pytest defaults", _naming_text(DEFAULT_NAMING) + "; unittest TestCase subclasses"])
        rows += [["java", note.split(": ", 1)[0], note.split(": ", 1)[1]] for note in self.notes if note.startswith("java ")]
        if not self.java_dirs and not self.java_includes:
            rows.append(["java", "defaults", "src/test/..., test/ tests/ it/ folders, *Test.java, Test*.java; "
                                             "@Test/@ParameterizedTest/@RepeatedTest/@TestFactory/@TestTemplate, "
                                             "JUnit 3 test*() in TestCase subclasses"])
        rows += [["note", "not followed", u] for u in self.unfollowed]
        return rows

    def as_dict(self) -> dict:
        return {"rules": self.describe(), "python": [{"root": n.root, "source": n.source, "python_files": list(n.files),
                            "python_classes": list(n.classes), "python_functions": list(n.functions),
                            "testpaths": list(n.testpaths)} for n in self.python],
                "java_test_dirs": list(self.java_dirs), "java_includes": [f"{r}:{p}" if r else p for r, p in self.java_includes],
                "notes": list(self.notes), "not_followed": list(self.unfollowed)}


def discover(entries: Iterable) -> TestLayout:
    """Read the test configuration among ``entries`` (SourceEntry-like: path, kind, size, read())."""
    layout = TestLayout()
    pytest_by_dir: dict[str, dict[str, object]] = {}
    for e in entries:
        base = posixpath.basename(e.path)
        if e.kind != "file" or e.size > _MAX_CONFIG_BYTES:
            continue
        if base == "conftest.py":
            try:
                text = e.read().decode("utf-8", "replace")
            except OSError:
                continue
            if "def pytest_collect_file" in text or "def pytest_pycollect_makeitem" in text:
                layout.unfollowed.append(f"{e.path} customises collection (pytest_collect_file / pytest_pycollect_makeitem)")
            continue
        if base not in CONFIG_FILES:
            continue
        try:
            text = e.read().decode("utf-8", "replace")
        except OSError:
            continue
        folder = posixpath.dirname(e.path)
        if base in PYTEST_FILES:
            found = _pytest_options(base, text)
            if found is not None:
                pytest_by_dir.setdefault(folder, {})[base] = found
        elif base == "pom.xml":
            _maven(layout, folder, text)
        else:
            _gradle(layout, folder, base, text)
    for folder in sorted(pytest_by_dir, key=lambda d: (-d.count("/") if d else 1, d)):
        by_file = pytest_by_dir[folder]
        base = next(b for b in PYTEST_FILES if b in by_file)  # pytest's precedence within a folder
        opts = by_file[base]
        assert isinstance(opts, dict)
        section = {"pytest.ini": "[pytest]", "pyproject.toml": "[tool.pytest.ini_options]", "tox.ini": "[pytest]",
                   "setup.cfg": "[tool:pytest]"}[base]
        naming = PythonNaming(root=folder, files=opts.get("python_files") or DEFAULT_PY_FILES,
                              classes=opts.get("python_classes") or DEFAULT_PY_CLASSES,
                              functions=opts.get("python_functions") or DEFAULT_PY_FUNCTIONS,
                              testpaths=opts.get("testpaths") or (),
                              source=f"{posixpath.join(folder, base)} {section}")
        layout.python.append(naming)
    layout.python.sort(key=lambda n: -len(n.root))
    return layout


def _pytest_options(base: str, text: str) -> dict[str, tuple[str, ...]] | None:
    """The naming options of a pytest configuration file, or None when it has no pytest section."""
    keys = ("python_files", "python_classes", "python_functions", "testpaths")
    if base == "pyproject.toml":
        try:
            import tomllib
            data = tomllib.loads(text)
        except (ValueError, ImportError):
            return None
        opts = data.get("tool", {}).get("pytest", {}).get("ini_options")
        if not isinstance(opts, dict):
            return None
        out = {}
        for k in keys:
            v = opts.get(k)
            if isinstance(v, str):
                out[k] = tuple(v.split())
            elif isinstance(v, list):
                out[k] = tuple(str(x) for x in v)
        return out
    section = {"pytest.ini": "pytest", "tox.ini": "pytest", "setup.cfg": "tool:pytest"}[base]
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    if not parser.has_section(section):
        return None
    return {k: tuple(parser.get(section, k).split()) for k in keys if parser.has_option(section, k)}


_MAVEN_TEST_DIR = re.compile(r"<testSourceDirectory>\s*([^<]+?)\s*</testSourceDirectory>")
_MAVEN_INCLUDE = re.compile(r"<include>\s*([^<]+?\.java)\s*</include>")
_SUREFIRE = re.compile(r"<artifactId>\s*maven-(?:surefire|failsafe)-plugin\s*</artifactId>(.*?)</plugin>", re.S)


def _maven(layout: TestLayout, folder: str, text: str) -> None:
    for m in _MAVEN_TEST_DIR.finditer(text):
        d = _clean_dir(m.group(1))
        if d:
            full = posixpath.normpath(posixpath.join(folder, d)) if folder else posixpath.normpath(d)
            layout.java_dirs.append(full)
            layout.notes.append(f"java {posixpath.join(folder, 'pom.xml')}: testSourceDirectory {full}")
    for block in _SUREFIRE.finditer(text):
        for m in _MAVEN_INCLUDE.finditer(block.group(1)):
            pat = m.group(1).strip()
            layout.java_includes.append((folder, pat))
            layout.notes.append(f"java {posixpath.join(folder, 'pom.xml')}: surefire include {pat}")


_GRADLE_TEST_BLOCK = re.compile(r"\btest\s*\{[^{}]*?java\s*\{([^{}]*)\}", re.S)
_GRADLE_ASSIGN = re.compile(r"sourceSets\.test\.java\.srcDirs?\s*[=(+]+\s*([^\n]+)")
_QUOTED = re.compile(r"""["']([^"']+)["']""")


def _gradle(layout: TestLayout, folder: str, name: str, text: str) -> None:
    found: list[str] = []
    for m in _GRADLE_TEST_BLOCK.finditer(text):
        body = m.group(1)
        if "srcDir" in body:
            found += _QUOTED.findall(body[body.index("srcDir"):])
    for m in _GRADLE_ASSIGN.finditer(text):
        found += _QUOTED.findall(m.group(1))
    for d in found:
        d = _clean_dir(d)
        if d and not d.endswith((".java", ".xml")):
            full = posixpath.normpath(posixpath.join(folder, d)) if folder else posixpath.normpath(d)
            if full not in layout.java_dirs:
                layout.java_dirs.append(full)
                layout.notes.append(f"java {posixpath.join(folder, name)}: sourceSets.test {full}")


def _clean_dir(d: str) -> str:
    d = d.strip().replace("${project.basedir}/", "").replace("${basedir}/", "").replace("$projectDir/", "")
    return "" if "${" in d or d.startswith("/") else d.strip("/")


def _relative(path: str, root: str) -> str | None:
    if not root:
        return path
    return path[len(root) + 1:] if path.startswith(root + "/") else None


def _under(rel: str, folder: str) -> bool:
    folder = folder.strip("/").rstrip("/")
    if not folder or folder == ".":
        return True
    if _GLOB.search(folder):
        parts = rel.split("/")
        return any(fnmatch.fnmatchcase("/".join(parts[:k]), folder) for k in range(1, len(parts)))
    return rel == folder or rel.startswith(folder + "/")


def _name_matches(name: str, patterns: tuple[str, ...]) -> bool:
    """pytest's rule for python_classes / python_functions: a prefix, or a glob when it has glob characters."""
    return any(fnmatch.fnmatchcase(name, p) if _GLOB.search(p) else name.startswith(p) for p in patterns)


def _naming_text(n: PythonNaming) -> str:
    text = f"files {' '.join(n.files)}; classes {' '.join(n.classes)}; functions {' '.join(n.functions)}"
    return text + (f"; testpaths {' '.join(n.testpaths)}" if n.testpaths else "")
