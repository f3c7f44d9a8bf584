"""Python extraction: functions, nested classes, decorators, docstrings, pytest/unittest tests, fixtures."""

from __future__ import annotations

import pytest

from codecustom.mining.extract_python import PythonExtractor, is_test_path, module_name

SRC = b'''"""Module doc."""
import os, pkg.sub as ps
from pkg.calc import Calc, add as plus
from . import helpers
from .util import *
if os.name == "nt":
    import ntpath

LIMIT = 3


@pytest.fixture
def calc() -> Calc:
    """Fixture doc."""
    return Calc(1)


def test_with_fixture(calc):
    assert calc.add(1, 2) == 3


@pytest.mark.parametrize("a, b", [(1, 2)])
def test_plus(a, b):
    r = plus(a, b)
    assert r == 3
    with pytest.raises(ValueError):
        plus("a", None)
    assert str(Calc(2)) == "2"


class TestCalc:
    precision: int = 2

    @pytest.fixture(autouse=True)
    def setup(self):
        self.c = Calc()

    def test_sub(self, *args, k=1, **kw):
        x = self.c.sub(1)
        d = Calc.from_dict({})
        d.mul(2).div(3)

    class TestInner:
        def test_inner(self):
            def nested_helper():
                return ps.zap()
            nested_helper()


class CalcTests(unittest.TestCase):
    def setUp(self):
        self.m = Calc()

    def testCamel(self):
        self.assertRaises(ValueError, self.m.div, 1, 0)
        self.assertEqual(self.m.mul(2), 4)

    def helper(self):
        return 1


def broken(:
    pass
'''


@pytest.fixture(scope="module")
def facts():
    return PythonExtractor().extract("tests/test_calc.py", SRC, is_test_file=True)


def m(facts, name):
    return next(x for x in facts.methods if x.name == name)


def test_imports_resolved_to_modules(facts):
    got = [(i.module, i.name, i.alias) for i in facts.imports]
    assert got == [("os", None, "os"), ("pkg.sub", None, "ps"), ("pkg.calc", "Calc", "Calc"),
                   ("pkg.calc", "add", "plus"), ("tests", "helpers", "helpers"), ("tests.util", "*", "*"),
                   ("ntpath", None, "ntpath")]


def test_definitions(facts):
    assert [c.qualname for c in facts.classes] == ["TestCalc", "TestCalc.TestInner", "CalcTests"]
    assert facts.classes[0].fields == ["precision: int = 2"]
    assert facts.classes[2].bases == ["TestCase"]
    names = [x.name for x in facts.methods]
    assert "nested_helper" not in names  # nested functions belong to their enclosing function
    assert "broken" not in names and facts.syntax_errors == 1 and facts.root_has_error
    fx = m(facts, "calc")
    assert fx.is_fixture and not fx.is_test and fx.docstring == "Fixture doc." and fx.modifiers == ["@pytest.fixture"]
    assert fx.return_type == "Calc" and fx.signature == "def calc() -> Calc"
    sub = m(facts, "test_sub")
    assert sub.class_name == "TestCalc" and sub.params == ["*args", "k=1", "**kw"] and sub.max_arity is None
    assert sub.body.startswith("def test_sub(self") and "\n    x = self.c.sub(1)" in sub.body  # dedented
    assert facts.module_fields == ["LIMIT = 3"]


def test_tests_and_frameworks(facts):
    tests = {x.name: x.framework for x in facts.methods if x.is_test}
    assert tests == {"test_with_fixture": "pytest", "test_plus": "pytest", "test_sub": "pytest",
                     "test_inner": "pytest", "testCamel": "unittest"}
    assert not m(facts, "helper").is_test
    assert m(facts, "setUp").is_setup and m(facts, "setup").is_setup


def test_call_sites_are_typed(facts):
    def sites(name):
        return [(s.name, s.receiver) for s in m(facts, name).call_sites]
    assert ("add", ("fixture", "calc")) in sites("test_with_fixture")
    assert ("plus", ("global",)) in sites("test_plus")
    plus_sites = m(facts, "test_plus").call_sites
    dunder = next(x for x in plus_sites if x.name == "__str__")  # str(x) -> x.__str__()
    assert dunder.receiver[0] == "call" and plus_sites[dunder.receiver[1]].name == "Calc"
    s = sites("test_sub")
    assert ("sub", ("selfattr", "c")) in s and ("from_dict", ("static", "Calc")) in s
    assert ("mul", ("result", "Calc.from_dict")) in s
    assert s[-1][0] == "div" and s[-1][1][0] == "call"
    camel = sites("testCamel")
    assert ("div", ("selfattr", "m")) in camel  # the callable passed to assertRaises is called
    assert facts.fixture_types == {"calc": ("result", "Calc")}
    assert facts.classes[0].attr_types == {"c": ("result", "Calc")}
    t = m(facts, "test_plus")
    assert t.has_assert and t.first_assert_end is not None


def test_paths():
    assert is_test_path("tests/test_x.py") and is_test_path("pkg/x_test.py") and is_test_path("conftest.py")
    assert not is_test_path("pkg/testing.py")
    assert module_name("src/pkg/mod.py") == "src.pkg.mod" and module_name("pkg/__init__.py") == "pkg"
