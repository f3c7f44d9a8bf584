"""The language registry: one entry per language with its grammar, extractor (queries), test-file rule,
test→focal rules and context builder. Add a language by adding an entry; nothing else branches on names."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from codecustom.errors import UsageError


@dataclass(frozen=True)
class LanguageSpec:
    """Everything the miner knows about one language."""

    name: str
    extensions: tuple[str, ...]
    make_extractor: Callable[[], Any]  # -> object with .extract(path, src, is_test_file=...) -> FileFacts
    is_test_path: Callable[[str], bool]
    focal_rules: Callable[[], Any] | None = None  # -> FocalRules; None: no test→focal mapping
    context: Callable[[], Any] | None = None  # -> ContextBuilder
    frameworks: tuple[str, ...] = ()

    @property
    def maps_tests(self) -> bool:
        return self.focal_rules is not None


def _java_extractor():
    from codecustom.mining.extract_java import JavaExtractor
    return JavaExtractor()


def _python_extractor():
    from codecustom.mining.extract_python import PythonExtractor
    return PythonExtractor()


def _generic(language: str, grammar_name: str, query_dir: str):
    def make():
        from codecustom.mining.extract_generic import GenericExtractor
        return GenericExtractor(language, grammar_name, query_dir)
    return make


def _java_rules():
    from codecustom.mining.focal_java import JavaFocalRules
    return JavaFocalRules()


def _python_rules():
    from codecustom.mining.focal_python import PythonFocalRules
    return PythonFocalRules()


def _java_context():
    from codecustom.mining.context import JavaContext
    return JavaContext()


def _python_context():
    from codecustom.mining.context import PythonContext
    return PythonContext()


_JAVA_TEST_NAME = re.compile(r"(^Test\w*|\w*(Test|Tests|TestCase|IT))\.java$")


def is_java_test_path(path: str) -> bool:
    """Maven/Gradle test roots (src/test/...), test folders, or *Test.java / Test*.java names."""
    parts = path.split("/")
    return any(p in ("test", "tests", "androidTest", "testFixtures", "it") for p in parts[:-1]) or bool(
        _JAVA_TEST_NAME.match(parts[-1]))


def is_python_test_path(path: str) -> bool:
    from codecustom.mining.extract_python import is_test_path
    return is_test_path(path)


def is_js_test_path(path: str) -> bool:
    base = posixpath.basename(path)
    return ".test." in base or ".spec." in base or "/__tests__/" in f"/{path}"


LANGUAGES: dict[str, LanguageSpec] = {
    "python": LanguageSpec("python", (".py",), _python_extractor, is_python_test_path, _python_rules, _python_context,
                           ("pytest", "unittest")),
    "java": LanguageSpec("java", (".java",), _java_extractor, is_java_test_path, _java_rules, _java_context,
                         ("junit3", "junit4", "junit5")),
    "javascript": LanguageSpec("javascript", (".js", ".mjs", ".cjs", ".jsx"), _generic("javascript", "javascript", "javascript"),
                               is_js_test_path),
    "typescript": LanguageSpec("typescript", (".ts", ".mts", ".cts"), _generic("typescript", "typescript", "typescript"),
                               is_js_test_path),
    "tsx": LanguageSpec("tsx", (".tsx",), _generic("tsx", "tsx", "typescript"), is_js_test_path),
    "go": LanguageSpec("go", (".go",), _generic("go", "go", "go"), lambda p: p.endswith("_test.go")),
}
_BY_EXT = {ext: spec for spec in LANGUAGES.values() for ext in spec.extensions}
DEFAULT_LANGUAGES = tuple(LANGUAGES)


def language_for_path(path: str) -> LanguageSpec | None:
    """The registered language of a file, by extension."""
    dot = path.rfind(".")
    return _BY_EXT.get(path[dot:].lower()) if dot >= 0 else None


def resolve_languages(names: list[str] | None) -> list[str]:
    """Validate `--lang` values (comma lists allowed); None means every registered language."""
    if not names:
        return list(DEFAULT_LANGUAGES)
    out: list[str] = []
    for item in names:
        for name in str(item).split(","):
            name = name.strip().lower()
            if not name:
                continue
            name = {"py": "python", "js": "javascript", "ts": "typescript", "golang": "go"}.get(name, name)
            if name not in LANGUAGES:
                raise UsageError(f"unknown language '{name}'", hint=f"choose from {', '.join(LANGUAGES)}")
            if name not in out:
                out.append(name)
    if "typescript" in out and "tsx" not in out:
        out.append("tsx")
    return out
