"""Python semantics (protocols, factories, arguments, constructors), receiver-aware matching, end-to-end entry
points and every test staying visible — each on a small repository mined through the real pipeline."""

from __future__ import annotations

from codecustom.mining import mine_tree
from codecustom.mining.records import MethodRecord, PairRecord, read_jsonl, read_manifest
from tests.mining.test_mapping import pairs_of

BAG = (
    "class Bag:\n"
    "    def __init__(self, items=()):\n        self.items = list(items)\n\n"
    "    def add(self, x):\n        return Bag(self.items + [x])\n\n"
    "    def remove(self, x):\n        items = list(self.items)\n        items.remove(x)\n        return Bag(items)\n\n"
    "    def __contains__(self, x):\n        return x in self.items\n\n"
    "    def __iter__(self):\n        return iter(self.items)\n\n"
    "    def __len__(self):\n        return len(self.items)\n\n"
    "    def __getitem__(self, i):\n        return self.items[i]\n\n"
    "    def __eq__(self, other):\n        return sorted(self.items) == sorted(other.items)\n\n"
    "    def __or__(self, other):\n        return Bag(self.items + other.items)\n\n"
    "    def __repr__(self):\n        return f'bag({self.items})'\n\n"
    "    def __call__(self, x):\n        return x in self\n\n"
    "    def __enter__(self):\n        return self\n\n"
    "    def __exit__(self, *exc):\n        return False\n\n"
    "    __le__ = __eq__\n\n\n"
    "_EMPTY = Bag()\n\n\n"
    "def bag(*items):\n    return _EMPTY if not items else Bag(items)\n\n\n"
    "def count_all(b):\n    return len(b)\n"
)


def test_protocols_map_to_the_dunder_of_the_instances_class(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/bags/__init__.py": "from .core import Bag, bag\n",
        "src/bags/core.py": BAG,
        "tests/test_core.py": (
            "from bags import Bag, bag\n\n\n"
            "def test_membership():\n    assert 2 in Bag([1, 2])\n\n\n"
            "def test_walks_items():\n    seen = [x for x in Bag([1, 2])]\n    assert seen == [1, 2]\n\n\n"
            "def test_size():\n    assert len(Bag([1])) == 1\n\n\n"
            "def test_first_item():\n    assert Bag([5])[0] == 5\n\n\n"
            "def test_union():\n    assert Bag([1]) | Bag([2]) == Bag([1, 2])\n\n\n"
            "def test_shows_items():\n    assert str(Bag([1])) == 'bag([1])'\n\n\n"
            "def test_calls_like_a_predicate():\n    b = Bag([3])\n    assert b(3)\n\n\n"
            "def test_context():\n    with Bag([1]) as b:\n        pass\n\n\n"
            "def test_order_alias():\n    assert Bag([1]) <= Bag([1])\n"),
    }, languages=["python"])
    want = {"test_membership": "__contains__", "test_walks_items": "__iter__", "test_size": "__len__",
            "test_first_item": "__getitem__", "test_union": "__or__", "test_shows_items": "__repr__",
            "test_calls_like_a_predicate": "__call__", "test_context": "__enter__", "test_order_alias": "__eq__"}
    for test, dunder in want.items():
        assert pairs[test].focal_id.startswith(f"src/bags/core.py::Bag::{dunder}@"), (test, pairs[test].focal_id)


def test_factory_built_objects_map_to_the_method_with_the_factory_in_the_context(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/bags/__init__.py": "from .core import Bag, bag\n",
        "src/bags/core.py": BAG,
        "tests/test_factory.py": (
            "from bags import bag\n\n\n"
            "def test_remove_last():\n    assert bag(1).remove(1) == bag()\n\n\n"
            "def test_empty_is_shared():\n    assert bag() is bag()\n\n\n"
            "def test_equal_in_any_order():\n    assert bag(2, 1) == bag(1, 2)\n"),
    }, languages=["python"])
    p = pairs["test_remove_last"]
    assert p.focal_id.startswith("src/bags/core.py::Bag::remove@") and p.factory_id.startswith("src/bags/core.py::::bag@")
    assert "# built by: def bag(*items)" in p.context["fm_fc_c"] and "# built by" not in p.context["fm_fc"]
    assert pairs["test_empty_is_shared"].focal_id.startswith("src/bags/core.py::::bag@")  # about the factory itself
    assert pairs["test_equal_in_any_order"].focal_id.startswith("src/bags/core.py::Bag::__eq__@")


def test_arguments_defaults_and_expected_values_are_never_the_focal(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/spec/__init__.py": "",
        "src/spec/core.py": "def run(target, spec):\n    return spec.apply(target)\n",
        "src/spec/ops.py": "class Upper:\n    def apply(self, t):\n        return t.upper()\n\n\n"
                           "class Count:\n    def __init__(self, n=1):\n        self.n = n\n\n"
                           "    def total(self, xs):\n        return len(xs) * self.n\n",
        "tests/test_ops.py": (
            "from spec.core import run\nfrom spec.ops import Upper, Count\n\n\n"
            "def test_upper():\n    assert run('a', Upper()) == 'A'\n\n\n"
            "def test_spec_held_in_a_local():\n    spec = Upper()\n    assert run('b', spec) == 'B'\n\n\n"
            "def test_total(counter=Count(2)):\n    assert counter.total([1]) == Count(2).total([1])\n"),
    }, languages=["python"])
    # the spec is an argument of the entry point: run is what the test drives (an end-to-end test, lower confidence)
    assert pairs["test_upper"].focal_id.startswith("src/spec/core.py::::run@")
    assert pairs["test_upper"].heuristic == "entry_point" and pairs["test_upper"].confidence == 0.5
    assert pairs["test_spec_held_in_a_local"].focal_id.startswith("src/spec/core.py::::run@")
    # a default value and the expected side of the assertion only set up
    assert pairs["test_total"].focal_id.startswith("src/spec/ops.py::Count::total@")


def test_constructor_only_when_the_test_is_about_construction(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/shapes.py": "class Box:\n    def __init__(self, w, h):\n        if w < 0:\n            raise ValueError(w)\n"
                         "        self.w, self.h = w, h\n\n    def area(self):\n        return self.w * self.h\n",
        "tests/test_shapes.py": (
            "import pytest\nfrom shapes import Box\n\n\n"
            "def test_rejects_negative_width():\n    with pytest.raises(ValueError):\n        Box(-1, 2)\n\n\n"
            "def test_keeps_sizes():\n    b = Box(2, 3)\n    assert b.w == 2 and b.h == 3\n\n\n"
            "def test_area():\n    assert Box(2, 3).area() == 6\n"),
    }, languages=["python"])
    assert pairs["test_rejects_negative_width"].focal_id.startswith("src/shapes.py::Box::__init__@")
    assert pairs["test_keeps_sizes"].focal_id.startswith("src/shapes.py::Box::__init__@")  # only reads what it made
    assert pairs["test_area"].focal_id.startswith("src/shapes.py::Box::area@")


def test_a_class_named_first_in_the_test_name_and_dataclass_defaults(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/bags/__init__.py": "from .core import Bag, bag\n",
        "src/bags/core.py": BAG,
        "src/money.py": (
            "from dataclasses import dataclass\nfrom decimal import Decimal\n\n\n@dataclass(frozen=True)\nclass Money:\n"
            "    amount: Decimal = Decimal(0)\n\n    def times(self, k):\n        return Money(self.amount * k)\n"),
        "tests/test_misc.py": (  # names no module: no focal scope but the classes the test builds
            "from decimal import Decimal\nfrom bags import Bag\nfrom money import Money\n\n\n"
            "def test_bag_eq():\n    assert Bag([1, 2]) == Bag([2, 1])\n    assert Bag([1]) != Bag([2])\n\n\n"
            "def test_times():\n    assert Money(Decimal(2)).times(3).amount == Decimal(6)\n"),
    }, languages=["python"])
    assert pairs["test_bag_eq"].focal_id.startswith("src/bags/core.py::Bag::__eq__@")
    # a field's default value is not a descriptor: reading `.amount` on the result is a plain read
    assert pairs["test_times"].focal_id.startswith("src/money.py::Money::times@")


def test_java_receiver_types_decide_and_lambdas_bind_nothing(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/a/Store.java": (
            "package a;\nimport java.util.*;\npublic class Store {\n"
            "  private final Map<String, Integer> m = new HashMap<>();\n"
            "  public Integer get(String k) { return m.get(k); }\n"
            "  public void put(String k, int v) { m.put(k, v); }\n"
            "  public Map<String, Integer> asMap() { return m; }\n}\n"),
        "src/main/java/a/Conv.java": (
            "package a;\npublic interface Conv {\n  Conv UPPER = s -> s.toUpperCase();\n  String apply(String s);\n}\n"),
        "src/test/java/a/StoreTest.java": (
            "package a;\nimport org.junit.jupiter.api.Test;\nimport static org.junit.jupiter.api.Assertions.*;\n"
            "class StoreTest {\n"
            "  @Test void viewLookup() { Store s = new Store(); s.put(\"a\", 1); var view = s.asMap(); "
            "assertEquals(1, view.get(\"a\")); }\n}\n"),
        "src/test/java/a/ConvTest.java": (
            "package a;\nimport org.junit.jupiter.api.Test;\nimport static org.junit.jupiter.api.Assertions.*;\n"
            "class ConvTest {\n  @Test void upper() { assertEquals(\"A\", Conv.UPPER.apply(\"a\")); }\n}\n"),
    }, languages=["java"])
    # `get` is called on the Map asMap() returned, never on a Store: Store.get is not the focal method
    assert not pairs.get("viewLookup") or "::get(" not in pairs["viewLookup"].focal_signature
    assert "upper" not in pairs  # the constant's body is a lambda: no method to map to


def test_java_end_to_end_tests_get_their_entry_point(tmp_path):
    pairs = pairs_of(tmp_path, {
        "src/main/java/x/Template.java": (
            "package x;\npublic class Template {\n  private final String src;\n"
            "  Template(String src) { this.src = src; }\n"
            "  public String render(String name) { return src.replace(\"{}\", name); }\n}\n"),
        "src/main/java/x/Compiler.java": (
            "package x;\npublic class Compiler {\n  private boolean strict;\n"
            "  public Compiler strict(boolean s) { this.strict = s; return this; }\n"
            "  public Template compile(String src) { return new Template(src); }\n}\n"),
        "src/test/java/x/CompilerTest.java": (
            "package x;\nimport org.junit.Test;\nimport static org.junit.Assert.*;\npublic class CompilerTest {\n"
            "  @Test public void greets() {\n"
            "    String out = new Compiler().strict(true).compile(\"hi {}\").render(\"bo\");\n"
            "    assertEquals(\"hi bo\", out);\n  }\n}\n"),
    }, languages=["java"])
    p = pairs["greets"]
    assert p.focal_signature == "public String render(String name)" and p.heuristic == "entry_point"
    assert p.confidence == 0.5


def test_every_test_stays_visible_and_duplicates_are_counted(tmp_path):
    body = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    out = mine_tree([("calc.py", b"def add(a, b):\n    return a + b\n"), ("tests/test_a.py", body.encode()),
                     ("other/test_a.py", body.encode())], out=tmp_path / "ds", languages=["python"])
    tests = [m for m in read_jsonl(out / "methods.jsonl", MethodRecord) if m.is_test]
    assert len(tests) == 2 and sum(m.duplicate_of is not None for m in tests) == 1
    man = read_manifest(out)
    assert man.counts["tests_duplicate"] == 1 and man.counts["tests_written"] == 2
    pairs = list(read_jsonl(out / "pairs.jsonl", PairRecord))
    assert len(pairs) == 1 and man.counts["duplicate_pairs"] == 1  # the identical pair is written once, and counted
    assert set(man.extra["duplicate_pairs"].values()) == {pairs[0].test_id}
