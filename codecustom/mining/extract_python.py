"""Python extraction: module functions, classes (nested too), methods, decorators, docstrings, pytest and
unittest tests (parametrized too), fixtures, imports and typed call sites of tests."""

from __future__ import annotations

import ast
import posixpath
import re

from tree_sitter import Node

from codecustom.mining import syntax
from codecustom.mining.facts import CallSite, ClassFacts, FileFacts, ImportFacts, MethodFacts
from codecustom.mining.syntax import Spans

_WS = re.compile(r"\s+")
SETUP_NAMES = {"setUp", "asyncSetUp", "setUpClass", "setup_method", "setup_class", "setup", "__init__"}
FIXTURE_NAMES = SETUP_NAMES | {"tearDown", "asyncTearDown", "tearDownClass", "teardown_method", "teardown_class",
                               "teardown", "setUpModule", "tearDownModule", "setup_module", "teardown_module",
                               "setup_function", "teardown_function"}
SCOPE_NODES = {"function_definition", "class_definition"}
# with-blocks whose body is "the assertion": pytest.raises(...), self.assertRaises(...), ...
RAISES_CONTEXTS = {"raises", "warns", "deprecated_call", "assertRaises", "assertRaisesRegex", "assertWarns",
                   "assertWarnsRegex", "assertLogs", "assertNoLogs"}
BUILTIN_DUNDERS = {"str": "__str__", "repr": "__repr__", "len": "__len__", "iter": "__iter__", "hash": "__hash__",
                   "bool": "__bool__", "abs": "__abs__", "format": "__format__", "bytes": "__bytes__",
                   "reversed": "__reversed__", "next": "__next__"}
CALLABLE_ASSERTS = {"assertRaises", "assertRaisesRegex", "assertWarns", "assertWarnsRegex", "raises", "warns"}


def one_line(text: str) -> str:
    return " ".join(text.split())


def is_test_path(path: str) -> bool:
    """pytest's default collection patterns (test_*.py, *_test.py) plus conftest.py and tests.py."""
    base = posixpath.basename(path)
    return base.startswith("test_") or base.endswith("_test.py") or base in ("conftest.py", "tests.py")


def module_name(path: str) -> str:
    """Dotted module name for a repo path (`src/pkg/mod.py` -> `src.pkg.mod`, `pkg/__init__.py` -> `pkg`)."""
    p = path[:-3] if path.endswith(".py") else path
    if p.endswith("/__init__"):
        p = p[: -len("/__init__")]
    return p.replace("/", ".")


def _assertion_name(name: str) -> bool:
    return name.startswith("assert") or name in ("fail", "raises", "warns")


class PythonExtractor:
    """Extracts :class:`FileFacts` from one Python file; one instance per process."""

    language = "python"

    def __init__(self) -> None:
        self.parser = syntax.parser("python")
        # one traversal per file: the .scm files are compiled into one query (locals/asserts for test files)
        self.q_test = syntax.query_set("python", "python", ("definitions", "calls", "locals", "assertions"))
        self.q_code = syntax.query_set("python", "python", ("definitions", "calls"))

    def extract(self, path: str, src: bytes, *, is_test_file: bool) -> FileFacts:
        tree = self.parser.parse(src)
        root = tree.root_node
        facts = FileFacts(path=path, language="python", package=module_name(path), is_test_file=is_test_file,
                          root_has_error=root.has_error)
        found = (self.q_test if is_test_file else self.q_code).run(root)
        caps: dict[str, list[Node]] = {}
        for m in found["definitions"]:
            for k, v in m.items():
                caps.setdefault(k, []).extend(v)
        for node in sorted(caps.get("import", []), key=lambda n: n.start_byte):
            if node.parent is not None and node.parent.type == "module":
                facts.imports.extend(self._imports(node, src, path))
            elif _scope_of(node) is None:  # imports under if/try at module level
                facts.imports.extend(self._imports(node, src, path))
        facts.module_fields = [one_line(syntax.text(c, src)) for c in root.named_children
                               if c.type == "expression_statement" and c.named_child_count
                               and c.named_children[0].type == "assignment"]

        class_by_node: dict[int, ClassFacts] = {}
        for node in sorted(caps.get("class", []), key=lambda n: n.start_byte):
            scope = _scope_of(node)
            if scope is not None and scope.id not in class_by_node:
                continue  # a class inside a function is part of that function
            outer = class_by_node.get(scope.id) if scope is not None else None
            if node.has_error:
                facts.syntax_errors += 1
                continue
            class_by_node[node.id] = cf = self._class(node, src, outer)
            facts.classes.append(cf)

        emitted: list[tuple[Node, MethodFacts]] = []
        for node in sorted(caps.get("function", []), key=lambda n: n.start_byte):
            scope = _scope_of(node)
            if scope is not None and scope.id not in class_by_node:
                continue  # nested function: part of its enclosing function
            if node.has_error:
                facts.syntax_errors += 1
                continue
            cls = class_by_node.get(scope.id) if scope is not None else None
            emitted.append((node, self._function(node, src, cls)))
        if root.has_error and facts.syntax_errors == 0:
            facts.syntax_errors = 1

        if is_test_file:
            self._mark_tests(facts, emitted)
        facts.methods = [mf for _, mf in emitted]
        self._calls(found, src, facts, emitted)
        return facts

    # -- declarations -------------------------------------------------------------------------

    @staticmethod
    def _imports(node: Node, src: bytes, path: str) -> list[ImportFacts]:
        text = one_line(syntax.text(node, src))
        out: list[ImportFacts] = []
        if node.type == "import_statement":
            for name in node.children_by_field_name("name"):
                if name.type == "aliased_import":
                    mod = syntax.text(name.child_by_field_name("name"), src)
                    out.append(ImportFacts(module=mod, name=None, alias=syntax.text(name.child_by_field_name("alias"), src), text=text))
                else:
                    mod = syntax.text(name, src)
                    out.append(ImportFacts(module=mod, name=None, alias=mod, text=text))
            return out
        if node.type == "future_import_statement":
            return out
        mod_node = node.child_by_field_name("module_name")
        module = syntax.text(mod_node, src)
        if module.startswith("."):
            module = _resolve_relative(module, path)
        if any(c.type == "wildcard_import" for c in node.children):
            return [ImportFacts(module=module, name="*", alias="*", text=text)]
        for name in node.children_by_field_name("name"):
            if name.type == "aliased_import":
                n = syntax.text(name.child_by_field_name("name"), src)
                out.append(ImportFacts(module=module, name=n, alias=syntax.text(name.child_by_field_name("alias"), src), text=text))
            else:
                n = syntax.text(name, src)
                out.append(ImportFacts(module=module, name=n, alias=n, text=text))
        return out

    def _class(self, node: Node, src: bytes, outer: ClassFacts | None) -> ClassFacts:
        name = syntax.text(node.child_by_field_name("name"), src)
        body = node.child_by_field_name("body")
        outer_node = node.parent if node.parent is not None and node.parent.type == "decorated_definition" else node
        decorators = _decorators(outer_node, src)
        header = one_line(src[node.start_byte:body.start_byte].decode("utf-8", "replace")) if body else name
        bases = []
        sup = node.child_by_field_name("superclasses")
        for b in sup.named_children if sup is not None else []:
            if b.type != "keyword_argument":
                bases.append(syntax.text(b, src).rsplit(".", 1)[-1])
        fields, ftypes = [], {}
        indent = ""
        if body is not None:
            indent = " " * body.start_point[1]
            for stmt in body.named_children:
                if stmt.type == "expression_statement" and stmt.named_child_count and stmt.named_children[0].type == "assignment":
                    asg = stmt.named_children[0]
                    fields.append(one_line(syntax.text(stmt, src)))
                    left, tnode = asg.child_by_field_name("left"), asg.child_by_field_name("type")
                    if left is not None and left.type == "identifier" and tnode is not None:
                        ftypes[syntax.text(left, src)] = syntax.text(tnode, src)
        return ClassFacts(
            name=name,
            qualname=f"{outer.qualname}.{name}" if outer else name,
            kind="class",
            header=header.rstrip(":").strip(),
            bases=bases,
            modifiers=decorators,
            fields=fields,
            field_types=ftypes,
            start_line=outer_node.start_point[0] + 1,
            end_line=node.end_point[0] + 1,
            indent=indent,
        )

    def _function(self, node: Node, src: bytes, cls: ClassFacts | None) -> MethodFacts:
        name = syntax.text(node.child_by_field_name("name"), src)
        body = node.child_by_field_name("body")
        outer = node.parent if node.parent is not None and node.parent.type == "decorated_definition" else node
        decorators = _decorators(outer, src)
        signature = one_line(src[node.start_byte:body.start_byte].decode("utf-8", "replace")).rstrip(":").rstrip()
        params, types = [], []
        min_arity, max_arity, varargs = 0, 0, False
        plist = node.child_by_field_name("parameters")
        for p in plist.named_children if plist else []:
            t = p.type
            if t in ("list_splat_pattern", "dictionary_splat_pattern"):
                varargs = True
                params.append(syntax.text(p, src))
                types.append(None)
                continue
            if t in ("keyword_separator", "positional_separator"):
                continue
            params.append(one_line(syntax.text(p, src)))
            tnode = p.child_by_field_name("type")
            types.append(syntax.text(tnode, src) if tnode is not None else None)
            max_arity += 1
            if t in ("identifier", "typed_parameter"):
                min_arity += 1
        is_static = any(d in ("@staticmethod",) for d in decorators)
        if cls is not None and not is_static and params and params[0].split(":")[0].strip() in ("self", "cls") \
                or (cls is not None and not is_static and params and "@classmethod" in decorators):
            params, types = params[1:], types[1:]
            min_arity, max_arity = max(0, min_arity - 1), max_arity - 1
        rtype = node.child_by_field_name("return_type")
        doc = None
        if body is not None and body.named_child_count:
            first = body.named_children[0]
            if first.type == "expression_statement" and first.named_child_count and first.named_children[0].type == "string":
                doc = _string_value(syntax.text(first.named_children[0], src))
        return MethodFacts(
            name=name,
            class_name=cls.qualname if cls else None,
            signature=signature,
            params=params,
            param_types=types,
            min_arity=min_arity,
            max_arity=None if varargs else max_arity,
            return_type=syntax.text(rtype, src) if rtype is not None else None,
            modifiers=decorators,
            docstring=doc,
            body=syntax.dedent_body(syntax.text(outer, src), outer.start_point[1]),
            start_line=outer.start_point[0] + 1,
            end_line=node.end_point[0] + 1,
            start_col=outer.start_point[1],
            is_constructor=cls is not None and name == "__init__",
            is_static=is_static,
        )

    @staticmethod
    def _mark_tests(facts: FileFacts, emitted: list[tuple[Node, MethodFacts]]) -> None:
        by_qual = {c.qualname: c for c in facts.classes}
        for _, mf in emitted:
            fixture = any(d.startswith(("@pytest.fixture", "@fixture", "@pytest_asyncio.fixture")) for d in mf.modifiers)
            if fixture or mf.name in FIXTURE_NAMES:
                mf.is_fixture = True
                mf.is_setup = mf.name in SETUP_NAMES or fixture
                continue
            if not mf.name.startswith("test"):
                continue
            if mf.class_name is None:
                mf.is_test, mf.framework = True, "pytest"
                continue
            cls = by_qual.get(mf.class_name)
            if cls is None:
                continue
            mf.is_test = True
            cls.is_test_class = True
            mf.framework = "unittest" if _is_unittest(cls, by_qual) else "pytest"
        for cls in facts.classes:
            if cls.is_test_class and "." in cls.qualname:
                cls.is_nested_test = True

    # -- calls ----------------------------------------------------------------------------------

    def _calls(self, found: dict, src: bytes, facts: FileFacts, emitted: list[tuple[Node, MethodFacts]]) -> None:
        if not emitted:
            return
        spans = Spans([(n.start_byte, n.end_byte) for n, _ in emitted])
        raw: list[list[tuple[Node, str]]] = [[] for _ in emitted]
        for caps in found["calls"]:
            node = caps["call"][0]
            i = spans.find(node.start_byte, node.end_byte)
            if i is not None:
                raw[i].append((node, syntax.text(caps["name"][0], src)))
        detailed = {i for i, (_, mf) in enumerate(emitted) if mf.is_test or mf.is_setup or mf.is_fixture}
        scopes: dict[int, dict] = {i: {} for i in detailed}
        asserts: dict[int, list[tuple[int, int]]] = {i: [] for i in detailed}
        if detailed:
            self._collect_scopes(found.get("locals", []), src, spans, scopes)
            for caps in found.get("assertions", []):
                if "assert" in caps:
                    node = caps["assert"][0]
                elif syntax.text(caps["ctx_name"][0], src) in RAISES_CONTEXTS:
                    node = caps["with_assert"][0]
                else:
                    continue
                i = spans.find(node.start_byte, node.end_byte)
                if i in asserts:
                    asserts[i].append((node.start_byte, node.end_byte))
        by_qual = {c.qualname: c for c in facts.classes}
        imported = {imp.alias for imp in facts.imports}
        order = sorted(range(len(emitted)), key=lambda i: (not emitted[i][1].is_setup, i))  # setups first: they type self.x
        for i in order:
            node, mf = emitted[i]
            calls = sorted(raw[i], key=lambda c: c[0].end_byte)
            mf.calls = [name for _, name in calls]
            if i not in detailed:
                continue
            cls = by_qual.get(mf.class_name) if mf.class_name else None
            scope = scopes[i]
            if plist := node.child_by_field_name("parameters"):
                for p in plist.named_children:
                    if p.type == "identifier":
                        pname = syntax.text(p, src)
                        if pname not in ("self", "cls") and pname not in scope:
                            scope[pname] = ("fixture", pname)
            index_of: dict[int, int] = {}
            spans_assert = list(asserts.get(i, []))
            for cnode, name in calls:
                if name.startswith("assert") and name not in CALLABLE_ASSERTS:
                    # plain assertions only mark where "act" ends; they never resolve to repo code
                    spans_assert.append((cnode.start_byte, cnode.end_byte))
                    continue
                for site in self._sites(cnode, name, src, scope, index_of, imported):
                    index_of.setdefault(cnode.id, len(mf.call_sites))
                    mf.call_sites.append(site)
                if _assertion_name(name):
                    spans_assert.append((cnode.start_byte, cnode.end_byte))
            if spans_assert:
                mf.has_assert = True
                mf.first_assert_end = min(spans_assert)[1]
            if mf.is_setup and cls is not None:
                for var, desc in list(scope.items()):
                    if var.startswith("self."):
                        if desc[0] == "expr":
                            desc = self._value_type(desc[1], src, scope, index_of, imported)
                        cls.attr_types.setdefault(var[5:], _portable(desc, mf.call_sites))
            if mf.is_fixture and mf.class_name is None:
                ret = self._returned(node, src, scope, index_of, mf.call_sites, imported)
                if ret is not None:
                    facts.fixture_types[mf.name] = ret

    def _collect_scopes(self, local_matches: list, src: bytes, spans: Spans, scopes: dict[int, dict]) -> None:
        for caps in local_matches:
            bind = caps["bind"][0]
            i = spans.find(bind.start_byte, bind.end_byte)
            if i not in scopes:
                continue
            var = syntax.text(caps["var"][0], src)
            if "type" in caps:
                desc = ("type", syntax.text(caps["type"][0], src).strip("'\""))
            elif "value" in caps:
                desc = ("expr", caps["value"][0])  # typed lazily, once call sites are numbered
            else:
                continue
            scopes[i].setdefault(var, desc)

    def _sites(self, node: Node, name: str, src: bytes, scope: dict, index_of: dict[int, int], imported: set[str]):
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        argn = [a for a in args.named_children if a.type != "comment"] if args is not None and args.type == "argument_list" else []
        nargs = None if any(a.type in ("list_splat", "dictionary_splat") for a in argn) else len(argn)
        if fn.type == "identifier":
            receiver: tuple = ("global",)
        else:
            receiver = self._type_of(fn.child_by_field_name("object"), src, scope, index_of, imported)
        yield CallSite(name=name, receiver=receiver, nargs=nargs, end=node.end_byte,
                       is_new=fn.type == "identifier" and name[:1].isupper())
        # str(x), len(x), ... call x.__str__(), x.__len__(), ...
        if fn.type == "identifier" and name in BUILTIN_DUNDERS and nargs == 1 and argn[0].type != "keyword_argument":
            yield CallSite(name=BUILTIN_DUNDERS[name], receiver=self._type_of(argn[0], src, scope, index_of, imported),
                           nargs=0, end=node.end_byte - 1)
        # self.assertRaises(E, func, *args) / pytest.raises(E, func, *args): func is called with the rest.
        if name in CALLABLE_ASSERTS and len(argn) >= 2 and argn[1].type in ("identifier", "attribute"):
            target = argn[1]
            if target.type == "identifier":
                tname, trecv = syntax.text(target, src), ("global",)
            else:
                tname = syntax.text(target.child_by_field_name("attribute"), src)
                trecv = self._type_of(target.child_by_field_name("object"), src, scope, index_of, imported)
            rest = [a for a in argn[2:] if a.type != "keyword_argument"]
            yield CallSite(name=tname, receiver=trecv, nargs=None if nargs is None else len(rest), end=node.end_byte - 1)

    def _type_of(self, node: Node | None, src: bytes, scope: dict, index_of: dict[int, int], imported: set[str]) -> tuple:
        if node is None:
            return ("unknown", "")
        t = node.type
        if t == "identifier":
            name = syntax.text(node, src)
            if name in ("self", "cls"):
                return ("self",)
            if name in scope:
                desc = scope[name]
                if desc[0] == "expr":
                    desc = self._value_type(desc[1], src, scope, index_of, imported)
                    scope[name] = desc
                return desc
            return ("static", name)
        if t == "attribute":
            obj = node.child_by_field_name("object")
            attr = syntax.text(node.child_by_field_name("attribute"), src)
            if obj is not None and obj.type == "identifier":
                oname = syntax.text(obj, src)
                if oname == "self":
                    key = f"self.{attr}"
                    if key in scope:
                        desc = scope[key]
                        if desc[0] == "expr":
                            desc = self._value_type(desc[1], src, scope, index_of, imported)
                            scope[key] = desc
                        return desc
                    return ("selfattr", attr)
            dotted = syntax.text(node, src)
            if re.fullmatch(r"[\w.]+", dotted) and dotted.split(".", 1)[0] in imported and dotted.split(".", 1)[0] not in scope:
                return ("static", dotted)
            return ("unknown", attr)
        if t == "call":
            if node.id in index_of:
                return ("call", index_of[node.id])
            return self._value_type(node, src, scope, index_of, imported)
        if t == "parenthesized_expression" and node.named_child_count:
            return self._type_of(node.named_children[0], src, scope, index_of, imported)
        if t == "string":
            return ("type", "str")
        return ("unknown", "")

    def _value_type(self, value: Node, src: bytes, scope: dict, index_of: dict[int, int], imported: set[str]) -> tuple:
        """The type a value expression gives the name it is bound to."""
        if value.type == "await" and value.named_child_count:
            value = value.named_children[0]
        if value.type == "call":
            fn = value.child_by_field_name("function")
            if fn is not None and (fn.type == "identifier" or (fn.type == "attribute" and re.fullmatch(r"[\w.]+", syntax.text(fn, src)))):
                dotted = syntax.text(fn, src)
                head = dotted.split(".", 1)[0]
                if head == "self" or head in scope:
                    if value.id in index_of:
                        return ("call", index_of[value.id])
                    return ("unknown", "")
                return ("result", dotted)
            if value.id in index_of:
                return ("call", index_of[value.id])
            return ("unknown", "")
        return self._type_of(value, src, scope, index_of, imported) if value.type in ("identifier", "attribute") else ("unknown", "")

    def _returned(self, node: Node, src: bytes, scope: dict, index_of, sites, imported) -> tuple | None:
        """What a fixture returns or yields, when it is a constructor/function call or a typed name."""
        body = node.child_by_field_name("body")
        for stmt in body.named_children if body is not None else []:
            target = None
            if stmt.type == "return_statement" and stmt.named_child_count:
                target = stmt.named_children[0]
            elif stmt.type == "expression_statement" and stmt.named_child_count and stmt.named_children[0].type == "yield":
                y = stmt.named_children[0]
                target = y.named_children[0] if y.named_child_count else None
            if target is None:
                continue
            if target.type == "call":
                fn = target.child_by_field_name("function")
                dotted = syntax.text(fn, src)
                if re.fullmatch(r"[\w.]+", dotted) and dotted.split(".", 1)[0] not in scope:
                    return ("result", dotted)
            desc = self._type_of(target, src, scope, index_of, imported)
            return _portable(desc, sites)
        return None


def _portable(desc: tuple, sites: list[CallSite]) -> tuple:
    """A receiver usable outside the method it came from (no call indexes, no nodes)."""
    if desc[0] == "expr":
        return ("unknown", "")
    if desc[0] == "call":
        site = sites[desc[1]]
        if site.receiver[0] == "global":
            return ("result", site.name)
        if site.receiver[0] == "static":
            return ("result", f"{site.receiver[1]}.{site.name}")
        return ("unknown", "")
    return desc


def _scope_of(node: Node) -> Node | None:
    """Nearest enclosing function or class definition (None at module level)."""
    p = node.parent
    while p is not None:
        if p.type in SCOPE_NODES:
            return p
        p = p.parent
    return None


def _decorators(outer: Node, src: bytes) -> list[str]:
    if outer.type != "decorated_definition":
        return []
    return [one_line(syntax.text(c, src)) for c in outer.named_children if c.type == "decorator"]


def _is_unittest(cls: ClassFacts, by_qual: dict[str, ClassFacts], depth: int = 0) -> bool:
    if any(b.endswith("TestCase") for b in cls.bases):
        return True
    if depth > 5:
        return False
    return any(_is_unittest(by_qual[b], by_qual, depth + 1) for b in cls.bases if b in by_qual and by_qual[b] is not cls)


def _string_value(text: str) -> str:
    try:
        value = ast.literal_eval(text)
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text.strip("'\"rbuRBU")


def _resolve_relative(module: str, path: str) -> str:
    """`..util` imported from `pkg/sub/mod.py` -> `pkg.util`."""
    dots = len(module) - len(module.lstrip("."))
    rest = module[dots:]
    parts = posixpath.dirname(path).split("/") if posixpath.dirname(path) else []
    if dots > 1:
        parts = parts[: len(parts) - (dots - 1)] if dots - 1 <= len(parts) else []
    base = ".".join(p for p in parts if p)
    return ".".join(x for x in (base, rest) if x)
