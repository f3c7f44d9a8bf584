"""Python focal rules: test file/class → focal module/class, and typing of a test's call sites.

Focal module: `test_<module>.py` / `<module>_test.py` → `<module>.py` (the one the test imports, else the
closest by path), else the single repo module the test imports names from. Focal class: the test class
name without `Test` (`TestCalculator` → `Calculator`) in the focal module, among imported names, or unique
in the repo; a pytest class named after a function (`class TestAdd`) offers `add` to the `name` heuristic.
Calls are typed through imports (`from pkg.mod import f`, `import pkg.mod as m`, re-exports in
`__init__.py`, star imports), constructor calls, annotations, `self.x` set in setUp/fixtures, pytest
fixtures (their returned value, from the test file or a conftest.py above it), and what functions return
(`return PBag(...)`, `return self`, `return _EMPTY.extend(x)`, read by the extractor): a factory function's
result is an instance of the class it builds. Fixtures are never focal.

Protocol sites (python_sites.py: `x in r`, `r[k]`, `len(r)`, `for x in r`, `r.attr`...) bind to the dunder
(or property) of the receiver's class, found along its repository bases and class-level aliases
(`__le__ = __lt__`); a class whose protocol comes from a builtin base (`count = Sequence.count`, a dict
subclass without `__getitem__`) binds to nothing. Constructing a class binds to the `__init__` or `__new__`
of the first class in its bases that defines one.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from codecustom.mining.facts import CallSite
from codecustom.mining.index import ClassRef, CodeIndex, MethodRef, ModuleRef, TestRef, common_prefix_len
from codecustom.mining.mapping import FocalScope, Resolved, strip_test_class
from codecustom.mining.python_sites import PROTOCOL_FALLBACK


@dataclass
class Instance:
    """A value whose class is known."""

    cls: ClassRef


Target = ModuleRef | ClassRef | Instance | list  # list[MethodRef] for functions


def choose_overload(methods: list[MethodRef], site: CallSite) -> list[MethodRef]:
    ok = [m for m in methods if m.accepts(site.nargs)]
    if len(ok) > 1:  # redefinitions (if/else branches): the last one wins at import time
        return [ok[-1]]
    return ok


class PythonFocalRules:
    """Focal scope and call typing for Python tests."""

    def prepare(self, index: CodeIndex) -> None:
        self.index = index
        self._bindings: dict[str, dict[str, Target | None]] = {}
        self._scopes: dict[str, FocalScope] = {}
        self._returns: dict[int, Instance | None] = {}

    # -- name resolution ----------------------------------------------------------------------

    def module_for(self, dotted: str, near: str) -> ModuleRef | None:
        """The repo module a dotted import name refers to (closest to ``near`` when ambiguous)."""
        paths = self.index.python_modules(dotted)
        if not paths:
            return None
        if len(paths) > 1:
            exact = [p for p in paths if self.index.modules[p].package == dotted]
            paths = exact or sorted(paths, key=lambda p: (-common_prefix_len(p, near), len(p)))
        return self.index.modules.get(paths[0])

    def attr(self, target: Target | None, name: str, near: str, depth: int = 0) -> Target | None:
        """``target.name`` for a module or class (following re-exports and star imports)."""
        if target is None or depth > 6:
            return None
        if isinstance(target, ModuleRef):
            if name in target.classes:
                return target.classes[name]
            if target.functions.get(name):
                return list(target.functions[name])
            bound = target.module_vars.get(name)
            if bound and not bound.startswith("=") and depth < 4:  # `print_errors = log_errors(print)`: an instance
                made = self.resolve_in_module(bound, target)
                if isinstance(made, ClassRef):
                    return Instance(made)
            for imp in target.imports:
                if imp.alias == name:
                    return self._import_target(imp, target.path, depth + 1)
            sub = self.module_for(f"{target.package}.{name}", target.path) if target.package else None
            if sub is not None:
                return sub
            for imp in target.imports:
                if imp.alias == "*":
                    hit = self.attr(self.module_for(imp.module, target.path), name, near, depth + 1)
                    if hit is not None:
                        return hit
            return None
        if isinstance(target, ClassRef):
            if name in target.nested:
                return target.nested[name]
            methods = self.members(target, name)
            return methods or None
        if isinstance(target, Instance):
            return self.members(target.cls, name) or None
        return None

    def members(self, cls: ClassRef, name: str, depth: int = 0) -> list[MethodRef]:
        """The methods a lookup of ``name`` on ``cls`` finds: its own, a class-level alias (`__le__ = __lt__`;
        one naming something outside the repository, `count = Sequence.count`, finds nothing), then its
        repository bases in order."""
        found = [m for m in cls.methods if m.name == name]
        if found or depth >= 6:
            return found
        alias = cls.aliases.get(name)
        if alias is not None:
            if alias.startswith("=") and alias[1:] != name:
                owner, _, target = alias[1:].rpartition(".")
                if not owner:
                    return self.members(cls, target, depth + 1)
                for c in self.index.focal_classes(owner.rsplit(".", 1)[-1]):
                    return self.members(c, target, depth + 1)
            return []  # bound to something else in the class body: not a method we can see
        for base in cls.bases:
            for b in self.index.focal_classes(base):
                if b is not cls:
                    found = self.members(b, name, depth + 1)
                    if found:
                        return found
        return []

    def constructors(self, cls: ClassRef, depth: int = 0) -> list[MethodRef]:
        """`__init__` (else `__new__`) of the first class along ``cls``'s bases that defines one."""
        own = [m for m in cls.methods if m.name == "__init__"] or [m for m in cls.methods if m.name == "__new__"]
        if own or depth >= 6:
            return own
        for base in cls.bases:
            for b in self.index.focal_classes(base):
                if b is not cls:
                    found = self.constructors(b, depth + 1)
                    if found:
                        return found
        return []

    def protocol(self, cls: ClassRef, site: CallSite) -> list[MethodRef]:
        """What a protocol site runs on an instance of ``cls``: an attribute's property/method, else the dunder
        (following PROTOCOL_FALLBACK: str() runs __repr__ when a class has no __str__)."""
        if site.attr is not None:
            if site.name == "__getattr__":
                own = [m for m in self.members(cls, site.attr) if m.accepts(0)]
                if own:
                    return own
                return self.members(cls, "__getattr__") or self.members(cls, "__getattribute__")
            return self.members(cls, site.name)
        name: str | None = site.name
        while name:
            found = self.members(cls, name)
            if found:
                return found[-1:]
            name = PROTOCOL_FALLBACK.get(name)
        return []

    def _import_target(self, imp, from_path: str, depth: int = 0) -> Target | None:
        if imp.name is None:  # import a.b.c [as x]
            if imp.alias == imp.module or "." not in imp.module:
                return self.module_for(imp.module, from_path) or (
                    _Package(imp.module) if self.index.python_modules(imp.module.split(".")[0]) else None)
            return self.module_for(imp.module, from_path)
        mod = self.module_for(imp.module, from_path)
        if mod is None:
            return None
        return self.attr(mod, imp.name, from_path, depth)

    def bindings(self, mod: ModuleRef) -> dict[str, Target | None]:
        """Names bound at module level in a test file: imports (resolved) and its own top-level defs."""
        if mod.path in self._bindings:
            return self._bindings[mod.path]
        b: dict[str, Target | None] = {}
        stars: list[ModuleRef] = []
        for imp in mod.imports:
            if imp.alias == "*":
                m = self.module_for(imp.module, mod.path)
                if m is not None:
                    stars.append(m)
                continue
            head = imp.alias.split(".")[0] if imp.name is None and imp.alias == imp.module else imp.alias
            b[head] = self._import_target(imp, mod.path) if head == imp.alias else _Package(head)
        for name in mod.functions:
            b[name] = None  # defined in the test file: test code, not focal
        for name, cls in mod.classes.items():
            # a class the test file defines is test code, but one deriving from a repository class runs what it
            # inherits (`class FloatToIntMap(CheckedPMap)`: constructing it runs CheckedPMap.__new__)
            b[name] = cls if not cls.is_test_class and any(self.index.focal_classes(base) for base in cls.bases) else None
        b["__stars__"] = stars  # type: ignore[assignment]
        self._bindings[mod.path] = b
        return b

    def resolve_name(self, dotted: str, mod: ModuleRef) -> Target | None:
        b = self.bindings(mod)
        parts = dotted.split(".")
        head = parts[0]
        if head in b:
            target = b[head]
            if isinstance(target, _Package):
                target = self.module_for(".".join(parts[:2]), mod.path) if len(parts) > 1 else None
                parts = parts[1:]
        else:
            target = None
            for star in b.get("__stars__", []):  # type: ignore[union-attr]
                target = self.attr(star, head, mod.path)
                if target is not None:
                    break
        for part in parts[1:]:
            target = self.attr(target, part, mod.path)
        return target

    # -- focal scope ---------------------------------------------------------------------------

    def scope(self, test: TestRef) -> FocalScope:
        key = test.method.cls.key if test.method.cls else test.method.path
        if key not in self._scopes:
            self._scopes[key] = self._scope_for(test)
        s = self._scopes[key]
        return s  # shared by every test of the class/module; the mapper never changes it

    def _scope_for(self, test: TestRef) -> FocalScope:
        mod = self.index.modules[test.method.path]
        b = self.bindings(mod)
        imported_modules: list[ModuleRef] = []
        for t in b.values():
            owner = None
            if isinstance(t, ModuleRef):
                owner = t
            elif isinstance(t, ClassRef):
                owner = self.index.modules.get(t.path)
            elif isinstance(t, list) and t:
                owner = self.index.modules.get(t[0].path)
            if owner is not None and not owner.is_test_file and owner not in imported_modules:
                imported_modules.append(owner)
        scope = FocalScope()
        base = posixpath.basename(test.method.path)[:-3]
        stem = base[5:] if base.startswith("test_") else (base[:-5] if base.endswith("_test") else "")
        if stem:
            cands = [self.index.modules[p] for p in self.index.python_modules(stem)]
            cands = [m for m in cands if not m.is_test_file]
            if len(cands) > 1:
                imported = [m for m in cands if m in imported_modules]
                cands = imported or sorted(cands, key=lambda m: (-common_prefix_len(m.path, test.method.path), len(m.path)))[:1]
            if cands:
                scope.modules, scope.rule = cands[:1], "module_name"
        if not scope.modules and len(imported_modules) == 1:
            scope.modules, scope.rule = imported_modules, "import"
        # focal class from the test class name(s), outermost first
        chain: list[ClassRef] = []
        c = test.method.cls
        while c is not None:
            chain.insert(0, c)
            c = c.outer
        for tc in chain:
            name = strip_test_class(tc.name)
            if name == tc.name and not tc.name.startswith("Test"):
                continue
            found, rule = self._class_named(name, mod, scope, imported_modules)
            if found is not None:
                scope.classes, scope.rule = [found], rule
            elif tc is chain[-1] or tc.is_test_class:
                scope.name_hints.append(tc.name)
        return scope

    def _class_named(self, name: str, mod: ModuleRef, scope: FocalScope, imported: list[ModuleRef]) -> tuple[ClassRef | None, str]:
        for m in scope.modules:
            if name in m.classes:
                return m.classes[name], scope.rule
        for cur in (scope.classes[0].nested if scope.classes else {},):
            if name in cur:
                return cur[name], "nested"
        t = self.bindings(mod).get(name)
        if isinstance(t, ClassRef):
            return t, "import"
        for m in imported:
            if name in m.classes:
                return m.classes[name], "import"
        cands = [c for c in self.index.focal_classes(name) if c.path.endswith(".py") and c.outer is None]
        if len(cands) == 1:
            return cands[0], "name"
        return None, "none"

    # -- call typing ---------------------------------------------------------------------------

    def resolve(self, test: TestRef, scope: FocalScope) -> list[Resolved]:
        mod = self.index.modules[test.method.path]
        out: list[Resolved] = []
        for i, site in enumerate(test.call_sites):
            value, strong = self._receiver(site.receiver, test, mod, out, 0)
            cls: ClassRef | None = None
            targets: list[MethodRef] = []
            t: Target | None = None
            factory = False
            if site.protocol:
                if isinstance(value, Instance):
                    cls = value.cls
                    targets = self.protocol(cls, site)
                elif site.name == "__call__" and isinstance(value, (ClassRef, list)):
                    t = value  # a name bound to a class or a function, called
                    if isinstance(t, ClassRef):
                        cls, targets, site.is_new = t, choose_overload(self.constructors(t), site), True
                    else:
                        targets = choose_overload(t, site)
                strong = strong or value is not None
            elif site.receiver[0] == "local" and site.is_new:  # a class the test defines, constructed: its base's
                base = self._local_base(site.receiver[1], mod)
                if base is not None:
                    cls, targets, value, strong = base, choose_overload(self.constructors(base), site), base, True
                    t = base
            elif site.receiver[0] == "global":
                t = self.resolve_name(site.name, mod)
                value, strong = t, True
                if isinstance(t, ClassRef):
                    cls = t
                    targets = choose_overload(self.constructors(t), site)
                    site.is_new = True
                elif isinstance(t, list):
                    targets = choose_overload(t, site)
                    factory = True
                elif isinstance(t, Instance):  # a module-level instance, called
                    cls, targets = t.cls, self.members(t.cls, "__call__")
            elif value is not None:
                t = self.attr(value, site.name, mod.path)
                if isinstance(value, Instance):
                    cls = value.cls  # known even when the method is not the repository's (count = Sequence.count)
                if isinstance(t, ClassRef):
                    cls = t
                    targets = choose_overload(self.constructors(t), site)
                    site.is_new = True
                elif isinstance(t, list):
                    targets = choose_overload(t, site)
                    cls = value.cls if isinstance(value, Instance) else (value if isinstance(value, ClassRef) else None)
                    factory = not isinstance(value, Instance)
            elif not strong:  # receiver of unknown type: match by name in the focal scope only (weak)
                for m in scope.modules:
                    if m.functions.get(site.name):
                        targets = choose_overload(list(m.functions[site.name]), site)
                        break
                for c in scope.classes:
                    targets = targets or choose_overload(self.members(c, site.name), site)
            r = Resolved(i, site, cls, targets, strong)
            if site.receiver[0] == "global" and site.name in mod.functions:
                r.helper = True  # a function the test file defines
            if not targets and isinstance(value, Instance) and site.attr is not None:
                # `pearson_type = _StatsProperty(...)`: reading it runs a descriptor the class body made
                r.unseen = self._bound_by_call(value.cls, site.attr)
            elif not targets and site.receiver[0] == "call" and not site.protocol and site.name in self.index.method_names:
                prev = out[site.receiver[1]] if site.receiver[1] < len(out) else None
                # a method the repository defines, called on what a repository call returned (type unknown)
                r.unseen = prev is not None and bool(prev.targets) and prev.value is None
            if site.protocol:
                r.value = self._value_of_call(t, targets) if t is not None else self._value_of_call(None, targets)
            else:
                r.value = self._value_of_call(t if site.receiver[0] == "global" or value is not None else None, targets)
            # a function (not a method of an instance, not a class) whose result is an instance of a repository class
            # makes the object under test: a factory, set-up like a constructor
            r.factory = factory and not site.is_new and isinstance(r.value, Instance)
            out.append(r)
        return out

    def _bound_by_call(self, cls: ClassRef, name: str, depth: int = 0) -> bool:
        """Whether the class body (or a repository base's) binds ``name`` to a call's result (a descriptor)."""
        alias = cls.aliases.get(name)
        if alias is not None:
            return not alias.startswith("=")
        if depth >= 6:
            return False
        return any(self._bound_by_call(b, name, depth + 1) for base in cls.bases for b in self.index.focal_classes(base)
                   if b is not cls)

    def _local_base(self, bases: tuple[str, ...], mod: ModuleRef) -> ClassRef | None:
        """The first repository class among a test-defined class's bases."""
        for b in bases:
            t = self.resolve_name(b, mod)
            if isinstance(t, ClassRef):
                return t
        return None

    def _value_of_call(self, target: Target | None, targets: list[MethodRef]) -> Target | None:
        """What calling the target returns: an instance for a class, the annotated or returned class for a function."""
        if isinstance(target, ClassRef):
            return Instance(target)
        if targets:
            return self.returned(targets[-1])
        return None

    def returned(self, m: MethodRef, depth: int = 0) -> Instance | None:
        """The instance a function or method returns, from its annotation or its return statements (memoised)."""
        key = id(m)
        if key in self._returns:
            return self._returns[key]
        self._returns[key] = None  # recursion guard
        found = self._returned(m, depth) if depth < 6 else None
        self._returns[key] = found
        return found

    def _returned(self, m: MethodRef, depth: int) -> Instance | None:
        owner = self.index.modules.get(m.path)
        if owner is None:
            return None
        if m.return_type:
            rt = m.return_type.strip("'\"").split("[")[0].split("|")[0].strip()
            if m.cls is not None and rt in ("Self", m.cls.name):
                return Instance(m.cls)
            t = self.resolve_in_module(rt, owner)
            return Instance(t) if isinstance(t, ClassRef) else None
        found: Instance | None = None
        for desc in m.returns:  # `return NotImplemented` and the like resolve to nothing and are skipped
            value = self._descriptor_value(desc, m, owner, depth)
            if value is None:
                continue
            if found is not None and value.cls is not found.cls:
                return None  # returns instances of different classes (freeze() -> pmap, pvector, pset...)
            found = value
        return found

    def _descriptor_value(self, desc: str, m: MethodRef, owner: ModuleRef, depth: int) -> Instance | None:
        if desc == "self":
            return Instance(m.cls) if m.cls is not None else None
        if desc.startswith("="):  # a plain name: a module variable bound to a call
            bound = owner.module_vars.get(desc[1:])
            return self._descriptor_value(bound, m, owner, depth + 1) if bound and not bound.startswith("=") else None
        head, _, rest = desc.partition(".")
        base: Target | None = None
        if head == "self" and m.cls is not None and rest:
            base, desc = Instance(m.cls), rest
        elif head in owner.module_vars and rest and not owner.module_vars[head].startswith("="):
            base = self._descriptor_value(owner.module_vars[head], m, owner, depth + 1)
            desc = rest
        if base is not None:
            if "." in desc:
                return None
            found = self.members(base.cls, desc) if isinstance(base, Instance) else []
            return self.returned(found[-1], depth + 1) if found else None
        t = self.resolve_in_module(desc, owner)
        if isinstance(t, ClassRef):
            return Instance(t)
        if isinstance(t, list) and t:
            return self.returned(t[-1], depth + 1)
        return None

    def resolve_in_module(self, dotted: str, mod: ModuleRef) -> Target | None:
        """A dotted name as the module that defines it sees it: its classes, functions and imports."""
        head, *rest = dotted.split(".")
        t: Target | None = mod.classes.get(head)
        if t is None and mod.functions.get(head):
            t = list(mod.functions[head])
        if t is None:
            for imp in mod.imports:
                if imp.alias == head:
                    t = self._import_target(imp, mod.path)
                    break
        for part in rest:
            t = self.attr(t, part, mod.path)
        return t

    def _receiver(self, recv: tuple, test: TestRef, mod: ModuleRef, done: list[Resolved], depth: int) -> tuple[Target | None, bool]:
        kind = recv[0]
        if depth > 4:
            return None, False
        if kind == "static":
            t = self.resolve_name(recv[1], mod)
            return t, True
        if kind == "type":
            t = self.resolve_name(recv[1], mod)
            return (Instance(t) if isinstance(t, ClassRef) else None), True
        if kind == "result":
            t = self.resolve_name(recv[1], mod)
            if isinstance(t, ClassRef):
                return Instance(t), True
            if isinstance(t, list):
                return self._value_of_call(None, t), True
            return None, True
        if kind == "value":  # a fixture that hands out a name (a function, a class) rather than an instance
            return self.resolve_name(recv[1], mod) or self.resolve_name(recv[1].rsplit(".", 1)[-1], mod), True
        if kind == "literal":
            return None, True
        if kind == "local":
            base = self._local_base(recv[1], mod)
            return (Instance(base) if base is not None else None), True
        if kind == "__class__":
            return Instance(recv[1]), True
        if kind == "__value__":
            return recv[1], True
        if kind == "call":
            prev = done[recv[1]] if recv[1] < len(done) else None
            if prev is None or prev.value is None:
                return None, False  # we do not know what that call returns
            return prev.value, prev.strong
        if kind == "selfattr":
            desc = self._attr_type(test.method.cls, recv[1])
            if desc is None:
                return None, False
            return self._receiver(desc, test, mod, done, depth + 1)
        if kind == "fixture":
            desc = self._fixture(recv[1], mod)
            if desc is None:
                return None, False
            return self._receiver(desc, test, mod, done, depth + 1)
        return None, kind in ("self", "global")

    def _attr_type(self, cls: ClassRef | None, attr: str, depth: int = 0) -> tuple | None:
        while cls is not None and depth < 6:
            if attr in cls.attr_types and cls.attr_types[attr][0] != "unknown":
                return cls.attr_types[attr]
            for base in cls.bases:
                mod = self.index.modules.get(cls.path)
                b = mod.classes.get(base) if mod else None
                if b is not None and b is not cls:
                    found = self._attr_type(b, attr, depth + 1)
                    if found:
                        return found
            cls = cls.outer
            depth += 1
        return None

    def _fixture(self, name: str, mod: ModuleRef) -> tuple | None:
        if name in mod.fixture_types:
            return mod.fixture_types[name]
        d = posixpath.dirname(mod.path)
        while True:
            conf = self.index.modules.get(posixpath.join(d, "conftest.py") if d else "conftest.py")
            if conf is not None and name in conf.fixture_types:
                desc = conf.fixture_types[name]
                if desc[0] == "value":
                    return ("__value__", self.resolve_name(desc[1], conf))
                if desc[0] in ("result", "type", "static"):
                    t = self.resolve_name(desc[1], conf)
                    if isinstance(t, ClassRef):
                        return ("__class__", t)
                    if isinstance(t, list):
                        return ("__value__", self._value_of_call(None, t))
                return None
            if not d:
                return None
            d = posixpath.dirname(d)


class _Package:
    """`import a.b` binds `a`; attribute access walks down to the module."""

    def __init__(self, name: str) -> None:
        self.name = name
