"""Python extraction: module functions, classes (nested too), methods, decorators, docstrings, pytest and
unittest tests (parametrized too), fixtures, imports and typed call sites of tests."""

from __future__ import annotations

import ast
import posixpath
import re

from tree_sitter import Node

from codecustom.mining import syntax
from codecustom.mining.facts import ClassFacts, FileFacts, ImportFacts, MethodFacts
from codecustom.mining.python_sites import (CALLABLE_ASSERTS, RAISES_CONTEXTS, SiteBuilder, is_assertion_call, portable,
                                            returns_of)
from codecustom.mining.syntax import Spans
from codecustom.mining.testconfig import DEFAULT_NAMING, PythonNaming

_WS = re.compile(r"\s+")
SETUP_NAMES = {"setUp", "asyncSetUp", "setUpClass", "setup_method", "setup_class", "setup", "__init__"}
FIXTURE_NAMES = SETUP_NAMES | {"tearDown", "asyncTearDown", "tearDownClass", "teardown_method", "teardown_class",
                               "teardown", "setUpModule", "tearDownModule", "setup_module", "teardown_module",
                               "setup_function", "teardown_function"}
SCOPE_NODES = {"function_definition", "class_definition"}


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


class PythonExtractor:
    """Extracts :class:`FileFacts` from one Python file; one instance per process."""

    language = "python"

    def __init__(self) -> None:
        self.parser = syntax.parser("python")
        # one traversal per file: the .scm files are compiled into one query (locals/asserts for test files)
        self.q_test = syntax.query_set("python", "python", ("definitions", "calls", "locals", "assertions", "protocols"))
        self.q_code = syntax.query_set("python", "python", ("definitions", "calls"))

    def extract(self, path: str, src: bytes, *, is_test_file: bool, naming: PythonNaming = DEFAULT_NAMING) -> FileFacts:
        """Facts of one file; ``naming`` is the project's pytest naming (python_functions / python_classes). A file
        not named a test file is one when it defines a unittest TestCase subclass."""
        tree = self.parser.parse(src)
        root = tree.root_node
        if not is_test_file and b"TestCase" in src and _defines_testcase(root, src):
            is_test_file = True
        facts = FileFacts(path=path, language="python", package=module_name(path), is_test_file=is_test_file,
                          root_has_error=root.has_error)
        found = (self.q_test if is_test_file else self.q_code).run(root)
        caps: dict[str, list[Node]] = {}
        for m in found["definitions"]:
            for k, v in m.items():
                caps.setdefault(k, []).extend(v)
        found["returns"] = caps.get("return", [])  # type: ignore[assignment]
        for node in sorted(caps.get("import", []), key=lambda n: n.start_byte):
            if node.parent is not None and node.parent.type == "module":
                facts.imports.extend(self._imports(node, src, path))
            elif _scope_of(node) is None:  # imports under if/try at module level
                facts.imports.extend(self._imports(node, src, path))
        module_assignments = [c.named_children[0] for c in root.named_children
                              if c.type == "expression_statement" and c.named_child_count
                              and c.named_children[0].type == "assignment"]
        facts.module_fields = [one_line(syntax.text(a.parent, src)) for a in module_assignments]
        facts.module_vars = _bound_values(module_assignments, src)

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
            self._mark_tests(facts, emitted, naming)
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
        assignments = []
        if body is not None:
            indent = " " * body.start_point[1]
            for stmt in body.named_children:
                if stmt.type == "expression_statement" and stmt.named_child_count and stmt.named_children[0].type == "assignment":
                    asg = stmt.named_children[0]
                    fields.append(one_line(syntax.text(stmt, src)))
                    left, tnode = asg.child_by_field_name("left"), asg.child_by_field_name("type")
                    if tnode is None:  # an annotated field's value is a default (dataclass), not a descriptor
                        assignments.append(asg)
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
            aliases=_bound_values(assignments, src),
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
            if t == "typed_parameter" and p.named_child_count and p.named_children[0].type in (
                    "list_splat_pattern", "dictionary_splat_pattern"):
                t = p.named_children[0].type  # `*args: Any`, `**kw: Any`
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
            is_constructor=cls is not None and name in ("__init__", "__new__"),
            is_static=is_static,
        )

    @staticmethod
    def _mark_tests(facts: FileFacts, emitted: list[tuple[Node, MethodFacts]], naming: PythonNaming) -> None:
        """Tests by pytest's rules as the project sets them (python_functions, python_classes) and unittest's
        (test* methods of TestCase subclasses, whatever python_classes says)."""
        by_qual = {c.qualname: c for c in facts.classes}
        for _, mf in emitted:
            fixture = any(d.startswith(("@pytest.fixture", "@fixture", "@pytest_asyncio.fixture")) for d in mf.modifiers)
            if fixture or mf.name in FIXTURE_NAMES:
                mf.is_fixture = True
                mf.is_setup = mf.name in SETUP_NAMES or fixture
                continue
            if mf.class_name is None:
                if naming.is_test_function(mf.name):
                    mf.is_test, mf.framework = True, "pytest"
                continue
            cls = by_qual.get(mf.class_name)
            if cls is None:
                continue
            unittest = _is_unittest(cls, by_qual)
            if unittest and mf.name.startswith("test"):
                mf.is_test, mf.framework = True, "unittest"
            elif naming.is_test_function(mf.name) and (not naming.custom or naming.is_test_class(cls.name)
                                                        or unittest):
                mf.is_test, mf.framework = True, "unittest" if unittest else "pytest"
            if mf.is_test:
                cls.is_test_class = True
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
        for node in found.get("returns", ()):
            i = spans.find(node.start_byte, node.end_byte)
            if i is not None and emitted[i][1].return_type is None and len(emitted[i][1].returns) < 4:
                for desc in returns_of(node, src):
                    if desc not in emitted[i][1].returns:
                        emitted[i][1].returns += (desc,)
        detailed = {i for i, (_, mf) in enumerate(emitted) if mf.is_test or mf.is_setup or mf.is_fixture}
        scopes: dict[int, dict] = {i: {} for i in detailed}
        asserts: dict[int, list[Node]] = {i: [] for i in detailed}
        raises: dict[int, list[Node]] = {i: [] for i in detailed}
        protocols: dict[int, list[tuple[Node, str]]] = {i: [] for i in detailed}
        if detailed:
            self._collect_scopes(found.get("locals", []), src, spans, scopes)
            for caps in found.get("assertions", []):
                if "assert" in caps:
                    node = caps["assert"][0]
                    i = spans.find(node.start_byte, node.end_byte)
                    if i in asserts:
                        asserts[i].append(node)
                elif syntax.text(caps["ctx_name"][0], src) in RAISES_CONTEXTS:
                    node = caps["with_assert"][0]
                    i = spans.find(node.start_byte, node.end_byte)
                    if i in raises:
                        raises[i].append(node)
            for caps in found.get("protocols", []):
                for what, nodes in caps.items():
                    node = nodes[0]
                    i = spans.find(node.start_byte, node.end_byte)
                    if i in protocols:
                        protocols[i].append((node, what))
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
            plist = node.child_by_field_name("parameters")
            defaults = (plist.start_byte, plist.end_byte) if plist is not None else (0, 0)
            for p in plist.named_children if plist is not None else ():
                pn = p if p.type == "identifier" else (p.child_by_field_name("name") if p.type == "default_parameter" else None)
                pname = syntax.text(pn, src) if pn is not None and pn.type == "identifier" else ""
                if pname and pname not in ("self", "cls") and pname not in scope:
                    scope[pname] = ("fixture", pname)
            sb = SiteBuilder(src, scope, imported, mf.call_sites)
            ends: list[int] = []
            for a in asserts[i]:
                sb.add_assert_statement(a)
                ends.append(a.end_byte)
            for w in raises[i]:
                sb.add_raises_block(w)
                ends.append(w.end_byte)
            events: list[tuple[int, int, Node, str, bool]] = []
            for cname, bases, cbody in _local_classes(node, src):
                sb.add_local_class(cname, bases, cbody)
            for cnode, name in calls:
                if defaults[0] <= cnode.start_byte < defaults[1]:
                    continue  # a default value is set-up, never what the test exercises
                if is_assertion_call(name):
                    sb.add_assert_call(cnode, name)
                    if not _is_with_context(cnode):  # `with pytest.raises(E):` ends with its block (above)
                        ends.append(cnode.end_byte)
                    if name.startswith("assert") and name not in CALLABLE_ASSERTS:
                        continue  # plain assertions only mark where "act" ends; they never resolve to repo code
                events.append((cnode.end_byte, -cnode.start_byte, cnode, name, True))
            for pnode, what in protocols[i]:
                if not defaults[0] <= pnode.start_byte < defaults[1]:
                    events.append((pnode.end_byte, -pnode.start_byte, pnode, what, False))
            events.sort(key=_event_key)
            for _, _, enode, what, is_call in events:
                if is_call:
                    sb.add_call(enode, what)
                else:
                    sb.add_protocol(enode, what)
            sb.finish()
            if ends:
                mf.has_assert = True
                mf.first_assert_end = min(ends)
            if mf.is_setup and cls is not None:
                for var in [v for v in scope if v.startswith("self.")]:  # (their first binding)
                    cls.attr_types.setdefault(var[5:], portable(sb.type_of_scoped(var), mf.call_sites))
            if mf.is_fixture and mf.class_name is None:
                ret = sb.returned(node)
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
            scopes[i].setdefault(_REBOUND, {}).setdefault(var, []).append([bind.end_byte, desc])


def _local_classes(func: Node, src: bytes) -> list[tuple[str, tuple[str, ...], Node]]:
    """Classes a function defines at its top level: (name, base names, body)."""
    body = func.child_by_field_name("body")
    out = []
    for stmt in body.named_children if body is not None else ():
        node = stmt.child_by_field_name("definition") if stmt.type == "decorated_definition" else stmt
        if node is not None and node.type == "class_definition":
            b, sup = node.child_by_field_name("body"), node.child_by_field_name("superclasses")
            bases = tuple(syntax.text(c, src) for c in (sup.named_children if sup is not None else ())
                          if c.type in ("identifier", "attribute"))
            if b is not None:
                out.append((syntax.text(node.child_by_field_name("name"), src), bases, b))
    return out


_REBOUND = " rebound"  # scope key holding every binding of each name with where it takes effect (python_sites)


def _is_with_context(call: Node) -> bool:
    """Whether a call is the context expression of a with-item (`with pytest.raises(E) as e:`)."""
    p = call.parent
    if p is not None and p.type == "as_pattern":
        p = p.parent
    return p is not None and p.type == "with_item"


def _event_key(e: tuple) -> tuple[int, int]:
    return e[0], e[1]


def _bound_values(assignments: list[Node], src: bytes) -> dict[str, str]:
    """`NAME = callee(...)` -> {NAME: dotted callee}, `NAME = other.name` -> {NAME: "=other.name"} (module variables,
    class-level aliases such as `__le__ = __lt__` or `next = __next__`)."""
    out: dict[str, str] = {}
    for asg in assignments:
        left, right = asg.child_by_field_name("left"), asg.child_by_field_name("right")
        if left is None or right is None or left.type != "identifier":
            continue
        if right.type in ("identifier", "attribute"):
            text = syntax.text(right, src)
            if _DOTTED_NAME.fullmatch(text):
                out[syntax.text(left, src)] = "=" + text
        elif right.type == "call":
            fn = right.child_by_field_name("function")
            text = syntax.text(fn, src) if fn is not None else ""
            if _DOTTED_NAME.fullmatch(text):
                out[syntax.text(left, src)] = text
    return out


_DOTTED_NAME = re.compile(r"[A-Za-z_][\w.]*")


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


def _defines_testcase(root: Node, src: bytes) -> bool:
    """Whether a module defines (at top level) a class deriving from something named *TestCase."""
    for node in root.named_children:
        if node.type == "decorated_definition":
            node = node.child_by_field_name("definition") or node
        if node.type == "class_definition":
            sup = node.child_by_field_name("superclasses")
            if sup is not None and any(syntax.text(b, src).endswith("TestCase") for b in sup.named_children):
                return True
    return False


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
