"""The Java ladder: mvn -o / javac + JUnit from ~/.m2, in the sandbox."""

from __future__ import annotations

import shutil

import pytest

from codecustom.evaluation.execution import TestTarget, Workspace, get_ladder
from codecustom.evaluation.execution.java import JUnitJars, PlacementError, default_test_file, parse_generated
from codecustom.mining.records import MethodRecord, PairRecord, read_jsonl
from tests.evaluation.repos import JUPITER_TEST, java_project, make_repo, pom
from tests.support.datasets import write_dataset

JARS = JUnitJars.discover()
pytestmark = pytest.mark.skipif(not shutil.which("javac") or not (JARS.junit4 or JARS.platform),
                                reason="needs a JDK and JUnit jars in ~/.m2")


def test_generated_java_is_parsed_for_its_test_method() -> None:
    gen = parse_generated("import java.util.List;\n\n@Test\npublic void testAdd() {\n    assertEquals(2, 1 + 1);\n}\n")
    assert gen.name == "testAdd" and gen.has_test_annotation and gen.imports == ["import java.util.List;"]
    plain = parse_generated("public void testSub() { assertEquals(0, 1 - 1); }")
    assert plain.name == "testSub" and not plain.has_test_annotation
    with pytest.raises(PlacementError):
        parse_generated("int x = 1;")
    assert default_test_file("src/main/java/org/example/Counter.java", "Counter") == \
        "src/test/java/org/example/CounterTest.java"


def test_maven_project_reference_passes_and_bad_tests_fail(tmp_path) -> None:
    files = java_project()
    files["pom.xml"] = pom("junit:junit:4.13.2")
    repo, sha = make_repo(tmp_path / "repo", files)
    dataset = write_dataset(tmp_path / "ds", repo=str(repo), revision=sha)
    methods = {m.id: m for m in read_jsonl(dataset / "methods.jsonl", MethodRecord)}
    pair = next(p for p in read_jsonl(dataset / "pairs.jsonl", PairRecord) if p.test_id.endswith("testIncrement@8"))
    target = TestTarget.from_records(pair, methods[pair.focal_id])
    with Workspace.from_git(repo, sha) as ws:
        ladder = get_ladder("java")
        level, why = ladder.availability(ws)
        if "mvn" not in why or "failed" in why:
            pytest.skip(f"this ~/.m2 cannot build the project offline with Maven: {why}")
        ok = ladder.evaluate(ws, target, pair.test)
        assert (ok.built, ok.passed, ok.covered, ok.runs_passed) == (True, True, None, 3)
        assert ok.nodeid == "org.example.CounterTest#testIncrement"
        once = get_ladder("java", runs=1)
        wrong = once.evaluate(ws, target, "@Test\npublic void testIncrement() {\n    assertEquals(1, new Counter(5).increment());\n}")
        assert wrong.built and not wrong.passed and "expected:<1> but was:<6>" in wrong.reason
        broken = once.evaluate(ws, target, "@Test public void testIncrement() { int x = ; }")
        assert not broken.built and "does not compile" in broken.reason


def test_javac_project_runs_jupiter_tests_and_creates_missing_test_classes(tmp_path) -> None:
    if not JARS.platform:
        pytest.skip("no JUnit 5 jars in ~/.m2")
    files = {k: v for k, v in java_project().items() if "/main/" in k}
    files["src/test/java/org/example/WordsJupiterTest.java"] = JUPITER_TEST
    repo, sha = make_repo(tmp_path / "repo", files)
    with Workspace.from_git(repo, sha) as ws:
        ladder = get_ladder("java", runs=1)
        assert ladder.availability(ws)[0] == "run"
        target = TestTarget("java", "src/main/java/org/example/Words.java", "countWords", "Words", 11, 14,
                            "src/test/java/org/example/WordsJupiterTest.java", "WordsJupiterTest", "countsWords")
        ok = ladder.evaluate(ws, target, '@Test\nvoid countsWords() {\n    assertEquals(3, Words.countWords("a b c"));\n}')
        assert ok.passed, ok.reason
        fresh = ladder.evaluate(ws, TestTarget("java", "src/main/java/org/example/Counter.java", "reset", "Counter",
                                               15, 19),
                                "@Test\nvoid resetReturnsTheOldCount() {\n    assertEquals(5, new Counter(5).reset());\n}")
        assert fresh.passed, fresh.reason
        assert fresh.test_file == "src/test/java/org/example/CounterTest.java"
        assert "package org.example;" in fresh.test_source and "org.junit.jupiter.api.Test" in fresh.test_source
        assert not (repo / fresh.test_file).exists()  # only the temp copy got it
