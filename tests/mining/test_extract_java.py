"""Java extraction: types, members, JUnit 3/4/5 tests, typed call sites."""

from __future__ import annotations

import pytest

from codecustom.mining.extract_java import JavaExtractor, simple_type

SRC = b'''package com.acme;

import static org.junit.jupiter.api.Assertions.assertEquals;
import org.junit.jupiter.api.*;

/** Outer doc. */
public class ShapesTest extends Base implements Runnable, Cloneable {
    private final Shape shape = new Shape(2);
    static int COUNT = 0, TOTAL;

    ShapesTest() { }
    ShapesTest(int a, String... rest) { }

    /** Adds. */
    @Test
    void testArea() {
        Circle c = new Circle(1.5);
        var sq = new Square(2);
        assertEquals(3.0, c.area(), 1e-9);
        sq.scale(2, "x", 3L, null).area();
        String s = "x";
        s.toString();
        Runnable r = new Runnable() { public void run() { shape.grow(); } };
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void scales(int k) { shape.scale(k); }

    @RepeatedTest(2) void repeated() { }
    @TestFactory java.util.List<DynamicTest> factory() { return null; }
    public void helper() { }

    @Nested
    class WhenEmpty {
        @Test void isEmpty() { shape.isEmpty(); }
    }

    interface Named { String name(); default String upper() { return name().toUpperCase(); } }
    enum Color { RED, GREEN; Color next() { return GREEN; } }
    record Point(int x, int y) { Point { } int sum() { return x + y; } }
    @interface Marker { }
}
'''


@pytest.fixture(scope="module")
def facts():
    return JavaExtractor().extract("src/test/java/com/acme/ShapesTest.java", SRC, is_test_file=True)


def by_name(facts, name, cls=None):
    return next(m for m in facts.methods if m.name == name and (cls is None or m.class_name == cls))


def test_types_nested_and_kinds(facts):
    kinds = {c.qualname: c.kind for c in facts.classes}
    assert kinds == {"ShapesTest": "class", "ShapesTest.WhenEmpty": "class", "ShapesTest.Named": "interface",
                     "ShapesTest.Color": "enum", "ShapesTest.Point": "record", "ShapesTest.Marker": "annotation"}
    outer = facts.classes[0]
    assert outer.bases == ["Base", "Runnable", "Cloneable"]
    assert outer.header == "public class ShapesTest extends Base implements Runnable, Cloneable"
    assert outer.field_types == {"shape": "Shape", "COUNT": "int", "TOTAL": "int"}
    assert facts.package == "com.acme"
    assert [i.module for i in facts.imports] == ["org.junit.jupiter.api.Assertions.assertEquals", "org.junit.jupiter.api"]
    assert facts.imports[0].is_static and facts.imports[1].alias == "*"


def test_members_constructors_and_records(facts):
    ctors = [m for m in facts.methods if m.is_constructor]
    assert [(m.class_name, m.min_arity, m.max_arity) for m in ctors] == [
        ("ShapesTest", 0, 0), ("ShapesTest", 1, None), ("ShapesTest.Point", 2, 2)]
    assert ctors[1].param_types == ["int", "String..."]
    assert by_name(facts, "sum").class_name == "ShapesTest.Point"
    assert by_name(facts, "next").class_name == "ShapesTest.Color"
    assert by_name(facts, "upper").class_name == "ShapesTest.Named"
    assert by_name(facts, "name").signature == "String name()"
    # the anonymous class's run() belongs to testArea, not to a class of its own
    assert not any(m.name == "run" for m in facts.methods)
    assert "grow" in by_name(facts, "testArea").calls


def test_junit_tests_detected(facts):
    tests = {m.name for m in facts.methods if m.is_test}
    assert tests == {"testArea", "scales", "repeated", "factory", "isEmpty"}
    assert by_name(facts, "testArea").framework == "junit5"
    assert by_name(facts, "testArea").docstring == "/** Adds. */"
    assert "@Test" in by_name(facts, "testArea").modifiers
    nested = next(c for c in facts.classes if c.name == "WhenEmpty")
    assert nested.is_test_class and nested.is_nested_test


def test_call_sites_are_typed(facts):
    t = by_name(facts, "testArea")
    sites = {(s.name, s.receiver) for s in t.call_sites}
    assert ("area", ("type", "Circle")) in sites
    assert ("scale", ("type", "Square")) in sites  # `var sq = new Square(2)`
    assert ("toString", ("type", "String")) in sites  # a helper call on another object
    assert ("grow", ("type", "Shape")) not in sites  # in a callback the test defines: runs when called back
    scales = {(s.name, s.receiver) for s in by_name(facts, "scales").call_sites}
    assert ("scale", ("type", "Shape")) in scales  # field of the test class
    scale = next(s for s in t.call_sites if s.name == "scale")
    assert scale.nargs == 4 and scale.arg_types == ("int", "String", "long", "null")
    chained = [s for s in t.call_sites if s.name == "area"][-1]
    assert chained.receiver[0] == "call" and t.call_sites[chained.receiver[1]].name == "scale"
    assert t.first_assert_end is not None and t.has_assert
    # calls are in evaluation order: the argument c.area() before assertEquals
    names = t.calls
    assert names.index("area") < names.index("assertEquals")


def test_assertion_roles_of_call_sites():
    src = b'''import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.*;
import static org.assertj.core.api.Assertions.assertThat;
class PairTest {
    @Test void roles() {
        Pair p = Pair.of(1, 2);
        assertEquals(1, p.getLeft());
        assertThat(p.size()).isEqualTo(p.count());
        assertThrows(IllegalStateException.class, p::fail);
        assertEquals("x", assertThrows(RuntimeException.class, () -> p.boom()).getMessage());
    }
}'''
    f = JavaExtractor().extract("src/test/java/PairTest.java", src, is_test_file=True)
    roles = {s.name: s.assert_role for s in f.methods[0].call_sites}
    assert roles["of"] == ""  # the act before the assertions
    assert roles["getLeft"] == roles["size"] == "check"  # arguments of an assertion (JUnit and AssertJ)
    assert roles["count"] == "check"  # argument of a call chained on assertThat(...)
    assert roles["fail"] == roles["boom"] == "act"  # run by assertThrows, even inside another assertion


def test_junit3_and_junit4():
    src = b'''import junit.framework.TestCase;
public class OldTest extends TestCase {
    protected void setUp() { }
    public void testOne() { }
    public void helperNotATest(int x) { }
    private void testPrivate() { }
}'''
    f = JavaExtractor().extract("test/OldTest.java", src, is_test_file=True)
    assert {m.name for m in f.methods if m.is_test} == {"testOne"}
    assert next(m for m in f.methods if m.name == "testOne").framework == "junit3"
    assert next(m for m in f.methods if m.name == "setUp").is_setup


def test_syntax_errors_are_skipped_and_counted():
    src = b"class A { void ok() { } void broken( { } int fine() { return 1; } }"
    f = JavaExtractor().extract("A.java", src, is_test_file=False)
    assert f.root_has_error and f.syntax_errors >= 1
    assert "ok" in {m.name for m in f.methods}


def test_simple_type():
    assert simple_type("java.util.List<String>[]") == "List"
    assert simple_type("Outer.Inner") == "Inner"
    assert simple_type("final Map<K, List<V>>") == "Map"
