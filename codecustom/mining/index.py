"""The light, in-memory index the test→focal mapper works on.

It holds names, arities, types and signatures of every method, the classes and modules they live in,
and the call sites of tests — never file contents or method bodies (those are spooled to disk and read
back by offset when a pair is written).
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from codecustom.mining.facts import CallSite, FileFacts, MethodFacts


@dataclass(slots=True, eq=False)
class MethodRef:
    """A method as the mapper sees it."""

    ordinal: int  # position in the method spool
    id: str
    name: str
    path: str
    language: str
    cls: ClassRef | None
    signature: str
    modifiers: tuple[str, ...]
    param_types: tuple[str | None, ...]
    min_arity: int
    max_arity: int | None
    return_type: str | None
    is_constructor: bool
    is_static: bool
    is_test: bool
    is_fixture: bool
    start_line: int
    start_col: int
    offset: int  # byte offset of its record in the method spool
    in_test_file: bool
    returns: tuple[str, ...] = ()  # Python: what its return statements return (MethodFacts.returns)
    has_body: bool = True  # Java: False for abstract / bodiless interface methods

    def accepts(self, nargs: int | None) -> bool:
        """Whether a call with ``nargs`` arguments can bind to this method."""
        if nargs is None:
            return True
        return self.min_arity <= nargs and (self.max_arity is None or nargs <= self.max_arity)


@dataclass(slots=True, eq=False)
class TestRef:
    """A test method with what the mapper needs about its body."""

    method: MethodRef
    call_sites: list[CallSite]
    first_assert_end: int | None
    has_assert: bool
    framework: str | None


@dataclass(slots=True, eq=False)
class ClassRef:
    """A class/interface/enum/record."""

    key: str  # "<path>::<qualname>"
    name: str
    qualname: str
    path: str
    package: str
    kind: str
    header: str
    bases: tuple[str, ...]
    modifiers: tuple[str, ...]
    fields: tuple[str, ...]
    field_types: dict[str, str]
    attr_types: dict[str, tuple]
    indent: str
    is_test_class: bool
    is_nested_test: bool
    in_test_file: bool
    outer: ClassRef | None = None
    aliases: dict[str, str] = field(default_factory=dict)  # Python: `__le__ = __lt__` (ClassFacts.aliases)
    methods: list[MethodRef] = field(default_factory=list)
    nested: dict[str, ClassRef] = field(default_factory=dict)
    _by_name: dict[str, list[MethodRef]] | None = field(default=None, repr=False)
    _by_name_n: int = field(default=0, repr=False)  # len(methods) when _by_name was built

    def by_name(self, name: str) -> list[MethodRef]:
        if self._by_name is None or self._by_name_n != len(self.methods):
            names: dict[str, list[MethodRef]] = {}
            for m in self.methods:
                if not m.is_constructor:
                    names.setdefault(m.name, []).append(m)
            self._by_name, self._by_name_n = names, len(self.methods)
        return list(self._by_name.get(name, ()))

    def constructors(self) -> list[MethodRef]:
        return [m for m in self.methods if m.is_constructor]


@dataclass(slots=True, eq=False)
class ModuleRef:
    """One source file: its classes, module-level functions, imports and (Python) fixtures."""

    path: str
    language: str
    package: str
    is_test_file: bool
    imports: list  # ImportFacts
    classes: dict[str, ClassRef] = field(default_factory=dict)  # top-level by simple name
    functions: dict[str, list[MethodRef]] = field(default_factory=lambda: defaultdict(list))
    module_fields: tuple[str, ...] = ()
    fixture_types: dict[str, tuple] = field(default_factory=dict)
    module_vars: dict[str, str] = field(default_factory=dict)  # Python: FileFacts.module_vars


class CodeIndex:
    """Everything mined so far, indexed for the mapper."""

    def __init__(self) -> None:
        self.modules: dict[str, ModuleRef] = {}
        self.classes: dict[str, ClassRef] = {}
        self.classes_by_name: dict[str, list[ClassRef]] = defaultdict(list)
        self.modules_by_dotted: dict[str, list[str]] = defaultdict(list)  # python dotted suffix -> paths
        self.tests: list[TestRef] = []
        self.methods_by_ordinal: dict[int, MethodRef] = {}
        self._focal_classes: dict[str, list[ClassRef]] = {}  # cache of focal_classes(), emptied by add()
        self.method_names: set[str] = set()  # names of methods and functions outside test files
        self.file_methods: dict[str, list[MethodRef]] = {}  # path -> its methods in source order

    def add(self, facts: FileFacts, ordinals: list[int | None], offsets: list[int | None], ids: list[str]) -> None:
        """Index one file's facts; ``ordinals``/``offsets`` locate each method's spooled record."""
        if self._focal_classes:
            self._focal_classes = {}
        mod = ModuleRef(path=facts.path, language=facts.language, package=facts.package, is_test_file=facts.is_test_file,
                        imports=facts.imports, module_fields=tuple(facts.module_fields[:40]),
                        fixture_types=dict(facts.fixture_types), module_vars=facts.module_vars)
        self.modules[facts.path] = mod
        if facts.language == "python" and not facts.is_test_file:
            dotted = facts.package.split(".")
            for k in range(len(dotted)):
                self.modules_by_dotted[".".join(dotted[k:])].append(facts.path)
        by_qual: dict[str, ClassRef] = {}
        for cf in facts.classes:
            outer = by_qual.get(cf.qualname.rsplit(".", 1)[0]) if "." in cf.qualname else None
            ref = ClassRef(key=f"{facts.path}::{cf.qualname}", name=cf.name, qualname=cf.qualname, path=facts.path,
                           package=facts.package, kind=cf.kind, header=cf.header, bases=tuple(cf.bases),
                           modifiers=tuple(cf.modifiers), fields=tuple(cf.fields[:60]), field_types=cf.field_types,
                           attr_types=cf.attr_types, indent=cf.indent, is_test_class=cf.is_test_class,
                           is_nested_test=cf.is_nested_test, in_test_file=facts.is_test_file, outer=outer,
                           aliases=cf.aliases)
            by_qual[cf.qualname] = ref
            self.classes[ref.key] = ref
            if outer is not None:
                outer.nested[cf.name] = ref
            else:
                mod.classes[cf.name] = ref
            if not cf.is_test_class:
                self.classes_by_name[cf.name].append(ref)
        in_file = self.file_methods[facts.path] = []
        for mf, ordinal, offset, mid in zip(facts.methods, ordinals, offsets, ids):
            if ordinal is None:
                continue
            cls = by_qual.get(mf.class_name) if mf.class_name else None
            ref = MethodRef(ordinal=ordinal, id=mid, name=mf.name, path=facts.path, language=facts.language, cls=cls,
                            signature=mf.signature, modifiers=tuple(mf.modifiers), param_types=tuple(mf.param_types),
                            min_arity=mf.min_arity, max_arity=mf.max_arity, return_type=mf.return_type,
                            is_constructor=mf.is_constructor, is_static=mf.is_static, is_test=mf.is_test,
                            is_fixture=mf.is_fixture, start_line=mf.start_line, start_col=mf.start_col,
                            offset=offset, in_test_file=facts.is_test_file, returns=mf.returns,
                            has_body=mf.has_body)
            self.methods_by_ordinal[ordinal] = ref
            in_file.append(ref)
            if not facts.is_test_file:
                self.method_names.add(mf.name)
            if cls is not None:
                cls.methods.append(ref)
            else:
                mod.functions[mf.name].append(ref)
            if mf.is_test:
                self.tests.append(TestRef(method=ref, call_sites=mf.call_sites, first_assert_end=mf.first_assert_end,
                                          has_assert=mf.has_assert, framework=mf.framework))

    # -- lookups used by the focal rules ---------------------------------------------------------

    def focal_classes(self, name: str) -> list[ClassRef]:
        """Non-test classes with this simple name outside test files."""
        found = self._focal_classes.get(name)
        if found is None:
            found = self._focal_classes[name] = [c for c in self.classes_by_name.get(name, ()) if not c.in_test_file]
        return list(found)

    def python_modules(self, dotted: str) -> list[str]:
        """Repo paths of Python modules whose dotted name ends with ``dotted``."""
        return self.modules_by_dotted.get(dotted, [])


def common_prefix_len(a: str, b: str) -> int:
    """Number of leading path components two paths share."""
    pa, pb = posixpath.dirname(a).split("/"), posixpath.dirname(b).split("/")
    n = 0
    for x, y in zip(pa, pb):
        if x != y:
            break
        n += 1
    return n


