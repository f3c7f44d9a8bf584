"""Test→focal rules beyond the gold fixtures: methods2test's rules done right, and where we go further."""

from __future__ import annotations

from codecustom.mining import mine_tree
from codecustom.mining.mapping import strip_test_class, name_stem
from codecustom.mining.records import PairRecord, read_jsonl


def pairs_of(tmp_path, files: dict[str, str], languages=None) -> dict[str, PairRecord]:
    out = mine_tree(((p, t.encode()) for p, t in files.items()), out=tmp_path / "ds", languages=languages)
    return {p.test_id.split("::")[-1].split("@")[0]: p for p in read_jsonl(out / "pairs.jsonl", PairRecord)}


def test_names():
    assert strip_test_class("ContestTest") == "Contest"  # only a leading/trailing Test goes
    assert strip_test_class("TestLatest") == "Latest"
    assert strip_test_class("Testament") == "Testament"
    assert strip_test_class("FooTests") == "Foo" and strip_test_class("FooIT") == "Foo"
    assert name_stem("testAddAll") == ["add", "all"] and name_stem("test_parse_line") == ["parse", "line"]
    assert name_stem("shouldRejectNull") == ["reject", "null"]


def test_path_rule_keeps_test_inside_other_names(tmp_path):
    # methods2test lower-cases the path and deletes every "test": com/latest/contest/... never matches
    pairs = pairs_of(tmp_path, {
        "src/main/java/com/latest/contest/Contest.java":
            "package com.latest.contest;\npublic class Contest { public int enter(int n) { return n; } }\n",
        "src/main/java/com/latest/other/Contest.java":
            "package com.latest.other;\npublic class Contest { public int enter(int n) { return -n; } }\n",
        "src/test/java/com/latest/contest/ContestTest.java":
            "package com.latest.contest;\nimport org.junit.Test;\npublic class ContestTest {\n"
            "  @Test public void testEnter() { new Contest().enter(1); }\n}\n",
    })
    p = pairs["testEnter"]
    assert p.focal_path == "src/main/java/com/latest/contest/Contest.java" and p.class_rule == "path"


def test_overloads_and_helper_calls_on_other_objects(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Box.java": "package a;\npublic class Box {\n"
            "  public String put(String s) { return s; }\n"
            "  public String put(String s, int times) { return s.repeat(times); }\n"
            "  public String label() { return \"box\"; }\n"
            "  @Override public String toString() { return label(); }\n}\n",
        "src/test/java/a/BoxTest.java": "package a;\nimport org.junit.jupiter.api.Test;\n"
            "import static org.junit.jupiter.api.Assertions.*;\nclass BoxTest {\n"
            "  @Test void storesTwice() { Box b = new Box(); String r = b.put(\"x\", 2); assertEquals(\"xx\", r.toString()); }\n"
            "  @Test void helpers() { StringBuilder sb = new StringBuilder(); sb.toString(); assertEquals(\"a\", \"a\".trim()); }\n"
            "  @Test void testToString() { assertEquals(\"box\", new Box().toString()); }\n}\n",
    })
    # the second overload (by argument count), not the first; r.toString() is a String's, not Box's
    assert pairs["storesTwice"].focal_signature == "public String put(String s, int times)"
    assert pairs["storesTwice"].heuristic == "unique_call"
    assert "helpers" not in pairs  # only JDK calls
    assert pairs["testToString"].focal_signature == "@Override public String toString()".replace("@Override ", "")


def test_python_reexports_and_star_imports(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/shop/__init__.py": "from .core import Cart\n",
        "src/shop/core.py": "class Cart:\n    def __init__(self):\n        self.items = []\n\n"
                            "    def add(self, item):\n        self.items.append(item)\n\n"
                            "    def total(self):\n        return len(self.items)\n",
        "src/shop/helpers.py": "def money(x):\n    return round(x, 2)\n",
        "tests/test_checkout.py": "from shop import Cart\nfrom shop.helpers import *\n\n\n"
                                  "def test_cart_counts():\n    c = Cart()\n    c.add(1)\n    assert c.total() == 1\n\n\n"
                                  "def test_rounding():\n    assert money(1.234) == 1.23\n",
    }, languages=["python"])
    assert pairs["test_cart_counts"].focal_id.startswith("src/shop/core.py::Cart::total")
    assert pairs["test_cart_counts"].heuristic == "last_call"  # add arranges, total is read before the assert
    assert pairs["test_rounding"].focal_id.startswith("src/shop/helpers.py::::money")


def test_unittest_setup_typing_and_fixture_not_focal(tmp_path):
    pairs = pairs_of(tmp_path, {
        "lib/queue.py": "class Queue:\n    def push(self, x):\n        pass\n\n    def pop(self):\n        return 1\n",
        "lib/conftest.py": "",
        "tests/conftest.py": "import pytest\nfrom lib.queue import Queue\n\n\n@pytest.fixture\ndef q():\n    return Queue()\n",
        "tests/test_queue.py": "import unittest\nfrom lib.queue import Queue\n\n\nclass QueueTest(unittest.TestCase):\n"
                               "    def setUp(self):\n        self.q = Queue()\n\n"
                               "    def test_pop(self):\n        self.q.push(1)\n        self.assertEqual(self.q.pop(), 1)\n\n\n"
                               "def test_uses_fixture(q):\n    q.push(2)\n",
    }, languages=["python"])
    assert pairs["test_pop"].focal_id.startswith("lib/queue.py::Queue::pop")
    assert pairs["test_pop"].framework == "unittest"
    assert pairs["test_uses_fixture"].focal_id.startswith("lib/queue.py::Queue::push")  # typed through the fixture
    assert not any("conftest" in p.focal_path for p in pairs.values())


def test_acts_inside_assert_throws_and_checks_inside_assertions(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Lazy.java": "package a;\npublic class Lazy {\n"
            "  public static Lazy builder() { return new Lazy(); }\n"
            "  public Lazy setSource(String s) { return this; }\n"
            "  public String get() { throw new IllegalStateException(); }\n"
            "  public int getCount() { return 0; }\n}\n",
        "src/test/java/a/LazyTest.java": "package a;\nimport org.junit.jupiter.api.Test;\n"
            "import static org.junit.jupiter.api.Assertions.*;\nclass LazyTest {\n"
            "  @Test void failsOnFirstUse() { Lazy l = Lazy.builder().setSource(\"x\");"
            " assertThrows(IllegalStateException.class, l::get); }\n"
            "  @Test void startsEmpty() { Lazy l = Lazy.builder(); l.setSource(\"y\"); assertEquals(0, l.getCount()); }\n}\n",
    })
    # the method reference assertThrows runs is the act, not the arrangement before it
    assert pairs["failsOnFirstUse"].focal_signature == "public String get()"
    # an accessor inside the assertion only checks what the arrangement made
    assert pairs["startsEmpty"].focal_signature == "public Lazy setSource(String s)"


def test_return_type_is_the_declaring_class_nested_type(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Parser.java": "package a;\npublic class Parser {\n"
            "  public static Builder builder() { return new Builder(); }\n"
            "  public static class Builder { public Parser build() { return new Parser(); }"
            " public Builder strict(boolean s) { return this; } }\n"
            "  public String parse(String s) { return s; }\n}\n",
        "src/main/java/a/Line.java": "package a;\npublic class Line {\n"
            "  public static class Builder { public Builder strict(boolean s) { return this; } }\n"
            "  public String text() { return \"\"; }\n}\n",
        "src/test/java/a/LineTest.java": "package a;\nimport org.junit.jupiter.api.Test;\n"
            "import static org.junit.jupiter.api.Assertions.*;\nclass LineTest {\n"
            "  @Test void strictParsing() { assertNotNull(Parser.builder().strict(true)); }\n}\n",
    })
    # Parser.builder() returns Parser.Builder, not the focal class Line's own nested Builder
    p = pairs["strictParsing"]
    assert p.focal_class == "Parser.Builder" and p.focal_signature == "public Builder strict(boolean s)"


def test_helper_reached_named_method_and_unseen_named_calls(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Span.java": "package a;\nimport java.util.function.Function;\npublic class Span {\n"
            "  public Span(int n) { }\n"
            "  public static long getMillis(String s) { return 0; }\n"
            "  public static long get(String s, int unit) { return 0; }\n"
            "  private static int hash(int a) { return a; }\n"
            "  public static Function<String, Integer> asFunction() { return String::length; }\n"
            "  @Override public boolean equals(Object o) { return o instanceof Span; }\n"
            "  @Override public int hashCode() { return 1; }\n}\n",
        "src/test/java/a/SpanTest.java": "package a;\nimport org.junit.jupiter.api.Test;\n"
            "import static org.junit.jupiter.api.Assertions.*;\nclass SpanTest {\n"
            "  private void check(Object a, Object b) { assertEquals(a, b); }\n"
            "  @Test void testEqualsReflexive() { Span s = new Span(1); check(s, s); }\n"
            "  @Test void testGetMilliseconds() { assertEquals(0, Span.getMillis(\"1s\")); }\n"
            "  @Test void testHashMapLookup() { Span s = new Span(2); java.util.Map<Span, String> m = new java.util.HashMap<>();"
            " m.put(s, \"x\"); assertEquals(\"x\", m.get(s)); }\n"
            "  @Test void testApplyLength() { assertEquals(3, Span.asFunction().apply(\"abc\")); }\n"
            "  @Test void testTrimEquals() { String t = \" a \".trim(); assertTrue(t.equals(Span.asFunction().toString())); }\n}\n",
    })
    # equals is reached through the helper check(); the constructor only sets up
    assert pairs["testEqualsReflexive"].focal_signature == "public boolean equals(Object o)"
    # `get` is a prefix of the getMillis the test calls: not a helper-reached `get`
    assert pairs["testGetMilliseconds"].focal_signature == "public static long getMillis(String s)"
    # a private method is never reached from a test: hashMap is not hash(int); the constructor stays
    assert pairs["testHashMapLookup"].focal_signature == "public Span(int n)"
    # calling the function a factory made runs the factory's code: it stays the focal method
    assert pairs["testApplyLength"].focal_signature.startswith("public static Function<String, Integer> asFunction()")
    # the name spells String.equals (JDK): asFunction is not what the test is about
    assert "testTrimEquals" not in pairs


def test_jdk_class_arguments_pick_the_overload_of_their_supertype(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Codec.java": "package a;\nimport java.lang.reflect.Type;\npublic class Codec {\n"
            "  public String encode(Object o, Type t) { return \"\"; }\n"
            "  public void encode(Object o, Appendable out) { }\n}\n",
        "src/main/java/a/Type.java": "package a;\npublic enum Type { A, B }\n",  # a repo type with a JDK name
        "src/test/java/a/CodecTest.java": "package a;\nimport org.junit.jupiter.api.Test;\n"
            "import static org.junit.jupiter.api.Assertions.*;\nclass CodecTest {\n"
            "  @Test void encodesAsDeclaredType() { assertEquals(\"\", new Codec().encode(1, Number.class)); }\n"
            "  @Test void encodesIntoWriter() { java.io.StringWriter w = new java.io.StringWriter();"
            " new Codec().encode(1, w); assertEquals(\"\", w.toString()); }\n}\n",
    })
    # a Class is a Type, never an Appendable; a StringWriter the other way round
    assert pairs["encodesAsDeclaredType"].focal_signature == "public String encode(Object o, Type t)"
    assert pairs["encodesIntoWriter"].focal_signature == "public void encode(Object o, Appendable out)"


def test_several_overloads_pairs_and_checks_have_no_single_focal(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Opts.java": "package a;\npublic class Opts {\n"
            "  public boolean has(char c) { return false; }\n"
            "  public boolean has(String s) { return false; }\n"
            "  public String text(String s, int n) { return s; }\n"
            "  public String text(String s) { return s; }\n"
            "  public int getWidth() { return 0; }\n  public void setWidth(int w) { }\n"
            "  public Object getKind() { return null; }\n  public void setKind(Object k) { }\n"
            "  public static long at(java.util.Calendar c, int field) { return 0; }\n}\n",
        "src/test/java/a/OptsTest.java": "package a;\nimport org.junit.jupiter.api.*;\n"
            "import static org.junit.jupiter.api.Assertions.*;\nclass OptsTest {\n  private Opts o;\n"
            "  @BeforeEach void setUp() { o = new Opts(); }\n"
            "  @Test void testHas() { assertFalse(o.has('a')); assertFalse(o.has(\"a\")); }\n"
            "  @Test void testText_String_int() { assertEquals(\"a\", o.text(\"a\", 1)); assertEquals(\"a\", o.text(\"a\")); }\n"
            "  @Test void testGetSetWidth() { o.setWidth(2); assertEquals(2, o.getWidth()); }\n"
            "  @Test void kindAfterChange() { assertNull(o.getKind()); o.setKind(\"x\"); assertEquals(\"x\", o.getKind()); }\n"
            "  @Test void initialState() { assertEquals(0, o.getWidth()); assertNull(o.getKind()); }\n"
            "  @Test void minuteField() { assertEquals(0, Opts.at(java.util.Calendar.getInstance(), java.util.Calendar.MINUTE)); }\n}\n",
    })
    assert "testHas" not in pairs  # has(char) and has(String): a test of several overloads
    assert pairs["testText_String_int"].focal_signature == "public String text(String s, int n)"  # the name picks one
    assert "testGetSetWidth" not in pairs  # a getter/setter pair
    # the first assertion only checks the initial state: the act is the setter after it
    assert pairs["kindAfterChange"].focal_signature == "public void setKind(Object k)"
    assert "initialState" not in pairs  # accessors of several methods checked, nothing acted on
    # Calendar.MINUTE is an int constant, never typed as a Calendar
    assert pairs["minuteField"].focal_signature == "public static long at(java.util.Calendar c, int field)"


def test_created_class_builder_setup_and_enum_constants(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Reader.java": "package a;\npublic interface Reader { String read(String s); }\n",
        "src/main/java/a/FastReader.java": "package a;\npublic class FastReader implements Reader {\n"
            "  public String read(String s) { return s; }\n}\n",
        "src/main/java/a/Color.java": "package a;\npublic enum Color { RED, BLUE }\n",
        "src/main/java/a/Conf.java": "package a;\npublic class Conf {\n"
            "  public static Builder builder() { return new Builder(); }\n"
            "  public static class Builder { public Builder strict() { return this; }"
            " public Builder width(int w) { return this; } public Conf build() { return new Conf(); } }\n"
            "  public String render(Reader r, String s) { return r.read(s); }\n"
            "  public static <E extends Enum<E>> long bits(Class<E> c, Iterable<? extends E> v) { return 0; }\n"
            "  @SafeVarargs public static <E extends Enum<E>> long bits(Class<E> c, E... v) { return 0; }\n}\n",
        "src/test/java/a/UsageTest.java": "package a;\nimport org.junit.jupiter.api.*;\n"
            "import static org.junit.jupiter.api.Assertions.*;\nclass UsageTest {\n  private Reader field;\n"
            "  @BeforeEach void setUp() { field = new FastReader(); }\n"
            "  @Test void readsThroughField() { assertEquals(\"a\", field.read(\"a\")); }\n"
            "  @Test void readsThroughLocal() { Reader r = new FastReader(); String s = r.read(\"b\"); assertEquals(\"b\", s); }\n"
            "  @Test void rendersConfigured() { Conf c = Conf.builder().strict().width(3).build();"
            " assertEquals(\"x\", c.render(field, \"x\")); }\n"
            "  @Test void bitsOfConstant() { assertEquals(0, Conf.bits(null, Color.RED)); }\n}\n",
    })
    # declared as the interface, created as FastReader (in setUp or at the declaration): FastReader.read runs
    assert pairs["readsThroughField"].focal_class == "FastReader"
    assert pairs["readsThroughLocal"].focal_class == "FastReader"
    # strict() and width() configure what build() makes: render is the one act
    assert pairs["rendersConfigured"].focal_signature == "public String render(Reader r, String s)"
    # an enum constant is not an Iterable: the varargs overload
    assert pairs["bitsOfConstant"].focal_signature.endswith("bits(Class<E> c, E... v)")
