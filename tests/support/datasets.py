"""Write a small but real mined dataset folder (the miner's on-disk format) from hand-written code.

For any stage's tests that need a dataset without running the miner. The Python sources below are
real, working code with real unittest tests; their method records are derived with ``ast`` (line
numbers, calls, decorators), pairs link each test to the method it exercises, and the focal context
is written at every methods2test level. A few hand-written Java records cover a second language.

Splits are by file, as the miner does: ``textkit/ranges.py`` (and its tests) is the test split,
``textkit/stack.py`` the valid split, everything else train.

    from tests.support.datasets import write_dataset
    ds = write_dataset(tmp_path / "ds")                 # 24 pairs, 3 splits, python + java
    ds = write_dataset(tmp_path / "ds", copies=4)       # the same project 4 times (more training data)
"""

from __future__ import annotations

import ast
import hashlib
import textwrap
from dataclasses import dataclass
from pathlib import Path

from codecustom.mining.records import (FILE_NAMES, FileRecord, Manifest, MethodRecord, PairRecord,
                                       write_jsonl)

PY_SOURCES: dict[str, str] = {
    "textkit/strings.py": '''\
"""Small string helpers."""


def slugify(text, sep="-"):
    """Lower-case words joined by ``sep``."""
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return sep.join(words)


def truncate(text, width, ellipsis="..."):
    """Cut ``text`` to ``width`` characters, ending with ``ellipsis`` when cut."""
    if len(text) <= width:
        return text
    return text[: max(0, width - len(ellipsis))] + ellipsis


def count_vowels(text):
    return sum(1 for c in text.lower() if c in "aeiou")


def is_palindrome(text):
    cleaned = slugify(text, sep="")
    return cleaned == cleaned[::-1]
''',
    "textkit/numbers.py": '''\
"""Number helpers."""


class Stats:
    def __init__(self, values):
        self.values = list(values)

    def mean(self):
        if not self.values:
            raise ValueError("no values")
        return sum(self.values) / len(self.values)

    def median(self):
        ordered = sorted(self.values)
        mid = len(ordered) // 2
        if len(ordered) % 2:
            return ordered[mid]
        return (ordered[mid - 1] + ordered[mid]) / 2

    def spread(self):
        return max(self.values) - min(self.values)


def clamp(value, low, high):
    return max(low, min(high, value))


def parse_int(text, default=0):
    try:
        return int(text.strip())
    except ValueError:
        return default
''',
    "textkit/stack.py": '''\
"""A bounded stack."""


class Stack:
    limit = 100

    def __init__(self, items=None):
        self.items = list(items or [])

    def push(self, item):
        if len(self.items) >= self.limit:
            raise OverflowError("stack is full")
        self.items.append(item)

    def pop(self):
        if not self.items:
            raise IndexError("pop from empty stack")
        return self.items.pop()

    def peek(self):
        return self.items[-1] if self.items else None
''',
    "textkit/ranges.py": '''\
"""Integer ranges."""


class Range:
    def __init__(self, start, stop):
        if stop < start:
            raise ValueError("stop before start")
        self.start = start
        self.stop = stop

    def length(self):
        return self.stop - self.start

    def overlaps(self, other):
        return self.start < other.stop and other.start < self.stop

    def merge(self, other):
        if not self.overlaps(other):
            raise ValueError("ranges do not overlap")
        return Range(min(self.start, other.start), max(self.stop, other.stop))
''',
}

PY_TESTS: dict[str, str] = {
    "tests/test_strings.py": '''\
import unittest

from textkit.strings import count_vowels, is_palindrome, slugify, truncate


class TestStrings(unittest.TestCase):
    def test_slugify(self):
        self.assertEqual(slugify("Hello, World!"), "hello-world")

    def test_slugify_custom_separator(self):
        self.assertEqual(slugify("a b  c", sep="_"), "a_b_c")

    def test_truncate(self):
        self.assertEqual(truncate("abcdefghij", 6), "abc...")

    def test_truncate_short_text(self):
        self.assertEqual(truncate("abc", 6), "abc")

    def test_count_vowels(self):
        self.assertEqual(count_vowels("Education"), 5)

    def test_is_palindrome(self):
        self.assertTrue(is_palindrome("A man, a plan, a canal: Panama"))
        self.assertFalse(is_palindrome("codecustom"))
''',
    "tests/test_numbers.py": '''\
import unittest

from textkit.numbers import Stats, clamp, parse_int


class TestStats(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(Stats([1, 2, 3, 4]).mean(), 2.5)

    def test_mean_empty(self):
        with self.assertRaises(ValueError):
            Stats([]).mean()

    def test_median(self):
        self.assertEqual(Stats([5, 1, 3]).median(), 3)

    def test_median_even(self):
        self.assertEqual(Stats([4, 1, 3, 2]).median(), 2.5)

    def test_spread(self):
        self.assertEqual(Stats([7, 2, 9]).spread(), 7)


class TestHelpers(unittest.TestCase):
    def test_clamp(self):
        self.assertEqual(clamp(15, 0, 10), 10)
        self.assertEqual(clamp(-3, 0, 10), 0)

    def test_parse_int(self):
        self.assertEqual(parse_int(" 42 "), 42)

    def test_parse_int_default(self):
        self.assertEqual(parse_int("forty", default=-1), -1)
''',
    "tests/test_stack.py": '''\
import unittest

from textkit.stack import Stack


class TestStack(unittest.TestCase):
    def test_push(self):
        stack = Stack()
        stack.push(1)
        self.assertEqual(stack.items, [1])

    def test_pop(self):
        stack = Stack([1, 2])
        self.assertEqual(stack.pop(), 2)

    def test_pop_empty(self):
        with self.assertRaises(IndexError):
            Stack().pop()

    def test_peek(self):
        self.assertIsNone(Stack().peek())
''',
    "tests/test_ranges.py": '''\
import unittest

from textkit.ranges import Range


class TestRange(unittest.TestCase):
    def test_length(self):
        self.assertEqual(Range(2, 7).length(), 5)

    def test_overlaps(self):
        self.assertTrue(Range(0, 5).overlaps(Range(4, 8)))
        self.assertFalse(Range(0, 5).overlaps(Range(5, 8)))

    def test_merge(self):
        merged = Range(0, 5).merge(Range(3, 9))
        self.assertEqual((merged.start, merged.stop), (0, 9))
''',
}

SPLIT_OF_MODULE = {"textkit/stack.py": "valid", "textkit/ranges.py": "test"}

JAVA_FOCAL = {
    "src/main/java/org/example/Counter.java": ("Counter", '''\
package org.example;

public class Counter {
    private int count;

    public Counter(int start) {
        this.count = start;
    }

    public int increment() {
        count += 1;
        return count;
    }

    public int reset() {
        int old = count;
        count = 0;
        return old;
    }
}
'''),
    "src/main/java/org/example/Words.java": ("Words", '''\
package org.example;

public class Words {
    public static String capitalize(String word) {
        if (word.isEmpty()) {
            return word;
        }
        return Character.toUpperCase(word.charAt(0)) + word.substring(1);
    }

    public static int countWords(String text) {
        String trimmed = text.trim();
        return trimmed.isEmpty() ? 0 : trimmed.split("\\\\s+").length;
    }
}
'''),
}

JAVA_TESTS = {
    "src/test/java/org/example/CounterTest.java": '''\
package org.example;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class CounterTest {
    @Test
    public void testIncrement() {
        Counter counter = new Counter(41);
        assertEquals(42, counter.increment());
    }

    @Test
    public void testReset() {
        Counter counter = new Counter(5);
        assertEquals(5, counter.reset());
        assertEquals(1, counter.increment());
    }
}
''',
    "src/test/java/org/example/WordsTest.java": '''\
package org.example;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class WordsTest {
    @Test
    public void testCapitalize() {
        assertEquals("Hello", Words.capitalize("hello"));
    }

    @Test
    public void testCapitalizeEmpty() {
        assertEquals("", Words.capitalize(""));
    }

    @Test
    public void testCountWords() {
        assertEquals(3, Words.countWords("  one two   three "));
    }
}
''',
}


@dataclass
class _Method:
    record: MethodRecord
    node: ast.AST | None = None


def _calls(node: ast.AST) -> list[str]:
    names = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            names.append(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return [n for n in names if n]


def _python_methods(path: str, source: str, split: str) -> list[MethodRecord]:
    lines = source.splitlines()
    out: list[MethodRecord] = []

    def visit(node: ast.AST, cls: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{cls}.{child.name}" if cls else child.name)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([d.lineno for d in child.decorator_list] + [child.lineno])
                body = textwrap.dedent("\n".join(lines[start - 1: child.end_lineno])) + "\n"
                params = [a.arg for a in child.args.args]
                sig = lines[child.lineno - 1].strip().rstrip(":")
                out.append(MethodRecord(
                    id=f"{path}::{cls or ''}::{child.name}@{start}", language="python", path=path, class_name=cls,
                    name=child.name, signature=sig, params=params, return_type=None,
                    modifiers=[f"@{ast.unparse(d)}" for d in child.decorator_list],
                    docstring=ast.get_docstring(child), body=body, start_line=start, end_line=child.end_lineno,
                    is_test=child.name.startswith("test"), is_constructor=child.name == "__init__",
                    calls=_calls(child), split=split))

    visit(ast.parse(source), None)
    return out


def _python_fields(source: str, cls: str | None) -> list[str]:
    if cls is None:
        return []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == cls:
            return [ast.unparse(n) for n in node.body if isinstance(n, (ast.Assign, ast.AnnAssign))]
    return []


def _contexts(focal: MethodRecord, siblings: list[MethodRecord], fields: list[str], *, java: bool) -> dict[str, str]:
    """methods2test's levels: focal method; + class; + constructors; + other method signatures; + fields."""
    ind = "    "
    fm = focal.body.rstrip("\n")
    if focal.class_name is None:  # a module function: no class around it
        others = [m.signature + (" { ... }" if java else ": ...") for m in siblings
                  if m.class_name is None and m.id != focal.id and not m.is_test]
        with_m = fm + ("\n\n" + "\n".join(others) if others else "")
        return {"fm": fm, "fm_fc": fm, "fm_fc_c": fm, "fm_fc_c_m": with_m, "fm_fc_c_m_f": with_m}
    same = [m for m in siblings if m.class_name == focal.class_name and m.id != focal.id]
    stub = " { ... }" if java else ": ..."
    ctors = [ind + m.signature + stub for m in same if m.is_constructor]
    methods = [ind + m.signature + stub for m in same if not m.is_constructor]
    head, tail = (f"public class {focal.class_name} {{", "}") if java else (f"class {focal.class_name}:", "")
    body = textwrap.indent(fm, ind)

    def wrap(*parts: list[str]) -> str:
        lines = [head, body] + [line for part in parts for line in part]
        return "\n".join(lines + ([tail] if tail else []))

    return {"fm": fm, "fm_fc": wrap(), "fm_fc_c": wrap(ctors), "fm_fc_c_m": wrap(ctors, methods),
            "fm_fc_c_m_f": wrap(ctors, methods, [ind + f for f in fields])}


def _focal_for(test: MethodRecord, focal_methods: list[MethodRecord]) -> tuple[MethodRecord, str] | None:
    """The focal method by test name (test_merge -> merge), else the unique called focal method."""
    bare = test.name[4:].lstrip("_") if test.name.lower().startswith("test") else test.name
    for m in focal_methods:
        if not m.is_constructor and (bare == m.name or bare.startswith(m.name + "_")
                                     or bare.lower() == m.name.lower()
                                     or bare.lower().startswith(m.name.lower())):
            return m, "name"
    called = [m for m in focal_methods if m.name in test.calls and not m.is_constructor]
    return (called[0], "unique_call") if len(called) == 1 else None


def _java_methods(path: str, cls: str, source: str, split: str, *, is_test_file: bool) -> list[MethodRecord]:
    """Hand-rolled extraction for the small, regular Java files above (brace matching per method)."""
    lines = source.splitlines()
    out = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        starts = line.startswith(("public ", "private ", "protected ")) and "(" in line and line.endswith("{") \
            and " class " not in line
        if starts:
            start = i - 1 if i > 0 and lines[i - 1].strip().startswith("@") else i
            depth, j = 0, i
            while True:
                depth += lines[j].count("{") - lines[j].count("}")
                if depth == 0:
                    break
                j += 1
            sig = line[:-1].strip()
            name = sig.split("(")[0].split()[-1]
            body = textwrap.dedent("\n".join(lines[start: j + 1])) + "\n"
            calls = [c.split(".")[-1] for c in __import__("re").findall(r"([A-Za-z_][\w.]*)\s*\(", body)
                     if c.split(".")[-1] not in {"if", "for", "while", "switch", "return", name}]
            params = [p.strip().split()[-1] for p in sig.split("(")[1].rstrip(")").split(",") if p.strip()]
            out.append(MethodRecord(
                id=f"{path}::{cls}::{name}@{start + 1}", language="java", path=path, class_name=cls, name=name,
                signature=sig, params=params, return_type=None if name == cls else sig.split("(")[0].split()[-2],
                modifiers=[w for w in sig.split("(")[0].split()[:-2] if w in {"public", "private", "static"}]
                + (["@Test"] if start != i else []),
                docstring=None, body=body, start_line=start + 1, end_line=j + 1,
                is_test=is_test_file and start != i, is_constructor=name == cls, calls=calls, split=split))
            i = j
        i += 1
    return out


def _sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def build_records(copy: int = 0) -> tuple[list[MethodRecord], list[PairRecord], list[FileRecord]]:
    """All records of the hand-written project; ``copy > 0`` renames paths so copies never collide."""
    prefix = f"copy{copy}/" if copy else ""
    methods: list[MethodRecord] = []
    pairs: list[PairRecord] = []
    files: list[FileRecord] = []

    by_module: dict[str, list[MethodRecord]] = {}
    for path, src in PY_SOURCES.items():
        split = SPLIT_OF_MODULE.get(path, "train")
        recs = _python_methods(prefix + path, src, split)
        by_module[path] = recs
        methods += recs
        files.append(FileRecord(prefix + path, "python", src, _sha(src), split))
    for tpath, tsrc in PY_TESTS.items():
        module = "textkit/" + Path(tpath).name[len("test_"):]
        split = SPLIT_OF_MODULE.get(module, "train")
        tests = _python_methods(prefix + tpath, tsrc, split)
        methods += tests
        files.append(FileRecord(prefix + tpath, "python", tsrc, _sha(tsrc), split))
        focal_methods = by_module[module]
        for test in tests:
            found = _focal_for(test, focal_methods)
            if found is None:
                continue
            focal, heuristic = found
            fields = _python_fields(PY_SOURCES[module], focal.class_name)
            pairs.append(PairRecord(
                test_id=test.id, focal_id=focal.id, language="python", heuristic=heuristic,
                confidence=0.9 if heuristic == "name" else 0.7, test_path=test.path, focal_path=focal.path,
                test=test.body, focal=focal.body, context=_contexts(focal, by_module[module], fields, java=False),
                split=split))

    for (fpath, (cls, src)), (tpath, tsrc) in zip(JAVA_FOCAL.items(), JAVA_TESTS.items()):
        focal_methods = _java_methods(prefix + fpath, cls, src, "train", is_test_file=False)
        tests = _java_methods(prefix + tpath, cls + "Test", tsrc, "train", is_test_file=True)
        methods += focal_methods + tests
        files.append(FileRecord(prefix + fpath, "java", src, _sha(src), "train"))
        files.append(FileRecord(prefix + tpath, "java", tsrc, _sha(tsrc), "train"))
        fields = [line.strip() for line in src.splitlines() if line.strip().startswith("private ") and "(" not in line]
        for test in tests:
            found = _focal_for(test, focal_methods)
            if found is None:
                continue
            focal, heuristic = found
            pairs.append(PairRecord(
                test_id=test.id, focal_id=focal.id, language="java", heuristic=heuristic,
                confidence=0.9 if heuristic == "name" else 0.7, test_path=test.path, focal_path=focal.path,
                test=test.body, focal=focal.body, context=_contexts(focal, focal_methods, fields, java=True),
                split="train"))
    return methods, pairs, files


def write_dataset(out_dir: str | Path, *, copies: int = 1, repo: str = "textkit",
                  revision: str = "0123456789abcdef0123456789abcdef01234567") -> Path:
    """Write ``methods.jsonl``, ``pairs.jsonl``, ``files.jsonl`` and ``manifest.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods: list[MethodRecord] = []
    pairs: list[PairRecord] = []
    files: list[FileRecord] = []
    for copy in range(copies):
        m, p, f = build_records(copy)
        methods += m
        pairs += p
        files += f
    write_jsonl(out / FILE_NAMES[MethodRecord], methods)
    write_jsonl(out / FILE_NAMES[PairRecord], pairs)
    write_jsonl(out / FILE_NAMES[FileRecord], files)

    def sizes(records) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in records:
            counts[r.split] = counts.get(r.split, 0) + 1
        return counts

    manifest = Manifest(
        repo=repo, revision=revision, tool_version="tests.support.datasets", languages=["java", "python"],
        counts={"methods": len(methods), "pairs": len(pairs), "files": len(files)}, filters={},
        split_rule="file", split_sizes={"methods": sizes(methods), "pairs": sizes(pairs), "files": sizes(files)},
        extra={"source": "hand-written test dataset", "copies": copies})
    import json
    from dataclasses import asdict

    (out / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    return out
