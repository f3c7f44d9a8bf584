"""What the extractor learns about one source file, in memory, before records are written.

Workers send :class:`FileFacts` back to the main process; the main process writes the heavy parts
(method bodies, file content) to disk straight away and keeps only the light index the test→focal
mapping needs (names, arities, types, call sites of tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A call site's receiver, as far as the extractor could type it without global knowledge:
#   ("self",)            unqualified call or this./self. call (method of the enclosing class, or a static import)
#   ("type", "Foo")      receiver's static type is Foo (declared variable, new Foo(), cast, fixture return)
#   ("type", "Foo", "Bar") Java: declared as Foo, created as new Bar(...) (Bar's methods run)
#   ("static", "Foo")    receiver is the name Foo itself (Foo.bar(), or a class/function name imported as Foo)
#   ("call", i)          receiver is the value returned by call site i of the same method
#   ("module", "a.b")    Python: receiver is an imported module
#   ("global",)          Python: a bare call f(), resolved through the file's imports and definitions
#   ("result", "m.f")    Python: the value returned by calling the name m.f (an instance when m.f is a class)
#   ("selfattr", "x")    Python: self.x, typed by the test class's setUp/fixtures (ClassFacts.attr_types)
#   ("fixture", "calc")  Python: a test parameter filled by the pytest fixture `calc`
#   ("literal", "list")  Python: a literal value (never repository code)
#   ("unknown", "")      anything else
Receiver = tuple


@dataclass(slots=True)
class CallSite:
    """One call inside a test (or setup) method, in evaluation order."""

    name: str
    receiver: Receiver
    nargs: int | None  # None when unknown (method reference, callable passed to assertRaises)
    arg_types: tuple[str | None, ...] = ()  # Java: "Owner#" for a constant Owner.NAME (an enum's type, else unknown)
    end: int = 0  # byte offset where the call ends (evaluation order)
    is_new: bool = False  # Java `new Foo(...)` / Python `Foo(...)` that may be a constructor
    # Java: "check" inside an assertion's arguments (assertEquals(1, x.size())), "act" inside one that runs its
    # argument (assertThrows(E.class, () -> x.parse(s))), "" elsewhere. Python: "check" inside an assert, "expected"
    # in the expected side of one (`assert actual == expected`, assertEqual(actual, expected)), "act" in a
    # pytest.raises / assertRaises block or callable
    assert_role: str = ""
    arg_of: int | None = None  # index of the call site whose arguments hold this call (Python), else None
    attr: str | None = None  # Python attribute protocol sites (__getattr__/__setattr__/__delattr__): the attribute
    protocol: bool = False  # Python: run by an operator, a builtin or a statement (x in r, len(r), for, with, r[k])
    via: int | None = None  # Java: the call site whose result the receiver variable was initialised with


@dataclass(slots=True)
class MethodFacts:
    """A function, method or constructor, with what the record and the mapper need."""

    name: str
    class_name: str | None  # qualified (dotted) enclosing class, None for module functions
    signature: str
    params: list[str]
    param_types: list[str | None]
    min_arity: int
    max_arity: int | None  # None = varargs
    return_type: str | None
    modifiers: list[str]
    docstring: str | None
    body: str
    start_line: int
    end_line: int
    start_col: int = 0  # column of the first line (to re-indent the body in contexts)
    is_test: bool = False
    is_constructor: bool = False
    is_static: bool = False
    is_fixture: bool = False  # pytest fixture / setUp-like: never a focal method
    is_setup: bool = False  # setUp / @BeforeEach / setup_method: its assignments type self.x fields
    calls: list[str] = field(default_factory=list)
    call_sites: list[CallSite] = field(default_factory=list)  # filled for tests and setup methods
    first_assert_end: int | None = None  # end byte of the first assertion (tests only)
    has_assert: bool = False
    framework: str | None = None
    has_error: bool = False  # tree-sitter found a syntax error inside
    # Python functions without a return annotation: what their return statements return, as the callee's dotted
    # text (`PBag` for `return PBag(...)`, `_EMPTY.extend` for `return _EMPTY.extend(x)`), `self` (self, cls(...),
    # self.__class__(...)) or `=name` for a plain name; the mapper types factory results with it
    returns: tuple[str, ...] = ()
    has_body: bool = True  # Java: False for abstract and interface methods without a default body

    @property
    def arity_text(self) -> str:
        return ",".join(t or "?" for t in self.param_types)


@dataclass(slots=True)
class ClassFacts:
    """A class, interface, enum or record (Java) or a class (Python)."""

    name: str
    qualname: str  # dotted, outermost first
    kind: str  # class | interface | enum | record | annotation
    header: str  # declaration line(s) up to the body, e.g. "public final class Foo extends Bar"
    bases: list[str]
    modifiers: list[str]  # annotations / decorators / modifiers
    fields: list[str]  # field declarations (Java) / class-level assignments (Python), source text
    field_types: dict[str, str]  # field name -> simple type name, where known
    start_line: int
    end_line: int
    is_test_class: bool = False
    is_nested_test: bool = False  # JUnit 5 @Nested or a nested test class
    indent: str = ""  # Python: indentation of the body
    attr_types: dict[str, Receiver] = field(default_factory=dict)  # Python test classes: self.x -> type
    # Java: field name -> class it is created as (`Parser p = new StrictParser()`, or assigned so in a set-up method)
    field_news: dict[str, str] = field(default_factory=dict)
    # Python: class-level aliases `__le__ = __lt__`, `next = __next__`, `count = Sequence.count` (name -> dotted text)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ImportFacts:
    """One imported name (Java: a type or static member; Python: a module or a name from one)."""

    module: str  # Java: qualified name ("a.b.Foo", "a.b.Foo.bar" for static); Python: dotted module
    name: str | None  # Python `from m import name`; None for `import m`
    alias: str  # the local name it is bound to ("*" for star imports)
    is_static: bool = False  # Java static import
    text: str = ""  # the import statement's source


@dataclass(slots=True)
class FileFacts:
    """Everything extracted from one file."""

    path: str
    language: str
    package: str = ""  # Java package; Python dotted module guess
    is_test_file: bool = False
    imports: list[ImportFacts] = field(default_factory=list)
    classes: list[ClassFacts] = field(default_factory=list)
    methods: list[MethodFacts] = field(default_factory=list)
    module_fields: list[str] = field(default_factory=list)  # Python module-level assignments
    fixture_types: dict[str, Receiver] = field(default_factory=dict)  # pytest fixture name -> returned type
    # Python module-level `NAME = callee(...)` (callee's dotted text) and `NAME = other` (`=other`)
    module_vars: dict[str, str] = field(default_factory=dict)
    syntax_errors: int = 0  # definitions skipped because tree-sitter marked them ERROR
    root_has_error: bool = False
