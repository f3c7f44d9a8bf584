"""Java focal rules: test class → focal class, and typing of a test's call sites.

Focal class, in order: the path rule (src/test/... → src/main/..., with the class name stripped of a
leading/trailing `Test` — the name only, never the rest of the path), the same package, the test file's
imports, a unique class of that name in the repo, then the longest class name the test class name starts
with. Nested test classes (JUnit 5 @Nested) look for a nested focal class first, then use their outer
class's focal class and offer their own name to the `name` heuristic.
"""

from __future__ import annotations

import dataclasses
import posixpath

from codecustom.mining.facts import CallSite
from codecustom.mining.index import ClassRef, CodeIndex, MethodRef, ModuleRef, TestRef
from codecustom.mining.mapping import FocalScope, Resolved, strip_test_class, words

_PRIMITIVE_WIDEN = {
    "byte": {"short", "int", "long", "float", "double"},
    "short": {"int", "long", "float", "double"},
    "char": {"int", "long", "float", "double"},
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
}
_BOXED = {"int": "Integer", "long": "Long", "double": "Double", "float": "Float", "boolean": "Boolean",
          "char": "Character", "byte": "Byte", "short": "Short"}
_UNBOXED = {v: k for k, v in _BOXED.items()}
# JDK interfaces a repository class only implements by naming them (or a class that does) among its supertypes
_JDK_INTERFACES = {"Iterable", "Collection", "List", "Set", "SortedSet", "NavigableSet", "Queue", "Deque", "Map",
                   "SortedMap", "NavigableMap", "Iterator", "CharSequence"}
_STRINGISH = {"String", "CharSequence", "Object", "Comparable", "Serializable"}
_READER = {"Reader", "Readable", "Closeable", "AutoCloseable"}
_WRITER = {"Writer", "Appendable", "Closeable", "Flushable", "AutoCloseable"}
# every supertype of JDK classes tests often pass where a library offers sibling overloads
# (Gson.toJson(Object, Type) next to toJson(Object, Appendable): a Class is a Type, never an Appendable)
_JDK_SUPERTYPES = {
    "Class": {"Type", "GenericDeclaration", "AnnotatedElement", "Serializable", "TypeDescriptor", "OfField", "Constable"},
    "StringReader": _READER, "BufferedReader": _READER, "InputStreamReader": _READER, "FileReader": _READER,
    "CharArrayReader": _READER,
    "StringWriter": _WRITER, "PrintWriter": _WRITER, "BufferedWriter": _WRITER, "OutputStreamWriter": _WRITER,
    "FileWriter": _WRITER, "CharArrayWriter": _WRITER,
    "StringBuilder": {"CharSequence", "Appendable", "Serializable", "Comparable"},
    "StringBuffer": {"CharSequence", "Appendable", "Serializable", "Comparable"},
    "ByteArrayInputStream": {"InputStream", "Closeable", "AutoCloseable"},
    "ByteArrayOutputStream": {"OutputStream", "Closeable", "Flushable", "AutoCloseable"},
}


def type_score(arg: str | None, param: str | None) -> int | None:
    """2 exact, 1 compatible or unknown, None incompatible."""
    if arg is None or param is None:
        return 1
    p = param.removesuffix("...")
    if arg == p or _BOXED.get(arg) == p or _UNBOXED.get(arg) == p:
        return 2
    if param.endswith("...") and arg == p + "[]":
        return 2  # an array passed to varargs
    if arg.endswith("[]") or p.endswith("[]"):
        if p == "Object" or (arg == "null" and p.endswith("[]")):
            return 1
        if not (arg.endswith("[]") and p.endswith("[]")):
            return None  # an array for a non-array parameter or the other way round
        a_el, p_el = arg[:-2], p[:-2]
        primitive = a_el in _PRIMITIVE_WIDEN or a_el in ("boolean", "double")
        if not primitive and (p_el == "Object" or (len(p_el) <= 2 and p_el[:1].isupper())):
            return 1  # arrays are covariant; T[] takes any reference array
        return None
    if len(p) <= 2 and p[:1].isupper():  # a type variable (T, E, K2)
        return 1
    if p == "Object":
        return 1
    if arg == "null":
        return None if p in _PRIMITIVE_WIDEN or p in ("boolean", "double") else 1
    if arg == "lambda":
        return None if p in _PRIMITIVE_WIDEN or p in ("boolean", "double", "String") else 1
    if arg in _PRIMITIVE_WIDEN or arg in ("boolean", "double"):
        base = _UNBOXED.get(p, p)
        if base in _PRIMITIVE_WIDEN.get(arg, ()) or p in ("Number",) and arg != "boolean":
            return 1
        if base in _PRIMITIVE_WIDEN or base in ("boolean", "double") or p == "String":
            return None
        return 1 if p not in _STRINGISH else None
    if arg == "String":
        # String is final: it can only be passed as itself or one of its supertypes (or a type variable, above)
        base = p.split("<")[0].rsplit(".", 1)[-1]
        return 1 if base in _STRINGISH or base in ("Constable", "ConstantDesc") else None
    if p in _PRIMITIVE_WIDEN or p in ("boolean", "double"):
        return None if arg not in _UNBOXED else 1
    sups = _JDK_SUPERTYPES.get(arg)
    if sups is not None:
        base = p.split("<")[0].split(".")[-1]
        return 1 if base in sups or base == arg else None
    return 1


def choose_overload(methods: list[MethodRef], site: CallSite, repo_types=None) -> list[MethodRef]:
    """Overloads a call can bind to: arity first, then argument types; the best-scoring ones.

    ``repo_types(arg, param)`` may veto a pair using the repository's own class hierarchy (an argument
    of type Date can never be passed as the repo's JsonElement)."""
    ok = [m for m in methods if m.accepts(site.nargs)]
    if len(ok) <= 1 or not site.arg_types:
        return ok
    scored = []
    for m in ok:
        total = 0
        for i, a in enumerate(site.arg_types):
            if i < len(m.param_types):
                p = m.param_types[i]
            elif m.param_types and (m.param_types[-1] or "").endswith("..."):
                p = m.param_types[-1]
            else:
                p = None
            s = type_score(a, p)
            if s == 1 and repo_types is not None and a is not None and p is not None and not repo_types(a, p.removesuffix("...")):
                s = None
            if s is None:
                break
            total += s
        else:
            # a varargs overload is a worse match than a fixed-arity one (Java's phase 3)
            if m.max_arity is None:
                total -= 1
            scored.append((total, m))
    if not scored:
        return []
    best = max(s for s, _ in scored)
    tied = [m for s, m in scored if s == best]
    if len(tied) > 1:  # Java picks the most specific: a null or unknown argument goes to a non-Object parameter
        for i, a in enumerate(site.arg_types):
            if a in (None, "null"):
                specific = [m for m in tied if i < len(m.param_types) and (m.param_types[i] or "Object") != "Object"]
                if specific and len(specific) < len(tied):
                    tied = specific
    return tied


class JavaFocalRules:
    """Focal scope and call typing for Java tests."""

    def prepare(self, index: CodeIndex) -> None:
        self.index = index
        self._scope_cache: dict[str, FocalScope] = {}
        self._members_cache: dict[tuple[ClassRef, str, int], list[MethodRef]] = {}  # the index is frozen by now
        self._overload_cache: dict[tuple, list[MethodRef]] = {}
        self._assignable_cache: dict[tuple[str, str], bool] = {}
        self._helpers_cache: dict[ClassRef | None, set[str]] = {}
        self._children: dict[str, list[ClassRef]] | None = None  # simple base name -> repository subclasses

    # -- focal class ---------------------------------------------------------------------------

    def scope(self, test: TestRef) -> FocalScope:
        cls = test.method.cls
        if cls is None:
            return FocalScope()
        if cls.key not in self._scope_cache:
            self._scope_cache[cls.key] = self._scope_for(cls)
        s = self._scope_cache[cls.key]
        return s  # shared by every test of the class/module; the mapper never changes it

    def _scope_for(self, cls: ClassRef) -> FocalScope:
        if cls.outer is None:
            focal, rule = self.focal_class(cls)
            return FocalScope(classes=[focal] if focal else [], rule=rule if focal else "none")
        outer_scope = self._scope_for(cls.outer)
        stripped = strip_test_class(cls.name)
        focal = outer_scope.classes[0] if outer_scope.classes else None
        if focal is not None and stripped in focal.nested:
            return FocalScope(classes=[focal.nested[stripped]], rule="nested")
        if stripped != cls.name:
            other, rule = self.focal_class(cls)
            if other is not None and other is not focal:
                return FocalScope(classes=[other], rule=rule)
        hints = outer_scope.name_hints + ([cls.name] if cls.is_test_class else [])
        return FocalScope(classes=list(outer_scope.classes), rule=outer_scope.rule, name_hints=hints)

    def focal_class(self, cls: ClassRef) -> tuple[ClassRef | None, str]:
        """methods2test's path + name rule, done right, then package, imports, unique name, name prefix."""
        stripped = strip_test_class(cls.name)
        mod = self.index.modules.get(cls.path)
        if stripped != cls.name:
            parts = posixpath.dirname(cls.path).split("/") if posixpath.dirname(cls.path) else []
            for i, part in enumerate(parts):
                if part not in ("test", "tests", "testFixtures", "it"):
                    continue
                for repl in ("main", "src", None):
                    new = parts[:i] + ([repl] if repl else []) + parts[i + 1:]
                    cand = self.index.modules.get("/".join(new + [stripped + ".java"]))
                    if cand is not None and stripped in cand.classes and not cand.classes[stripped].is_test_class:
                        return cand.classes[stripped], "path"
            found = self._by_name(stripped, cls, mod)
            if found[0] is not None:
                return found
        # name prefix: `GsonTypeAdapterEdgeCasesTest` -> `GsonTypeAdapter`
        ws = [w for w in _camel_words(stripped)]
        for k in range(len(ws) - 1, 0, -1):
            found = self._by_name("".join(ws[:k]), cls, mod)
            if found[0] is not None:
                return found[0], "name_prefix"
        return None, "none"

    def _by_name(self, name: str, cls: ClassRef, mod: ModuleRef | None) -> tuple[ClassRef | None, str]:
        cands = [c for c in self.index.focal_classes(name) if c.outer is None] or self.index.focal_classes(name)
        if not cands:
            return None, "none"
        same_pkg = [c for c in cands if c.package == cls.package]
        if len(same_pkg) == 1:
            return same_pkg[0], "package"
        if mod is not None:
            for imp in mod.imports:
                if not imp.is_static and imp.alias == name:
                    pkg = imp.module.rsplit(".", 1)[0]
                    hit = [c for c in cands if c.package == pkg or f"{c.package}.{c.qualname}" == imp.module]
                    if len(hit) == 1:
                        return hit[0], "import"
            wild = {imp.module for imp in mod.imports if imp.alias == "*" and not imp.is_static}
            hit = [c for c in cands if c.package in wild]
            if len(hit) == 1:
                return hit[0], "import"
        if len(cands) == 1:
            return cands[0], "name"
        return None, "none"

    # -- call typing ---------------------------------------------------------------------------

    def class_named(self, name: str, test: TestRef, scope: FocalScope) -> ClassRef | None:
        """The class a simple type name in a test refers to (None for JDK/library/test types)."""
        for c in scope.classes:
            if c.name == name:
                return c
            if name in c.nested:
                return c.nested[name]
        tcls = test.method.cls
        chain = tcls
        while chain is not None:  # a type declared in the test class itself is test code
            if name in chain.nested or chain.name == name:
                return None
            chain = chain.outer
        found, _ = self._by_name(name, tcls, self.index.modules.get(test.method.path)) if tcls else (None, "")
        if found is None:
            for c in scope.classes:  # nested in an outer class of the focal class
                o = c.outer
                while o is not None:
                    if name in o.nested:
                        return o.nested[name]
                    o = o.outer
        return found

    def members(self, cls: ClassRef, name: str, depth: int = 0) -> list[MethodRef]:
        """Methods named ``name`` a call on ``cls`` can reach: its own, then inherited ones it does not override
        (a subclass's encode(byte[], int, int, Context) does not hide the superclass's encode(byte[]))."""
        cached = self._members_cache.get((cls, name, depth))
        if cached is not None:  # diamond-shaped hierarchies reach the same (class, depth) many times
            return list(cached)
        found = list(cls.by_name(name))
        if depth >= 4:
            return found
        seen = {m.param_types for m in found}
        for base in cls.bases:
            for b in self.index.focal_classes(base):
                if b is not cls:
                    for m in self.members(b, name, depth + 1):
                        if m.param_types not in seen:
                            seen.add(m.param_types)
                            found.append(m)
        self._members_cache[(cls, name, depth)] = found
        return list(found)

    def assignable(self, arg: str, param: str) -> bool:
        """False only when the parameter is one of the repo's own types and the argument's type provably is not
        one of its subtypes (library types cannot extend repo types; repo types declare their supertypes)."""
        key = (arg, param)
        found = self._assignable_cache.get(key)
        if found is None:
            found = self._assignable_cache[key] = self._assignable(arg, param)
        return found

    def _assignable(self, arg: str, param: str) -> bool:
        targets = self.index.focal_classes(param)
        base = param.split("<")[0]
        if not targets and base in _JDK_INTERFACES and arg != base:
            # an enum constant passed where an Iterable goes: only if the repo type implements it
            sources = self.index.classes_by_name.get(arg, ())
            return not sources or not all(self._lacks_supertype(s, base) for s in sources)
        if not targets or arg == param or param in _JDK_SUPERTYPES.get(arg, ()):
            return True  # a JDK class cannot extend a repo type: a parameter named like its JDK supertype is that
        sources = self.index.focal_classes(arg)
        if not sources:
            return arg in ("null", "lambda") or not (arg[:1].isupper() or arg in _BOXED or arg == "String")
        return any(self.is_supertype(t, s) for s in sources for t in targets)

    def is_supertype(self, sup: ClassRef, cls: ClassRef, depth: int = 0) -> bool:
        """Whether ``sup`` is a (transitive) superclass or interface of ``cls`` within the repo (memoised)."""
        if depth == 0:
            key = ("sup", id(sup), id(cls))
            found = self._assignable_cache.get(key)  # type: ignore[arg-type]
            if found is None:
                found = self._assignable_cache[key] = self._is_supertype(sup, cls, 0)  # type: ignore[index]
            return found
        return self._is_supertype(sup, cls, depth)

    def _is_supertype(self, sup: ClassRef, cls: ClassRef, depth: int) -> bool:
        if depth > 5:
            return False
        for base in cls.bases:
            if base == sup.name:
                return True
            for b in self.index.focal_classes(base):
                if b is not cls and self._is_supertype(sup, b, depth + 1):
                    return True
        return False

    def resolve(self, test: TestRef, scope: FocalScope) -> list[Resolved]:
        out: list[Resolved] = []
        mod = self.index.modules.get(test.method.path)
        helpers = self._helper_names(test.method.cls)
        for i, site in enumerate(test.call_sites):
            if any(a is not None and a.endswith("#") for a in site.arg_types):
                site = dataclasses.replace(site, arg_types=tuple(self._constant_type(a) for a in site.arg_types))
            cls, strong = self._receiver_class(site, test, scope, out, mod, helpers)
            targets: list[MethodRef] = []
            if cls is not None and not site.is_new and scope.classes and cls is not scope.classes[0] \
                    and self.is_supertype(cls, scope.classes[0]):
                # declared as an interface/superclass of the focal class: the call dispatches to the focal class
                focal_targets = self._overloads(scope.classes[0], site)
                if focal_targets:
                    cls = scope.classes[0]
            if cls is not None:
                targets = self._overloads(cls, site, site.is_new)
                if targets and not site.is_new and not any(t.has_body for t in targets) and site.receiver[0] != "const":
                    targets = self._implementation(targets) or targets
                if site.receiver[0] == "const" and targets and not any(t.has_body for t in targets):
                    # Converter.DATE.apply(s): the constant's body is a lambda or an anonymous class, no method we see
                    targets = []
            elif not strong and not site.is_new:  # receiver of unknown type: by name in the focal class (weak)
                strong = False
                for c in scope.classes:
                    targets = self._overloads(c, site)
                    if targets:
                        cls = c
                        break
            r = Resolved(i, site, cls, targets, strong)
            r.helper = site.receiver == ("self",) and site.name in helpers
            out.append(r)
        return out

    def _implementation(self, declared: list[MethodRef]) -> list[MethodRef]:
        """For a call bound to a bodiless interface/abstract method: the body that runs when exactly one repository
        class below its declaring type declares one (Template.apply -> BaseTemplate.apply), else nothing."""
        if len(declared) != 1 or declared[0].cls is None:
            return []
        decl = declared[0]
        key = ("impl", id(decl))
        found = self._overload_cache.get(key)
        if found is None:
            found = []
            for cls in self._subclasses(decl.cls):
                found += [m for m in cls.by_name(decl.name) if m.has_body and m.param_types == decl.param_types]
            found = found if len(found) == 1 else []
            self._overload_cache[key] = found
        return list(found)

    def _subclasses(self, root: ClassRef) -> list[ClassRef]:
        """Repository classes (outside test files) that extend or implement ``root``, transitively."""
        if self._children is None:
            self._children = {}
            for c in self.index.classes.values():
                if not c.in_test_file:
                    for b in c.bases:
                        self._children.setdefault(b, []).append(c)
        out, todo, seen = [], [root], {id(root)}
        while todo:
            for child in self._children.get(todo.pop().name, ()):
                if id(child) not in seen:
                    seen.add(id(child))
                    out.append(child)
                    todo.append(child)
        return out

    def _overloads(self, cls: ClassRef, site: CallSite, constructors: bool = False) -> list[MethodRef]:
        """:func:`choose_overload` over ``cls``'s constructors or its members named like the call, memoised: the
        answer depends only on the class, the name, the arity and the argument types (the index is frozen), and
        a repository's tests repeat the same calls many times."""
        key = (cls, constructors, site.name, site.nargs, site.arg_types)
        found = self._overload_cache.get(key)
        if found is None:
            methods = cls.constructors() if constructors else self.members(cls, site.name)
            found = self._overload_cache[key] = choose_overload(methods, site, self.assignable)
        return list(found)

    def _constant_type(self, arg: str | None) -> str | None:
        """`Traffic#` (the constant Traffic.RED) is a Traffic when Traffic is a repository enum; else unknown
        (Calendar.MINUTE is an int)."""
        if arg is None or not arg.endswith("#"):
            return arg
        cands = self.index.classes_by_name.get(arg[:-1], ())  # test code declares enums too (Traffic in EnumUtilsTest)
        return arg[:-1] if cands and all(c.kind == "enum" for c in cands) else None

    def _lacks_supertype(self, cls: ClassRef, name: str, depth: int = 0) -> bool:
        """True when every supertype of ``cls`` is a repository class and none is ``name``."""
        if depth > 5:
            return False
        for base in cls.bases:
            if base == name:
                return False
            found = [b for b in self.index.classes_by_name.get(base, ()) if b is not cls]
            if not found or not all(self._lacks_supertype(b, name, depth + 1) for b in found):
                return False
        return True

    def _helper_names(self, cls: ClassRef | None) -> set[str]:
        """Names of the methods of a test class and its outer classes (shared per class; callers only read it)."""
        found = self._helpers_cache.get(cls)
        if found is None:
            found = self._helpers_cache[cls] = self._helper_names_of(cls)
        return found

    @staticmethod
    def _helper_names_of(cls: ClassRef | None) -> set[str]:
        names: set[str] = set()
        while cls is not None:
            names.update(m.name for m in cls.methods)
            cls = cls.outer
        return names

    def _receiver_class(self, site: CallSite, test: TestRef, scope: FocalScope, done: list[Resolved],
                        mod: ModuleRef | None, helpers: set[str]) -> tuple[ClassRef | None, bool]:
        kind = site.receiver[0]
        if kind == "type" and len(site.receiver) > 2:
            # declared as an interface, created as a repo class (`CommandLineParser p = new DefaultParser()`):
            # the created class's method runs
            made = self.class_named(site.receiver[2], test, scope)
            if made is not None and self.members(made, site.name):
                return made, True
        if kind in ("type", "static", "const"):
            return self.class_named(site.receiver[1], test, scope), True
        if kind == "self":
            if site.name in helpers:
                return None, True
            for imp in mod.imports if mod is not None else ():
                if imp.is_static and (imp.alias == site.name or imp.alias == "*"):
                    owner = imp.module.rsplit(".", 1)[0] if imp.alias != "*" else imp.module
                    c = self.class_named(owner.rsplit(".", 1)[-1], test, scope)
                    if c is not None and c.by_name(site.name):
                        return c, True
            return None, True
        if kind == "call":
            prev = done[site.receiver[1]] if site.receiver[1] < len(done) else None
            if prev is None or prev.cls is None:
                return None, False
            if prev.site.is_new:
                return prev.cls, prev.strong
            m = prev.method
            if m is None and prev.targets and len({t.return_type for t in prev.targets}) == 1:
                m = prev.targets[0]  # overloads not told apart, but they all return the same type
            if m is None or not m.return_type:
                return None, False
            rtype = m.return_type.split("<")[0].split(".")[-1].strip()
            # a type named in a declaration means the one visible there: DefaultParser.builder() returns
            # DefaultParser.Builder, not the focal class's own nested Builder
            c = m.cls
            while c is not None:
                if c.name == rtype:
                    return c, prev.strong
                if rtype in c.nested:
                    return c.nested[rtype], prev.strong
                c = c.outer
            return self.class_named(rtype, test, scope), prev.strong
        return None, False


def _camel_words(name: str) -> list[str]:
    import re
    return re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z0-9]+|[A-Z]+", name)


__all__ = ["JavaFocalRules", "choose_overload", "type_score", "words"]
