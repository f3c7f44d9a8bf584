"""Test→focal mapping: the heuristics, shared by every language.

A language's *focal rules* (focal_java.py, focal_python.py) find the focal class/module of a test (its
``FocalScope``) and type the test's call sites into ``Resolved`` calls. This module then picks the focal
method, in order:

1. ``name``        the test's name without its test affix names a method of the focal class/module
                   (testAdd → add, test_add → add, a JUnit 5 test named `add`, or the @Nested / pytest
                   class name: `class Add` → add; also after a leading focal class name: testPairOf → of
                   in MutablePairTest); overloads resolved by the calls the test makes;
2. ``name_prefix`` the name starts with a called focal method (testAddNegative → add), unless it names two
                   (testAddAndRemove: no single focal method); or with a focal method the test reaches only
                   through a helper (testEqualsTrue calling checkEquals) when its own calls just build objects
                   or check them inside assertions;
3. ``unique_call`` the test calls exactly one method of the focal class (typed receivers only, so
                   `other.toString()` or `assertEquals` never count) — methods2test's rule, made type-aware;
4. ``last_call``   the last focal method called before the end of the first assertion (the "act" of
                   arrange-act-assert), unless another method is acted on after it (no single focal method);
                   accessors inside an assertion's arguments are checks and rank below any act or factory;
5. ``untyped_call`` nothing typed, but exactly one call by name on an unknown receiver matches the focal
                   class (lower confidence).

Calls on the focal class that bind to inherited methods count as focal-class calls. When the test's name
spells a method it calls on a JDK/library type (testNotEquals calling Type.equals), heuristics 3-5 map
nothing rather than a different method (``named_call_unseen``).

Each pair records the heuristic, how the focal class was found (``class_rule``) and a confidence.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from codecustom.mining.facts import CallSite
from codecustom.mining.index import ClassRef, CodeIndex, MethodRef, ModuleRef, TestRef

CONFIDENCE = {
    "name": 0.95,
    "name_uncalled": 0.8,
    "name_prefix": 0.85,
    "name_prefix_uncalled": 0.75,
    "unique_call": 0.85,
    "last_call": 0.65,
    "untyped_call": 0.55,
    "entry_point": 0.5,
}
# dunders as the words a test name spells them with (test_eq, test_equality, test_repr, test_len, test_iteration)
DUNDER_WORDS = {
    "__eq__": ("eq", "equal", "equals", "equality"), "__ne__": ("ne", "notequal", "notequals", "inequality"),
    "__lt__": ("lt", "lessthan"), "__le__": ("le",), "__gt__": ("gt", "greaterthan"), "__ge__": ("ge",),
    "__hash__": ("hash", "hashing"), "__repr__": ("repr",), "__str__": ("str",), "__len__": ("len", "length"),
    "__iter__": ("iter", "iteration", "iterate", "iterator"), "__contains__": ("contains", "in", "membership"),
    "__getitem__": ("getitem", "indexing", "subscript", "slicing", "slice"), "__setitem__": ("setitem",),
    "__delitem__": ("delitem",), "__bool__": ("bool", "truthiness"), "__call__": ("call",),
    "__add__": ("add", "plus", "addition"), "__sub__": ("sub", "minus", "subtraction"), "__or__": ("or", "union"),
    "__and__": ("and", "intersection"), "__xor__": ("xor",), "__mul__": ("mul", "multiplication"),
    "__copy__": ("copy",), "__deepcopy__": ("deepcopy",), "__reduce__": ("pickle", "pickling"),
    "__reduce_ex__": ("pickle", "pickling"), "__dir__": ("dir",), "__getattr__": ("getattr",),
    "__enter__": ("enter", "context"), "__next__": ("next",), "__reversed__": ("reversed",),
}
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# Name shapes of calls for `last_call`: reading state (accessors), setting a scene up (arrangement), and
# factories (static of/from/valueOf..., builder create()/build()), which only make the object under test.
ACCESSOR = re.compile(r"^((get|is|has)([A-Z_]|$)|(size|length|count|contains|equals|hashCode|toString|keys|values|"
                      r"items)$|(to|as)_[a-z]|__(len|eq|ne|repr|str|hash|contains|iter|getitem|bool)__$)")
ARRANGE = re.compile(r"^((set|with|add|put|push|register|append|insert|init)([A-Z_]|$))")
FACTORY = re.compile(r"^((of|from|valueOf|copyOf|newInstance|getInstance|builder|create|build)$|new[A-Z])")
# calls that turn a configured builder into the object it builds
TERMINAL = {"build", "create", "get"}
# single abstract methods of the JDK's functional interfaces
FUNCTIONAL = {"apply", "accept", "test", "get", "run", "call", "compare", "applyasint", "applyaslong",
              "applyasdouble", "getasint", "getaslong", "getasdouble", "getasboolean"}
CTOR_WORDS = {"constructor", "ctor", "init", "instantiation", "instantiate", "construction", "new", "creation"}
CONJUNCTIONS = {"and", "then", "or", "vs", "plus"}


@dataclass
class FocalScope:
    """Where a test's focal method is expected: classes (primary first) and, for Python, modules."""

    classes: list[ClassRef] = field(default_factory=list)
    modules: list[ModuleRef] = field(default_factory=list)
    rule: str = "none"
    name_hints: list[str] = field(default_factory=list)  # extra names for `name` (nested / grouping class)
    _by_norm: dict[str, list[MethodRef]] | None = field(default=None, repr=False, compare=False)

    def contains(self, m: MethodRef) -> bool:
        """Whether a method belongs to a focal class (or a class nested in one) or a focal module."""
        c: ClassRef | None = m.cls
        while c is not None:
            if any(c is s for s in self.classes):
                return True
            c = c.outer
        return any(m.path == mod.path for mod in self.modules)

    def contains_class(self, cls: ClassRef) -> bool:
        c: ClassRef | None = cls
        while c is not None:
            if any(c is s for s in self.classes):
                return True
            c = c.outer
        return any(cls.path == mod.path for mod in self.modules)

    def named(self, stem: str) -> list[MethodRef]:
        """Candidate focal methods whose normalised name is ``stem`` (index built once per scope); a dunder is named
        by its words (`eq`, `equality` -> `__eq__`), so `add` never finds `__add__` next to an `add` method."""
        if self._by_norm is None:
            self._by_norm = {}
            for m in self.methods():
                for key in name_keys(m.name):
                    self._by_norm.setdefault(key, []).append(m)
            for found in self._by_norm.values():
                plain = [m for m in found if not is_dunder(m.name)]
                if plain and len(plain) < len(found):
                    found[:] = plain
        return self._by_norm.get(stem, [])

    def methods(self) -> list[MethodRef]:
        """Candidate focal methods: the focal classes', else the focal modules' functions and methods."""
        out: list[MethodRef] = []
        for c in self.classes:
            out.extend(c.methods)
        if not out:
            for mod in self.modules:
                for fs in mod.functions.values():
                    out.extend(fs)
                for c in mod.classes.values():
                    out.extend(c.methods)
        return [m for m in out if not m.is_test and not m.is_fixture]


@dataclass
class Resolved:
    """One call site of a test, typed: the methods it can bind to."""

    index: int
    site: CallSite
    cls: ClassRef | None  # the receiver's class (or the constructed class)
    targets: list[MethodRef]  # overloads left after arity/type filtering
    strong: bool  # receiver type known (not a guess by name)
    in_scope: bool = False
    configures: bool = False  # a fluent configuration call whose object a build()/create()/get() then makes
    value: object = None  # what the call returns, when the language rules know (Python)
    factory: bool = False  # a function that builds the object a test exercises (Python: returns a repo instance)
    setup: bool = False  # only makes an input: an argument of another repository call, an assertion's expected side
    helper: bool = False  # a call of the test's own helper method or function
    unseen: bool = False  # runs repository behaviour we cannot bind (a descriptor, a method of an untyped result)
    navigates: bool = False  # a dynamic attribute read whose value is only called into
    produces: bool = False  # returns (an object of another class) what the test then acts on

    @property
    def method(self) -> MethodRef | None:
        return self.targets[0] if len(self.targets) == 1 else None


@dataclass
class Mapping:
    test: TestRef
    focal: MethodRef
    heuristic: str
    confidence: float
    class_rule: str
    factory: MethodRef | None = None  # the function that built the object the focal method runs on (Python)


class FocalRules(Protocol):
    """Language hooks for the mapper."""

    def prepare(self, index: CodeIndex) -> None: ...
    def scope(self, test: TestRef) -> FocalScope: ...
    def resolve(self, test: TestRef, scope: FocalScope) -> list[Resolved]: ...


@functools.lru_cache(maxsize=65536)
def _words(name: str) -> tuple[str, ...]:
    out: list[str] = []
    for part in re.split(r"[_\W]+", name):
        out.extend(w.lower() for w in _CAMEL.findall(part))
    return tuple(out)


def words(name: str) -> list[str]:
    """`testAddNegative_numbers` -> ['test', 'add', 'negative', 'numbers']."""
    return list(_words(name))


def norm(name: str) -> str:
    return name.replace("_", "").lower()


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


@functools.lru_cache(maxsize=65536)
def name_keys(name: str) -> tuple[str, ...]:
    """The normalised names a test name may call a method by: itself, and for a dunder the words for it."""
    if is_dunder(name):
        return DUNDER_WORDS.get(name, (norm(name),))
    return (norm(name),)


def name_stem(name: str) -> list[str]:
    """The words of a test's name without its test affix (`test`, `should`, `it`, ...)."""
    ws = words(name)
    while ws and ws[0] in ("test", "tests", "should", "it", "check", "verify", "when"):
        ws = ws[1:]
    if ws and ws[-1] in ("test", "tests"):
        ws = ws[:-1]
    return ws


def strip_test_class(name: str) -> str:
    """`CalculatorTest` / `TestCalculator` / `CalculatorTests` / `CalculatorIT` -> `Calculator` (name only)."""
    for suffix in ("TestCase", "Tests", "Test", "ITCase", "IT", "Spec"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    if name.startswith("Test") and len(name) > 4 and (name[4].isupper() or name[4] == "_"):
        return name[4:].lstrip("_")
    return name


class Mapper:
    """Runs the heuristics over every test in the index."""

    def __init__(self, index: CodeIndex, rules: dict[str, FocalRules]) -> None:
        self.index = index
        self.rules = rules
        for r in rules.values():
            r.prepare(index)
        self.unmapped: Counter[str] = Counter()
        self.class_rules: Counter[str] = Counter()

    def run(self) -> list[Mapping]:
        out = []
        for test in self.index.tests:
            rules = self.rules.get(test.method.language)
            if rules is None:
                continue
            result = self.map_test(test, rules)
            if isinstance(result, Mapping):
                out.append(result)
            else:
                self.unmapped[result] += 1
        return out

    def map_test(self, test: TestRef, rules: FocalRules) -> Mapping | str:
        """The focal method of one test, or the reason there is none."""
        scope = rules.scope(test)
        resolved = rules.resolve(test, scope)
        for r in resolved:
            r.targets = [m for m in r.targets if not m.is_test and not m.is_fixture and not m.in_test_file]
            # a call on the focal class that binds to a method it inherits (HelpFormatter.printHelp declared in
            # AbstractHelpFormatter) exercises the focal class too
            r.in_scope = bool(r.targets) and (scope.contains(r.targets[0]) or (
                not r.site.is_new and r.strong and r.cls is not None and scope.contains_class(r.cls)))
        _mark_setup(resolved)
        _mark_navigation(resolved)
        _mark_producers(resolved)
        _mark_configuration(resolved, scope)
        strong = [r for r in resolved if r.strong and r.targets and not r.setup]
        in_scope = [r for r in strong if r.in_scope]
        pool = in_scope or strong
        rule = scope.rule if in_scope or not strong else "receiver"

        def done(m: MethodRef, heuristic: str, conf_key: str | None = None) -> Mapping | str:
            mine = {r.index for r in resolved if m in r.targets}
            if any(r.unseen and r.site.receiver[0] == "call" and r.site.receiver[1] in mine for r in resolved):
                return "unseen_call"  # the test goes on to call, on what m returned, a method we cannot bind
            conf = CONFIDENCE[conf_key or heuristic]
            if rule == "receiver" and heuristic != "entry_point":  # an entry point is always found that way: 0.5
                conf -= 0.1
            return Mapping(test, m, heuristic, round(conf, 2), rule, _factory_of(m, resolved))

        # 1. name
        names = [test.method.name] + scope.name_hints
        for k, nm in enumerate(names):
            stem = name_stem(nm) if k == 0 else words(strip_test_class(nm))
            if not stem:
                continue
            hit = self._by_name("".join(stem), scope, pool, test, is_class_name=k > 0)
            if isinstance(hit, MethodRef):
                called = any(hit in r.targets for r in pool)
                # a function the test is named after, called to make an argument (test_repeatedly: take(2,
                # repeatedly(f))) is what it tests; a spec object's method passed to an engine is not
                called = called or (k == 0 and hit.cls is None and any(hit in r.targets for r in resolved
                                                                        if r.setup and r.strong))
                # uncalled: only a method with a body, when the test acts on nothing else we can see
                if called or (not _acts(strong) and hit.has_body):
                    return done(hit, "name", None if called else "name_uncalled")
            if hit in ("ambiguous_overload", "multi_overload"):
                return hit
        stem = name_stem(test.method.name)
        rest = self._after_class_name(stem, scope, pool)
        if rest:  # testPairOfObjects in MutablePairTest: the name is `Pair` + `of...`
            hit = self._by_name("".join(rest), scope, pool, test, is_class_name=False)
            if isinstance(hit, MethodRef) and (any(hit in r.targets for r in pool) or not _acts(strong)):
                return done(hit, "name", None if any(hit in r.targets for r in pool) else "name_uncalled")
            if hit == "multi_overload":
                return hit
        # the name joins two called methods (testPushThenPop, test_parse_and_format, test_read_seek): no single focal
        if self._conjunction(stem, strong) or _leading_pair(stem, strong):
            return "conjunction"
        # testGetSetNewLineText: the name names a getter/setter pair the test calls (no single focal method)
        if _names_property_pair(stem, strong):
            return "getter_setter"
        # 2. name_prefix (functions the test calls to declare its own classes count: test_pset_field_default)
        declared = [r for r in resolved if r.setup and r.site.assert_role == "declaration" and r.targets and r.strong]
        called = {key: r for r in pool + declared if not r.site.is_new for key in name_keys(r.targets[0].name)}
        stems = [(stem, len(stem) - 1)] + ([(rest, len(rest))] if rest else [])
        for ws, longest in stems:
            for k in range(longest, 0, -1):
                r = called.get("".join(ws[:k]))
                if r is None:
                    continue
                m = self._one_overload(r.targets[0].name, pool + declared, test)
                if isinstance(m, MethodRef):
                    return done(m, "name_prefix")
                return m
        # a test that only expects an exception (@Test(expected = E.class)) and calls several methods: which one
        # throws cannot be read from the code
        if _expects_exception(test):
            throwers = {(_owner(r.targets[0]), r.targets[0].name) for r in strong if not r.site.is_new}
            if len(throwers) > 1:
                return "exception_source"
        # a constructor test: `testConstructorWithPrecision`, `test_init_rejects_negative`
        if stem and stem[0] in CTOR_WORDS and scope.classes and scope.classes[0].constructors():
            hit = self._pick_ctor(scope.classes[0].constructors(), pool)
            return done(hit, "name") if isinstance(hit, MethodRef) else hit
        if stem and stem[0] in CTOR_WORDS - {"new"} and not scope.classes:  # module scope: the class the test builds
            made = {id(t): t for r in pool if r.site.is_new for t in r.targets}
            if made and len({_owner(t) for t in made.values()}) == 1:
                hit = self._pick_ctor(list(made.values()), pool)
                return done(hit, "name") if isinstance(hit, MethodRef) else hit
        # the name starts with a focal method the test reaches only through a helper (testEqualsTrue calling
        # checkEquals(...)), while its own calls only build or read objects
        if not any(not r.site.is_new and _kind(r) >= 0 for r in pool):
            for ws, longest in stems:
                hit = self._uncalled_prefix(ws, longest, scope, pool, test)
                if hit is not None:
                    return done(hit, "name_prefix", "name_prefix_uncalled") if isinstance(hit, MethodRef) else hit
        # the name names a method the test calls on an object whose class we cannot see (testNotEquals calling
        # Type.equals): that call is under test, so any other method we would pick is not the focal method
        unseen_named = self._named_unseen_calls(stem, resolved)
        if unseen_named:
            plain_done = done

            def done(m: MethodRef, heuristic: str, conf_key: str | None = None) -> Mapping | str:
                if norm(m.name) not in unseen_named:
                    return "named_call_unseen"
                return plain_done(m, heuristic, conf_key)
        # an end-to-end test: it builds its input and configuration with the focal class/module (or has none) and
        # acts through one method elsewhere (glom(target, Flatten()), new ExpressionBuilder(s).build().evaluate()):
        # that entry point, at a lower confidence
        entry = self._entry_point(test, strong, in_scope) if scope.classes or scope.modules else None
        if entry is not None:
            if isinstance(entry, MethodRef):
                rule = "receiver"
                return done(entry, "entry_point")
            return entry
        # a test whose every call on repository code is an accessor inside an assertion, of several methods, only
        # checks state its set-up made (parsing in setUp, then hasOption and getOptionValue): no single focal method
        checks = [r for r in pool if not r.site.is_new]
        if checks and len(checks) == len(pool) and all(_kind(r) == -2 for r in checks):
            if len({(_owner(r.targets[0]), r.targets[0].name) for r in checks}) > 1:
                return "checks_only"
        # a test that only reads what it made is about making it: the constructor or factory (test_instantiate,
        # BoxList(rows) then len/[0]); unless it calls something on it we cannot see (count = Sequence.count)
        made = self._made_only(pool, resolved, test)
        if made is not None:
            return done(made, "unique_call") if isinstance(made, MethodRef) else made
        # 3. unique_call (factories only when the test calls nothing else: then it is about the factory)
        acting = [r for r in pool if not r.site.is_new and not r.factory and not r.configures and not _is_check(r)]
        if not acting:
            acting = [r for r in pool if not r.site.is_new]
        distinct = {id(t): t for r in acting for t in r.targets}
        groups = {(t.cls.key if t.cls else t.path, t.name) for t in distinct.values()}
        if len(groups) == 1:
            m = self._one_overload(next(iter(distinct.values())).name, acting, test)
            return done(m, "unique_call") if isinstance(m, MethodRef) else m
        # calls on the focal class that bind to nothing we can see (implicit record accessors, inherited
        # library methods) mean the test exercises more than a constructor
        unseen = any(r.strong and not r.targets and not r.site.is_new and r.cls is not None and scope.contains_class(r.cls)
                     for r in resolved)
        helpers = any(r.helper for r in resolved)  # a helper of the test class gets the object and does the work
        if not groups and not unseen and not helpers:
            ctors = {id(t): t for r in pool if r.site.is_new for t in r.targets}
            if len({t.cls.key if t.cls else t.path for t in ctors.values()}) == 1 and len(ctors) >= 1:
                picked = {id(r.targets[0]) for r in pool if r.site.is_new and len(r.targets) == 1}
                if len(picked) == 1:
                    return done(ctors[picked.pop()], "unique_call")
                return "ambiguous_overload"
        # 4. last_call
        if groups:
            return self._last_call(test, pool, done)
        # 5. untyped_call
        weak = [r for r in resolved if not r.strong and r.targets and r.in_scope]
        names_w = {r.targets[0].name for r in weak}
        if len(names_w) == 1:
            m = self._one_overload(names_w.pop(), weak, test)
            if isinstance(m, MethodRef):
                return done(m, "untyped_call")
            return m
        return "no_candidates" if not names_w else "ambiguous"

    def _made_only(self, pool: list[Resolved], resolved: list[Resolved], test: TestRef) -> MethodRef | str | None:
        """The constructor or factory of a test whose other calls only read (accessors, properties, checks)."""
        makers = [r for r in pool if r.site.is_new or r.factory]
        readers = [r for r in pool if not r.site.is_new and not r.factory]
        if not makers or any(r.helper for r in resolved):
            return None
        for r in readers:
            recv = r.site.receiver
            navigated = recv[0] == "call" and isinstance(recv[1], int) and recv[1] < len(resolved) \
                and not resolved[recv[1]].site.is_new and not resolved[recv[1]].factory
            # a lookup on what a read returned (url.query_params['rock']) only navigates
            if not (_plain_read(r) or (navigated and _kind(r) <= 0 and not r.configures)):
                return None
        if any(r.unseen or (r.strong and not r.targets and not r.site.is_new and not r.site.protocol and r.cls is not None
                            and not r.setup) for r in resolved):
            return "unseen_call"  # it acts on what it made through a method we cannot see
        owners = {(_owner(t), t.name) for r in makers for t in r.targets}
        if len(owners) != 1:
            return None
        if makers[0].site.is_new:
            ctors = [t for r in makers for t in r.targets]
            return self._pick_ctor(list({id(t): t for t in ctors}.values()), pool)
        return self._one_overload(makers[0].targets[0].name, makers, test)

    def _entry_point(self, test: TestRef, strong: list[Resolved], in_scope: list[Resolved]) -> MethodRef | str | None:
        """The one method a test drives the library through when its own acts (before its first assertion ends) all
        lie outside the focal class/module while the focal scope only arranges (constructors, factories,
        configuration, arguments) or is checked later; None when that is not the test's shape."""
        acts = [r for r in strong if not r.in_scope and not r.site.is_new and _kind(r) >= 1]
        if not acts:
            return None
        limit = test.first_assert_end
        own = [r for r in in_scope if not r.site.is_new and _kind(r) >= 0 and not r.factory and not r.configures]
        if own and (limit is None or any(r.site.end <= limit for r in own)):
            return None  # the focal scope is acted on: the ordinary heuristics decide
        first = [r for r in acts if limit is None or r.site.end <= limit] or acts
        best = max(_kind(r) for r in first)
        chosen = [r for r in first if _kind(r) == best][-1]
        key = (_owner(chosen.targets[0]), chosen.targets[0].name)
        if any((_owner(r.targets[0]), r.targets[0].name) != key for r in acts if _kind(r) == 2):
            return "multi_act"
        return self._one_overload(chosen.targets[0].name, acts, test)

    @staticmethod
    def _after_class_name(stem: list[str], scope: FocalScope, pool: list[Resolved]) -> list[str]:
        """The words after a leading (tail of the) focal class name: `pair of objects` in MutablePairTest -> `of objects`;
        in a module scope, after the whole name of one of its classes (`FunctionBuilder add arg` -> `add arg`); with
        no focal scope, after the whole name of a class the test constructs (test_path_eq_t building Path)."""
        if len(stem) < 2:
            return []
        if not scope.classes:
            classes = [c for mod in scope.modules for c in mod.classes.values()]
            if not scope.modules:
                classes = list({id(t.cls): t.cls for r in pool if r.site.is_new for t in r.targets
                                if t.cls is not None}.values())
            for cls in classes:
                cw = list(_words(cls.name))
                if len(stem) > len(cw) and stem[:len(cw)] == cw:
                    return stem[len(cw):]
            return []
        cw = list(_words(scope.classes[0].name))
        for j in range(len(cw)):
            tail = cw[j:]
            if len(stem) > len(tail) and stem[:len(tail)] == tail:
                return stem[len(tail):]
        return []

    def _uncalled_prefix(self, ws: list[str], longest: int, scope: FocalScope, pool: list[Resolved],
                         test: TestRef) -> MethodRef | str | None:
        """A focal-class method (one name, one owner) named by the longest leading words, not called directly;
        never a private one (no test code can reach it) nor a prefix of a method the test does call (`get`
        for a test of getMillis)."""
        called = {norm(t.name) for r in pool for t in r.targets}
        for k in range(longest, 0, -1):
            prefix = "".join(ws[:k])
            if len(prefix) < 3 or prefix in CTOR_WORDS or any(c.startswith(prefix) for c in called):
                continue
            cands = [m for m in scope.named(prefix) if not m.is_constructor and "private" not in m.modifiers and m.has_body
                     and not (m.language == "python" and m.name.startswith("_") and not is_dunder(m.name))]
            if not cands or len({(m.cls.key if m.cls else m.path, m.name) for m in cands}) > 1:
                continue
            if len(cands) == 1:
                return cands[0]
            return self._one_overload(cands[0].name, pool, test, cands)
        return None

    def _named_unseen_calls(self, stem: list[str], resolved: list[Resolved]) -> set[str]:
        """Names (normalised) of methods called on an object whose static type is declared nowhere in the repository
        (JDK, library) that a run of the test name's words spells (`not equals` -> Type.equals). Calls of a
        functional interface (apply, accept, ...) run code the repository method that made it supplies, so they
        do not count."""
        runs = {"".join(stem[i:j]) for i in range(len(stem)) for j in range(i + 1, len(stem) + 1)}
        out = set()
        for r in resolved:
            name = norm(r.site.name)
            if r.targets or r.site.is_new or len(name) < 4 or name not in runs or name in FUNCTIONAL:
                continue
            rtype = _receiver_type(r, resolved)
            if rtype and not self.index.classes_by_name.get(rtype):
                out.add(name)
        return out

    @staticmethod
    def _conjunction(stem: list[str], strong: list[Resolved]) -> bool:
        """True if the words before and after an `and`/`then` each start the name of a different called method."""
        if not any(w in CONJUNCTIONS for w in stem):
            return False
        names = {norm(t.name) for r in strong for t in r.targets if not t.is_constructor}

        def starts(ws: list[str]) -> set[str]:
            out = set()
            for k in range(len(ws), 0, -1):
                prefix = "".join(ws[:k])
                out |= {n for n in names if n.startswith(prefix) and len(prefix) >= min(len(n), 3)}
                if out:
                    return out
            return out

        for j, w in enumerate(stem):
            if w in CONJUNCTIONS and 0 < j < len(stem) - 1:
                before = set()
                for i in range(j):  # the method may be named by any run of words ending at the conjunction
                    before |= starts(stem[i:j]) if not before else set()
                after = starts(stem[j + 1:])
                if before and after and (before | after) != before & after:
                    return True
        return False

    def _by_name(self, stem: str, scope: FocalScope, pool: list[Resolved], test: TestRef, is_class_name: bool) -> MethodRef | str | None:
        """A focal method whose name is the stem, looking in the focal scope, then in called classes."""
        if stem in CTOR_WORDS or (scope.classes and stem == norm(scope.classes[0].name) and not is_class_name):
            if scope.classes:
                ctors = scope.classes[0].constructors()
                if ctors:
                    return self._pick_ctor(ctors, pool)
            return None
        candidates = [m for m in scope.named(stem) if not m.is_constructor]
        if not candidates:
            seen = {id(t): t for r in pool for t in r.targets}
            candidates = [m for m in seen.values() if norm(m.name) == stem and not m.is_constructor]
            if candidates:
                # every overload of that name in the called class(es)
                owners = {m.cls.key if m.cls else m.path for m in candidates}
                if len(owners) > 1:
                    return None
                owner = candidates[0].cls
                candidates = owner.by_name(candidates[0].name) if owner is not None else candidates
        if not candidates:
            return None
        if len({(m.cls.key if m.cls else m.path) for m in candidates}) > 1:
            # same name in several focal classes/modules: keep those the test calls
            called = {id(t) for r in pool for t in r.targets}
            candidates = [m for m in candidates if id(m) in called] or candidates
            if len({(m.cls.key if m.cls else m.path) for m in candidates}) > 1:
                return None
        if len(candidates) == 1:
            return candidates[0]
        return self._one_overload(candidates[0].name, pool, test, candidates)

    @staticmethod
    def _pick_ctor(ctors: list[MethodRef], pool: list[Resolved]) -> MethodRef | str:
        if len(ctors) == 1:
            return ctors[0]
        used = {id(r.targets[0]): r.targets[0] for r in pool if r.site.is_new and len(r.targets) == 1 and r.targets[0] in ctors}
        if len(used) == 1:
            return next(iter(used.values()))
        return "ambiguous_overload"

    @staticmethod
    def _one_overload(name: str, pool: list[Resolved], test: TestRef, overloads: list[MethodRef] | None = None) -> MethodRef | str:
        """Resolve which overload of ``name`` the test exercises from the calls it makes. A test that calls several
        overloads of it (hasOption(char), hasOption(String), ...) has no single focal method, unless its name spells
        one overload's parameter types (testAppend_StringBuilder_int_int)."""
        calls = [r for r in pool if r.targets and r.targets[0].name == name and not r.site.is_new]
        if overloads is not None:
            ids = {id(m) for m in overloads}
            calls = [r for r in calls if any(id(t) in ids for t in r.targets)]
        exact = [r.targets[0] for r in calls if len(r.targets) == 1]
        if not calls:
            if overloads is not None and len(overloads) == 1:
                return overloads[0]
            return "ambiguous_overload"
        if not exact:
            return "ambiguous_overload"
        limit = test.first_assert_end
        before = [r.targets[0] for r in calls if len(r.targets) == 1 and (limit is None or r.site.end <= limit)]
        pick = before[-1] if before else exact[-1]
        same = {id(m): m for m in exact if _owner(m) == _owner(pick)}
        if len(same) == 1:
            return pick
        return _overload_named(test.method.name, list(same.values())) or "multi_overload"

    def _last_call(self, test: TestRef, pool: list[Resolved], done) -> Mapping | str:
        if not test.has_assert or test.first_assert_end is None:
            return "ambiguous"
        limit = test.first_assert_end
        calls = [r for r in pool if not r.site.is_new and r.targets]
        before = [r for r in calls if r.site.end <= limit]
        if all(_kind(r) == -2 for r in before):
            # the first assertion only checks the state set-up left (assertNull(o.getType())): the act comes after it,
            # up to the next check
            # (a call inside a later check acts too when the test made its object itself: assertToken(t.nextToken()))
            made = any(r.site.is_new for r in pool)
            act = next((r for r in calls if r.site.end > limit and (made or r.site.assert_role != "check") and _kind(r) >= 1),
                       None)
            if act is not None:
                nxt = next((r for r in calls if r.site.end > act.site.end and r.site.assert_role == "check"), None)
                limit = nxt.site.end if nxt is not None else calls[-1].site.end
                before = [r for r in calls if r.site.end <= limit]
        if not before:
            return "ambiguous"

        kind = _kind
        best = max(kind(r) for r in before)
        if best < 2 and any(r.configures for r in before):
            return "setup_only"  # a builder configured, then only arranged or read: no act to call the focal method
        chosen = [r for r in before if kind(r) == best][-1]
        key = (chosen.targets[0].cls.key if chosen.targets[0].cls else chosen.targets[0].path, chosen.targets[0].name)
        if best == 2:
            acts_before = {(r.targets[0].cls.key if r.targets[0].cls else r.targets[0].path, r.targets[0].name)
                           for r in before if kind(r) == 2}
            if len(acts_before) > 1:
                return "multi_act"
        after = [r for r in calls if r.site.end > limit and kind(r) == 2]
        if any((r.targets[0].cls.key if r.targets[0].cls else r.targets[0].path, r.targets[0].name) != key for r in after):
            return "multi_act"
        m = self._one_overload(chosen.targets[0].name, before, test)
        if not isinstance(m, MethodRef):
            return m
        # other overloads of it called after the first assertion are exercised too
        others = {id(r.targets[0]): r.targets[0] for r in calls
                  if len(r.targets) == 1 and r.targets[0].name == m.name and _owner(r.targets[0]) == _owner(m)}
        if len(others) > 1:
            m = _overload_named(test.method.name, list(others.values())) or "multi_overload"
            if not isinstance(m, MethodRef):
                return m
        return done(m, "last_call")


def _kind(r: Resolved) -> int:
    """How a call reads in arrange-act-assert: 2 act, 1 arrange-like, 0 accessor, -1 factory, -2 an accessor
    inside an assertion (`assertEquals(0, pair.getLeft())` checks what the act produced). A method reference
    that assertThrows & co. run is the act (`assertThrows(E.class, init::get)`)."""
    if r.site.assert_role == "act" and r.site.nargs is None:
        return 2
    if r.configures:
        return 1
    if r.factory or r.produces:
        return -1
    if r.site.attr is not None and r.site.name == "__getattr__" and (r.targets[0].name != "__getattr__" or r.navigates):
        return -2 if r.site.assert_role == "check" else 0  # a property read: inside an assertion it checks
    name = r.targets[0].name
    if FACTORY.match(name):
        return -1
    if ACCESSOR.match(name):
        # a getter read inside an assertion checks; a lookup with arguments (context.get("k")) is behaviour
        return -2 if r.site.assert_role == "check" and not r.site.nargs else 0
    return 1 if ARRANGE.match(name) else 2


def _factory_of(m: MethodRef, resolved: list[Resolved]) -> MethodRef | None:
    """The factory function whose result the test called ``m`` on (`b().remove(1)` -> `b`), if any."""
    if m.cls is None:
        return None
    factories = [r for r in resolved if r.factory and r.method is not None]
    for r in resolved:
        if m not in r.targets:
            continue
        recv = r.site.receiver
        if recv[0] == "call" and isinstance(recv[1], int) and recv[1] < len(resolved) and resolved[recv[1]].factory:
            return resolved[recv[1]].method
        if recv[0] == "result":  # a local bound to the factory's result
            named = [f for f in factories if f.site.name == recv[1].rsplit(".", 1)[-1]]
            if named:
                return named[0].method
    return None


def _expects_exception(test: TestRef) -> bool:
    """JUnit 4 `@Test(expected = E.class)` (the test has no assertion of its own)."""
    return any(m.startswith("@Test(") and "expected" in m for m in test.method.modifiers)


def _plain_read(r: Resolved) -> bool:
    """A read that does not exercise behaviour of its own: a getter, a property, a comparison or conversion the
    assertions make; not a lookup through __getitem__/__contains__/__getattr__ (dictionary-like classes)."""
    if r.configures or r.site.assert_role == "act" or _kind(r) > 0:
        return False
    if r.site.protocol and r.site.attr is None:  # len(), iteration, str(): behaviour, unless it is the assert's ==
        return _is_check(r)
    return r.targets[0].name not in ("__getitem__", "__contains__", "__getattr__", "__missing__")


def _is_check(r: Resolved) -> bool:
    """An equality (or identity) comparison or a property read making up an assertion: it checks, never acts."""
    return r.site.assert_role == "check" and (r.site.attr is not None or r.site.name in ("__eq__", "__ne__"))


def _acts(strong: list[Resolved]) -> bool:
    """Whether a test calls a repository method (not a constructor, factory or check) at all."""
    return any(not r.site.is_new and not r.factory and not _is_check(r) and _kind(r) >= 0 for r in strong)


def _mark_producers(resolved: list[Resolved]) -> None:
    """A call whose result (of another class) the test then acts on only makes the object under test, like a factory:
    `compiler.compile(src).render(data)`, `Template t = c.compile(src); t.execute(ctx)` -> render/execute act."""
    for s in resolved:
        if not s.targets or not s.strong or s.setup or s.site.is_new or _kind(s) < 1:
            continue
        recv = s.site.receiver
        src = recv[1] if recv[0] == "call" and isinstance(recv[1], int) else s.site.via
        if src is None or src >= len(resolved) or src == s.index:
            continue
        p = resolved[src]
        if p.targets and not p.site.is_new and p.targets[0].cls is not None and s.targets[0].cls is not p.targets[0].cls:
            p.produces = True


def _mark_navigation(resolved: list[Resolved]) -> None:
    """A dynamic attribute read (`bx.server` through __getattr__) whose value the test then calls into only
    navigates to what it checks: a read, not an act."""
    used = {r.site.receiver[1] for r in resolved if r.site.receiver[0] == "call" and isinstance(r.site.receiver[1], int)}
    for r in resolved:
        if r.index in used and r.site.attr is not None and r.targets and r.targets[0].name == "__getattr__":
            r.navigates = True


def _mark_setup(resolved: list[Resolved]) -> None:
    """Mark calls that only make what the test passes on: an argument of another repository call
    (`glom(target, Flatten())`) or the expected side of an assertion (`assert actual == expected`)."""
    for r in resolved:
        arg_of = r.site.arg_of
        if r.site.assert_role in ("expected", "declaration"):
            r.setup = True
        elif arg_of is not None and arg_of < len(resolved) and resolved[arg_of].targets and resolved[arg_of].strong:
            r.setup = True
    for r in reversed(resolved):  # an argument's whole expression: `Iter().filter(f).all()` passed to glom()
        recv = r.site.receiver
        if r.setup and recv[0] == "call" and isinstance(recv[1], int) and recv[1] < len(resolved):
            resolved[recv[1]].setup = True


def _mark_configuration(resolved: list[Resolved], scope: FocalScope) -> None:
    """Mark fluent configuration calls (a method returning its own class, `serializeNulls()`) whose object a later
    build()/create()/get() turns into the object under test: they set up, like a constructor's arguments.
    Chained (`new GsonBuilder().serializeNulls().create()`) or on a variable of the builder's type. A builder that
    is itself the focal class (GsonBuilderTest) is what the test is about: its calls stay acts, unless the test then
    acts on what it builds (`new ExpressionBuilder(s).variables("x").build().evaluate()`)."""
    def fluent(r: Resolved) -> bool:
        m = r.method
        return (m is not None and not r.site.is_new and m.cls is not None and bool(m.return_type)
                and m.return_type.split("<")[0].split(".")[-1].strip() == m.cls.name)

    def terminal(r: Resolved) -> bool:  # build()/create()/get(), or a call making what the test then acts on
        return not r.site.is_new and (r.site.name in TERMINAL or r.produces)

    def product_used(builder: Resolved, term: Resolved) -> bool:
        if not scope.contains_class(builder.method.cls):  # type: ignore[union-attr]
            return True
        made = term.method.return_type.split("<")[0].split(".")[-1].strip() if term.method and term.method.return_type else ""
        return bool(made) and any(o.site.end > term.site.end and not o.site.is_new and o.targets and o.cls is not None
                                  and o.cls.name == made for o in resolved)

    feeds: dict[int, Resolved] = {}  # call index -> the call made on its result
    for r in resolved:
        if r.site.receiver[0] == "call" and isinstance(r.site.receiver[1], int):
            feeds.setdefault(r.site.receiver[1], r)
    for r in resolved:
        if not fluent(r):
            continue
        nxt = feeds.get(r.index)
        while nxt is not None and fluent(nxt) and not terminal(nxt):
            nxt = feeds.get(nxt.index)
        if nxt is not None and terminal(nxt):
            r.configures = product_used(r, nxt)
        elif nxt is None and r.site.receiver[0] in ("type", "static"):
            # builder.serializeNulls(); ... builder.create() / OptionBuilder.withDescription(d); OptionBuilder.create("o")
            term = next((o for o in resolved if terminal(o) and o.site.receiver[:2] == r.site.receiver[:2]
                         and o.site.end > r.site.end), None)
            r.configures = term is not None and product_used(r, term)


def _leading_pair(stem: list[str], strong: list[Resolved]) -> bool:
    """Whether the name's first two words are each the whole name of a different method the test calls (read, seek)."""
    if len(stem) < 2 or stem[0] == stem[1]:
        return False
    names = {key for r in strong if not r.site.is_new for t in r.targets for key in name_keys(t.name)}
    return stem[0] in names and stem[1] in names and stem[0] + stem[1] not in names


def _names_property_pair(stem: list[str], strong: list[Resolved]) -> bool:
    """Whether the name runs a getter and a setter word together (`get set new line text`) and the test calls
    both a getter and a setter of one property."""
    pair = any({stem[i], stem[i + 1]} in ({"get", "set"}, {"is", "set"}) for i in range(len(stem) - 1))
    if not pair:
        return False
    names = {t.name for r in strong for t in r.targets}
    props = {n[3:] for n in names if n.startswith("set") and n[3:4].isupper()}
    return any(n[3:] in props for n in names if n.startswith("get")) or any(n[2:] in props for n in names if n.startswith("is"))


def _owner(m: MethodRef) -> str:
    return m.cls.key if m.cls else m.path


def _overload_named(test_name: str, methods: list[MethodRef]) -> MethodRef | None:
    """The one overload whose parameter types the words after the method's name in the test name spell
    (`testToPrimitive_byte_byte` -> toPrimitive(Byte[],byte)), else None."""
    stem = name_stem(test_name)
    mw = list(_words(methods[0].name))
    for i in range(len(stem) - len(mw) + 1):
        if stem[i:i + len(mw)] == mw:
            rest = stem[i + len(mw):]
            break
    else:
        return None
    if not rest:
        return None
    hits = [m for m in methods if [w for t in m.param_types for w in _words(t or "")] == rest]
    return hits[0] if len(hits) == 1 else None


def _receiver_type(r: Resolved, resolved: list[Resolved]) -> str | None:
    """The simple static type name of a Java call's receiver, where the test makes it known."""
    kind = r.site.receiver[0]
    if kind in ("type", "static", "const"):
        name = r.site.receiver[1]
    elif kind == "call" and isinstance(r.site.receiver[1], int) and r.site.receiver[1] < len(resolved):
        m = resolved[r.site.receiver[1]].method
        name = m.return_type if m is not None and m.return_type else ""
    else:
        return None
    name = name.split("<")[0].split(".")[-1].replace("[]", "").strip()
    return name if name[:1].isupper() else None
