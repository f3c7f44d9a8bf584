"""Java extraction: types (nested too), methods, constructors, fields, JUnit 3/4/5 tests, typed call sites."""

from __future__ import annotations

import bisect
import re
from bisect import bisect_right

from tree_sitter import Node, QueryCursor

from codecustom.mining import syntax
from codecustom.mining.syntax import Spans
from codecustom.mining.facts import CallSite, ClassFacts, FileFacts, ImportFacts, MethodFacts

TYPE_DECLS = {
    "class_declaration": "class",
    "interface_declaration": "interface",
    "enum_declaration": "enum",
    "record_declaration": "record",
    "annotation_type_declaration": "annotation",
}
BODY_TYPES = {"class_body", "interface_body", "enum_body_declarations", "annotation_type_body"}
TEST_ANNOTATIONS = {"Test", "ParameterizedTest", "RepeatedTest", "TestFactory", "TestTemplate", "Theory"}
SETUP_ANNOTATIONS = {"Before", "BeforeEach", "BeforeAll", "BeforeClass"}
_WS = re.compile(r"\s+")
_GENERIC = re.compile(r"<.*>", re.S)
_BOXED_NAMES = {"Integer", "Long", "Double", "Float", "Short", "Byte", "Character", "Boolean"}
LITERAL_TYPES = {
    "string_literal": "String",
    "text_block": "String",
    "character_literal": "char",
    "true": "boolean",
    "false": "boolean",
    "null_literal": "null",
    "class_literal": "Class",
}


def one_line(text: str) -> str:
    return " ".join(text.split())


def simple_type(type_text: str, keep_array: bool = False) -> str:
    """`java.util.List<String>[]` -> `List` (`List[]` with keep_array); `Outer.Inner` -> `Inner`; `final Foo` -> `Foo`."""
    t = _GENERIC.sub("", type_text).replace("...", "").strip()
    dims = t.count("[]") if keep_array else 0
    t = t.replace("[]", "").strip()
    t = t.split()[-1] if t else t
    return t.rsplit(".", 1)[-1] + "[]" * dims


def is_assertion(name: str) -> bool:
    """JUnit/AssertJ/Hamcrest/Mockito assertion-like calls."""
    return name.startswith("assert") or name.startswith("verify") or name in {"fail", "expect", "then"}


# assertions whose arguments run the act (a lambda or method reference) rather than check a value
_RUNS_ACT = {"assertThrows", "assertThrowsExactly", "assertDoesNotThrow", "assertTimeout", "assertTimeoutPreemptively",
             "assertThatThrownBy", "assertThatCode", "assertAll", "isThrownBy", "assertThatNoException"}


def _assert_role(asserts: list[tuple[int, int, bool]], starts: list[int], node: Node) -> str:
    """"check" for a call in an assertion's arguments, "act" where the innermost assertion around it runs its
    argument (assertThrows(..., () -> act())), "" outside assertions."""
    j = bisect.bisect_left(starts, node.start_byte) - 1
    for k in range(j, max(j - 32, -1), -1):  # nesting is shallow; bounded so long tests stay linear
        _, neg_end, runs_act = asserts[k]
        if node.end_byte <= -neg_end:
            return "act" if runs_act else "check"
    return ""


def _assertion_root(node: Node, src: bytes) -> str | None:
    """The assertion a call is chained on, `assertThat` for `assertThat(x).isEqualTo(y)` (its arguments are checks
    too), else None."""
    obj = node.child_by_field_name("object")
    while obj is not None and obj.type == "method_invocation":
        inner = obj.child_by_field_name("object")
        if inner is None:
            name = syntax.text(obj.child_by_field_name("name"), src)
            return name if is_assertion(name) else None
        obj = inner
    return None


def _annotation_names(modifiers: Node | None, src: bytes) -> list[str]:
    if modifiers is None:
        return []
    names = []
    for child in modifiers.named_children:
        if child.type in ("marker_annotation", "annotation"):
            names.append(syntax.text(child.child_by_field_name("name"), src).rsplit(".", 1)[-1])
    return names


def _modifiers(node: Node) -> Node | None:
    for child in node.children:
        if child.type == "modifiers":
            return child
    return None


def _literal_type(node: Node, src: bytes) -> str | None:
    t = node.type
    if t in LITERAL_TYPES:
        return LITERAL_TYPES[t]
    if t in ("decimal_integer_literal", "hex_integer_literal", "octal_integer_literal", "binary_integer_literal"):
        return "long" if src[node.end_byte - 1:node.end_byte] in (b"l", b"L") else "int"
    if t in ("decimal_floating_point_literal", "hex_floating_point_literal"):
        return "float" if src[node.end_byte - 1:node.end_byte] in (b"f", b"F") else "double"
    return None


class JavaExtractor:
    """Extracts :class:`FileFacts` from one Java file; one instance per process."""

    language = "java"

    def __init__(self) -> None:
        self.parser = syntax.parser("java")
        # one traversal per file: the .scm files are compiled into one query (locals only where tests may be)
        self.q_full = syntax.query_set("java", "java", ("definitions", "calls", "locals"))
        self.q_code = syntax.query_set("java", "java", ("definitions", "calls"))

    def extract(self, path: str, src: bytes, *, is_test_file: bool) -> FileFacts:
        tree = self.parser.parse(src)
        root = tree.root_node
        facts = FileFacts(path=path, language="java", is_test_file=is_test_file, root_has_error=root.has_error)
        maybe_tests = is_test_file or b"@Test" in src or b"junit" in src
        caps, calls, local_matches = self._matches(self.q_full if maybe_tests else self.q_code, root)
        for node in caps.get("package", []):
            names = [c for c in node.named_children if c.type in ("scoped_identifier", "identifier")]
            facts.package = syntax.text(names[0], src) if names else ""
        for node in sorted(caps.get("import", []), key=lambda n: n.start_byte):
            facts.imports.append(self._import(node, src))
        frameworks = {imp.module for imp in facts.imports}
        framework = "junit5" if any(m.startswith("org.junit.jupiter") for m in frameworks) else (
            "junit4" if any(m.startswith("org.junit") for m in frameworks) else None)

        # Types, outermost first.
        types = sorted(caps.get("type", []), key=lambda n: n.start_byte)
        class_by_node: dict[int, ClassFacts] = {}
        for node in types:
            owner = self._owner_type(node.parent)
            outer = class_by_node.get(owner.id) if owner is not None else None
            cf = self._class(node, src, outer)
            class_by_node[node.id] = cf
            facts.classes.append(cf)
        for node in caps.get("field", []):
            owner = self._owner_type(node.parent, direct=True)
            if owner is not None and owner.id in class_by_node:
                self._field(node, src, class_by_node[owner.id])

        # Methods and constructors declared directly in a type body (anonymous-class methods belong to
        # the method that contains them).
        decls = [(n, False) for n in caps.get("method", [])] + [(n, True) for n in caps.get("constructor", [])]
        decls.sort(key=lambda d: d[0].start_byte)
        emitted: list[tuple[Node, MethodFacts]] = []
        for node, is_ctor in decls:
            owner = self._owner_type(node.parent, direct=True)
            if owner is None or owner.id not in class_by_node:
                continue
            cls = class_by_node[owner.id]
            if node.has_error:
                facts.syntax_errors += 1
                continue
            mf = self._method(node, src, cls, is_ctor)
            emitted.append((node, mf))
        if root.has_error and facts.syntax_errors == 0:
            facts.syntax_errors = 1

        # Test detection needs the class: JUnit 3 tests are public void test*() in a TestCase subclass.
        for node, mf in emitted:
            cls = next(c for c in facts.classes if c.qualname == mf.class_name)
            annotations = {m.lstrip("@").split("(")[0].rsplit(".", 1)[-1] for m in mf.modifiers if m.startswith("@")}
            if annotations & TEST_ANNOTATIONS:
                mf.is_test = True
                mf.framework = framework or ("junit5" if annotations - {"Test"} else "junit4")
            elif (mf.name.startswith("test") and not mf.params and "public" in mf.modifiers and mf.return_type == "void"
                  and _junit3_class(cls, framework, is_test_file)):
                mf.is_test, mf.framework = True, "junit3"
            if annotations & SETUP_ANNOTATIONS or (mf.name == "setUp" and "TestCase" in cls.bases):
                mf.is_setup = True
            if mf.is_test:
                cls.is_test_class = True
        by_qual = {c.qualname: c for c in facts.classes}
        for cls in facts.classes:
            if cls.is_test_class and "." in cls.qualname:
                cls.is_nested_test = "Nested" in {m.lstrip("@").rsplit(".", 1)[-1] for m in cls.modifiers} or \
                    by_qual.get(cls.qualname.rsplit(".", 1)[0], cls).is_test_class

        facts.methods = [mf for _, mf in emitted]
        for node, mf in emitted:
            if mf.is_setup and mf.class_name in by_qual:
                _setup_news(node, src, by_qual[mf.class_name])
        self._calls(calls, local_matches, src, emitted, by_qual)
        return facts

    def _matches(self, qs: syntax.QuerySet, root: Node) -> tuple[dict[str, list[Node]], list[tuple[Node, Node, str]],
                                                                 list[dict[str, list[Node]]]]:
        """One pass of the query over the file: definitions by capture name, call sites as (node, name node, kind) in
        match order, and the locals matches."""
        defs: dict[str, list[Node]] = {}
        calls: list[tuple[Node, Node, str]] = []
        local_matches: list[dict[str, list[Node]]] = []
        owner = qs.owner
        for idx, m in QueryCursor(qs.query).matches(root):
            what = owner[idx]
            if what == "calls":
                if "call" in m:
                    calls.append((m["call"][0], m["name"][0], "call"))
                elif "new" in m:
                    calls.append((m["new"][0], m["name"][0], "new"))
                else:
                    calls.append((m["ref"][0], m["name"][0], "ref"))
            elif what == "definitions":
                for k, v in m.items():
                    if k in defs:
                        defs[k] += v
                    else:
                        defs[k] = v
            else:
                local_matches.append(m)
        return defs, calls, local_matches

    # -- declarations -------------------------------------------------------------------------

    @staticmethod
    def _owner_type(node: Node | None, direct: bool = False) -> Node | None:
        """The type declaration a body-level node belongs to (None for anonymous classes)."""
        while node is not None:
            if node.type in TYPE_DECLS:
                return node
            if node.type in ("object_creation_expression", "enum_constant"):
                return None
            if direct and node.type not in BODY_TYPES and node.type != "enum_body":
                return None
            node = node.parent
        return None

    @staticmethod
    def _import(node: Node, src: bytes) -> ImportFacts:
        is_static = any(c.type == "static" for c in node.children)
        wildcard = any(c.type == "asterisk" for c in node.children)
        names = [c for c in node.named_children if c.type in ("scoped_identifier", "identifier")]
        module = syntax.text(names[0], src) if names else ""
        alias = "*" if wildcard else module.rsplit(".", 1)[-1]
        return ImportFacts(module=module, name=None, alias=alias, is_static=is_static, text=one_line(syntax.text(node, src)))

    def _class(self, node: Node, src: bytes, outer: ClassFacts | None) -> ClassFacts:
        name = syntax.text(node.child_by_field_name("name"), src)
        body = node.child_by_field_name("body")
        header = one_line(src[node.start_byte:body.start_byte if body else node.end_byte].decode("utf-8", "replace"))
        mods = _modifiers(node)
        modifiers = [one_line(syntax.text(c, src)) for c in mods.children] if mods else []
        bases: list[str] = []
        sup = node.child_by_field_name("superclass")
        if sup is not None:
            bases += [simple_type(syntax.text(c, src)) for c in sup.named_children]
        for field_name in ("interfaces",):
            ifs = node.child_by_field_name(field_name)
            if ifs is not None:
                for tl in ifs.named_children:
                    bases += [simple_type(syntax.text(c, src)) for c in tl.named_children]
        for child in node.children:  # interface extends
            if child.type == "extends_interfaces":
                for tl in child.named_children:
                    bases += [simple_type(syntax.text(c, src)) for c in tl.named_children]
        fields: list[str] = []
        field_types: dict[str, str] = {}
        if node.type == "record_declaration":  # record components are its fields
            params = node.child_by_field_name("parameters")
            for p in params.named_children if params else []:
                if p.type == "formal_parameter":
                    pname = syntax.text(p.child_by_field_name("name"), src)
                    ptype = syntax.text(p.child_by_field_name("type"), src)
                    fields.append(f"private final {ptype} {pname};")
                    field_types[pname] = simple_type(ptype, keep_array=True)
        if node.type == "enum_declaration" and body is not None:
            consts = [syntax.text(c.child_by_field_name("name"), src) for c in body.named_children if c.type == "enum_constant"]
            if consts:
                fields.append(", ".join(consts) + ";")
        return ClassFacts(
            name=name,
            qualname=f"{outer.qualname}.{name}" if outer else name,
            kind=TYPE_DECLS[node.type],
            header=_strip_annotations(header),
            bases=bases,
            modifiers=modifiers,
            fields=fields,
            field_types=field_types,
            start_line=node.start_point[0] + 1,
            end_line=node.end_point[0] + 1,
        )

    @staticmethod
    def _field(node: Node, src: bytes, cls: ClassFacts) -> None:
        cls.fields.append(one_line(syntax.text(node, src)))
        ftype = simple_type(syntax.text(node.child_by_field_name("type"), src), keep_array=True)
        for decl in node.children_by_field_name("declarator"):
            name = syntax.text(decl.child_by_field_name("name"), src)
            cls.field_types[name] = ftype
            made = _created_as(decl.child_by_field_name("value"), src)
            if made and made != ftype:
                cls.field_news[name] = made

    def _method(self, node: Node, src: bytes, cls: ClassFacts, is_ctor: bool) -> MethodFacts:
        name = syntax.text(node.child_by_field_name("name"), src)
        body = node.child_by_field_name("body")
        mods = _modifiers(node)
        modifiers = [one_line(syntax.text(c, src)) for c in mods.children] if mods else []
        keywords = [m for m in modifiers if not m.startswith("@")]
        decl_start = mods.end_byte if mods else node.start_byte
        decl_end = body.start_byte if body is not None else node.end_byte
        rest = one_line(src[decl_start:decl_end].decode("utf-8", "replace")).rstrip(";").strip()
        signature = " ".join(keywords + [rest])
        params, types = [], []
        min_arity, max_arity = 0, 0
        plist = node.child_by_field_name("parameters")
        for p in plist.named_children if plist else []:
            if p.type == "formal_parameter":
                params.append(one_line(syntax.text(p, src)))
                types.append(simple_type(syntax.text(p.child_by_field_name("type"), src), keep_array=True))
                min_arity += 1
            elif p.type == "spread_parameter":
                params.append(one_line(syntax.text(p, src)))
                tnode = next((c for c in p.named_children if c.type not in ("modifiers", "variable_declarator")), None)
                types.append(simple_type(syntax.text(tnode, src)) + "...")
                max_arity = None
        if max_arity is not None:
            max_arity = min_arity
        if node.type == "compact_constructor_declaration" and cls.kind == "record":
            params = [f.removeprefix("private final ").rstrip(";") for f in cls.fields]
            types = list(cls.field_types.values())
            min_arity = max_arity = len(params)
        rtype = node.child_by_field_name("type")
        doc = None
        prev = node.prev_named_sibling
        if prev is not None and prev.type == "block_comment" and src[prev.start_byte:prev.start_byte + 3] == b"/**":
            doc = syntax.text(prev, src)
        return MethodFacts(
            name=name,
            class_name=cls.qualname,
            signature=signature,
            params=params,
            param_types=types,
            min_arity=min_arity,
            max_arity=max_arity,
            return_type=one_line(syntax.text(rtype, src)) if rtype is not None else None,
            modifiers=modifiers,
            docstring=doc,
            body=syntax.dedent_body(syntax.text(node, src), node.start_point[1]),
            start_line=node.start_point[0] + 1,
            start_col=node.start_point[1],
            end_line=node.end_point[0] + 1,
            is_constructor=is_ctor,
            is_static="static" in keywords,
            has_body=body is not None,
        )

    # -- calls ----------------------------------------------------------------------------------

    def _calls(self, found: list[tuple[Node, Node, str]], local_matches: list, src: bytes,
               emitted: list[tuple[Node, MethodFacts]], classes: dict[str, ClassFacts]) -> None:
        if not emitted:
            return
        spans = Spans([(n.start_byte, n.end_byte) for n, _ in emitted])
        # Spans.find, inlined: this loop runs once per call expression in the file
        starts, bounds, parent = spans.starts, spans.spans, spans.parent
        raw: list[list[tuple[int, str, Node, str]]] = [[] for _ in emitted]
        for node, name_node, kind in found:
            start, end = node.start_byte, node.end_byte
            i = bisect_right(starts, start) - 1
            while i >= 0:
                s, e = bounds[i]
                if s <= start and end <= e:
                    break
                i = parent[i]
            if i < 0:
                continue
            name = src[name_node.start_byte:name_node.end_byte].decode("utf-8", "replace")
            if kind == "new":
                name = simple_type(name)
            raw[i].append((end, name, node, kind))
        detailed = [i for i, (_, mf) in enumerate(emitted) if mf.is_test or mf.is_setup]
        scopes = self._scopes(local_matches, src, spans, detailed) if detailed else {}
        class_scopes: dict[str | None, dict] = {}
        helper_names: dict[str | None, set[str]] = {}
        for i, (node, mf) in enumerate(emitted):
            calls = sorted(raw[i], key=_first)
            mf.calls = [("new " + name) if kind == "new" else name for _, name, _, kind in calls]
            if i not in scopes:
                continue
            if mf.class_name not in class_scopes:
                class_scopes[mf.class_name] = _class_scope(classes, mf.class_name)
            scope = dict(class_scopes[mf.class_name])
            scope.update(scopes[i])
            # assertion helpers the test class writes itself (assertNonFiniteDoublesExceptions(writer)) act on what
            # they are given: they stay call sites
            helpers = helper_names.get(mf.class_name)
            if helpers is None:
                helpers = helper_names[mf.class_name] = {m.name for _, m in emitted if m.class_name == mf.class_name
                                                         and not m.is_test}
            index_of: dict[int, int] = {}
            first_assert: tuple[int, int] | None = None
            # callbacks the test defines (new Helper() { ... }): what their bodies call runs when the library calls
            # back, not as the test's own steps
            anon = [(b.start_byte, b.end_byte) for _, _, c, k in calls if k == "new"
                    for b in c.named_children if b.type == "class_body"]
            if anon:
                calls = [c for c in calls if not any(a <= c[2].start_byte and c[2].end_byte <= b for a, b in anon)]
            asserts: list[tuple[int, int, bool]] = []  # (start, -end, runs its argument): innermost last among equal starts
            for _, n, c, k in calls:
                root = n if k == "call" and is_assertion(n) else _assertion_root(c, src) if k == "call" else None
                if root is not None:
                    asserts.append((c.start_byte, -c.end_byte, root in _RUNS_ACT or n in _RUNS_ACT))
            asserts.sort()
            assert_starts = [a for a, _, _ in asserts]
            for end, name, cnode, kind in calls:
                if kind == "call" and is_assertion(name):
                    mf.has_assert = True
                    if (first_assert is None or cnode.start_byte < first_assert[0]) and not _sanity_check(cnode, name):
                        first_assert = (cnode.start_byte, cnode.end_byte)
                    if cnode.child_by_field_name("object") is None and name not in helpers:
                        continue  # assertEquals(...) & co. only mark where "act" ends; they never bind to repo code
                site = self._site(cnode, kind, name, src, scope, index_of)
                site.assert_role = _assert_role(asserts, assert_starts, cnode)
                index_of[cnode.id] = len(mf.call_sites)
                mf.call_sites.append(site)
            mf.first_assert_end = first_assert[1] if first_assert else None

    def _scopes(self, local_matches: list, src: bytes, spans: Spans, detailed: list[int]) -> dict[int, dict]:
        wanted = set(detailed)
        scopes: dict[int, dict] = {i: {} for i in detailed}
        for caps in local_matches:
            decl = caps["decl"][0]
            i = spans.find(decl.start_byte, decl.end_byte)
            if i not in wanted:
                continue
            tname = simple_type(syntax.text(caps["type"][0], src), keep_array=True)
            if caps["decl"][0].type == "spread_parameter":
                tname += "[]"
            var = syntax.text(caps["var"][0], src)
            value = caps["value"][0] if "value" in caps else None
            if value is not None and value.type == "method_invocation":
                scopes[i].setdefault(_VIA, {})[var] = value.id  # `Template t = c.compile(s)`: t holds that call's result
            if tname == "var" and value is not None:
                if value.type == "method_invocation":
                    scopes[i][var] = ("callvar", value.id)  # typed by what the call returns
                    continue
                tname = {"object_creation_expression": lambda v: simple_type(syntax.text(v.child_by_field_name("type"), src)),
                         "cast_expression": lambda v: simple_type(syntax.text(v.child_by_field_name("type"), src), True),
                         }.get(value.type, lambda v: "")(value)
                if not tname:
                    scopes[i][var] = ("unknown", "")
                    continue
            made = _created_as(value, src) if value is not None else None
            scopes[i][var] = ("type", tname, made) if made and made != tname else ("type", tname)
        return scopes

    def _site(self, node: Node, kind: str, name: str, src: bytes, scope: dict, index_of: dict[int, int]) -> CallSite:
        if kind == "new":
            args = node.child_by_field_name("arguments")
            argn = [a for a in args.named_children if a.type not in ("line_comment", "block_comment")] if args else []
            return CallSite(name=name, receiver=("static", name), nargs=len(argn),
                            arg_types=tuple(self._expr_type(a, src, scope) for a in argn), end=node.end_byte, is_new=True)
        if kind == "ref":
            recv_node = node.named_children[0]
            return CallSite(name=name, receiver=self._receiver(recv_node, src, scope, index_of), nargs=None, end=node.end_byte,
                            is_new=name == "new")
        obj = node.child_by_field_name("object")
        receiver = ("self",) if obj is None else self._receiver(obj, src, scope, index_of)
        args = node.child_by_field_name("arguments")
        argn = [a for a in args.named_children if a.type not in ("line_comment", "block_comment")] if args else []
        via = None
        if obj is not None and obj.type == "identifier" and _VIA in scope:
            held = scope[_VIA].get(syntax.text(obj, src))
            via = index_of.get(held) if held is not None else None
        return CallSite(name=name, receiver=receiver, nargs=len(argn),
                        arg_types=tuple(self._expr_type(a, src, scope) for a in argn), end=node.end_byte, via=via)

    def _receiver(self, node: Node, src: bytes, scope: dict, index_of: dict[int, int]):
        t = node.type
        if t == "parenthesized_expression" and node.named_child_count:
            return self._receiver(node.named_children[0], src, scope, index_of)
        if t == "this":
            return ("self",)
        if t == "super":
            return ("unknown", "super")
        if t == "identifier":
            name = syntax.text(node, src)
            if name in scope:
                desc = scope[name]
                if desc[0] == "callvar":  # var x = foo.bar(): what bar returns
                    return ("call", index_of[desc[1]]) if desc[1] in index_of else ("unknown", "")
                return desc
            return ("static", name) if name[:1].isupper() else ("unknown", name)
        if t in ("type_identifier", "scoped_type_identifier", "generic_type"):
            return ("static", simple_type(syntax.text(node, src)))
        if t == "field_access":
            obj = node.child_by_field_name("object")
            field = syntax.text(node.child_by_field_name("field"), src)
            if obj is not None and obj.type == "this" and field in scope:
                return scope[field]
            if obj is not None and field.isupper() and obj.type in ("identifier", "field_access", "scoped_identifier"):
                owner = syntax.text(obj, src).rsplit(".", 1)[-1]
                if owner[:1].isupper():
                    return ("const", owner)  # Mode.RAD / Converter.DATE: a constant of (typed as) its owner
            if obj is not None and obj.type in ("identifier", "scoped_identifier", "field_access") and field[:1].isupper():
                return ("static", field)  # a.b.Foo.bar() / Outer.Inner.bar() style qualified class
            return ("unknown", field)
        if t == "scoped_identifier":
            return ("static", syntax.text(node, src).rsplit(".", 1)[-1])
        if t == "object_creation_expression":
            return ("type", simple_type(syntax.text(node.child_by_field_name("type"), src)))
        if t == "cast_expression":
            return ("type", simple_type(syntax.text(node.child_by_field_name("type"), src), keep_array=True))
        if t == "method_invocation" and node.id in index_of:
            return ("call", index_of[node.id])
        lit = _literal_type(node, src)
        if lit:
            return ("type", lit)
        return ("unknown", "")

    def _expr_type(self, node: Node, src: bytes, scope: dict) -> str | None:
        lit = _literal_type(node, src)
        if lit:
            return lit
        t = node.type
        if t == "identifier":
            r = scope.get(syntax.text(node, src))
            return r[1] if r and r[0] == "type" else None
        if t == "object_creation_expression":
            return simple_type(syntax.text(node.child_by_field_name("type"), src))
        if t == "cast_expression":
            return simple_type(syntax.text(node.child_by_field_name("type"), src), keep_array=True)
        if t == "field_access":  # Traffic.RED: a constant of Traffic, its type if Traffic is an enum (the mapper knows)
            obj, field = node.child_by_field_name("object"), syntax.text(node.child_by_field_name("field"), src)
            owner = syntax.text(obj, src).rsplit(".", 1)[-1] if obj is not None and obj.type in ("identifier", "field_access") else ""
            return owner + "#" if owner[:1].isupper() and field.isupper() else None
        if t == "method_invocation":  # Integer.valueOf(1), Double.valueOf(x): the boxed type
            obj = node.child_by_field_name("object")
            owner = syntax.text(obj, src) if obj is not None and obj.type == "identifier" else ""
            if owner in _BOXED_NAMES and syntax.text(node.child_by_field_name("name"), src) == "valueOf":
                return owner
            return None
        if t == "array_initializer":
            return None
        if t == "unary_expression" and node.named_child_count:
            return self._expr_type(node.named_children[-1], src, scope)
        if t == "lambda_expression":
            return "lambda"
        if t == "array_creation_expression":
            dims = syntax.text(node.child_by_field_name("dimensions"), src).count("[") if node.child_by_field_name("dimensions") else 1
            return simple_type(syntax.text(node.child_by_field_name("type"), src)) + "[]" * max(dims, 1)
        return None


def _sanity_check(node: Node, name: str) -> bool:
    """`assertNotNull(context)`: a check that the arrangement produced something, not the end of the act."""
    if name != "assertNotNull":
        return False
    args = node.child_by_field_name("arguments")
    named = [a for a in args.named_children if a.type not in ("line_comment", "block_comment")] if args else []
    return len(named) == 1 and named[0].type == "identifier"


def _junit3_class(cls: ClassFacts, framework: str | None, is_test_file: bool) -> bool:
    """A JUnit 3 test class: extends TestCase, or, in a test file that uses no JUnit 4/5 import, a base named like a
    test case (`extends AbstractParserTestCase`, `extends BaseTest`: the hierarchy reaches TestCase elsewhere)."""
    if "TestCase" in cls.bases:
        return True
    return is_test_file and framework is None and any(b.endswith(("TestCase", "TestBase", "Test")) for b in cls.bases)


_VIA = " via"  # scope key: local name -> node id of the method call it was initialised with


def _first(item: tuple) -> int:
    return item[0]


def _class_scope(classes: dict[str, ClassFacts], qualname: str | None) -> dict:
    """Field types visible in a class: its own and its enclosing classes' (inner classes see outer fields)."""
    scope: dict = {}
    parts = (qualname or "").split(".")
    for k in range(1, len(parts) + 1):
        cls = classes.get(".".join(parts[:k]))
        if cls is not None:
            scope.update({f: ("type", t, cls.field_news[f]) if f in cls.field_news else ("type", t)
                          for f, t in cls.field_types.items()})
    return scope


def _created_as(value: Node | None, src: bytes) -> str | None:
    """The class a `new C(...)` initializer creates (None for anything else)."""
    if value is None or value.type != "object_creation_expression":
        return None
    return simple_type(syntax.text(value.child_by_field_name("type"), src))


def _setup_news(node: Node, src: bytes, cls: ClassFacts) -> None:
    """Fields a set-up method assigns a `new C(...)` to (`parser = new PosixParser()`): tests then run C's methods.
    A field assigned two different classes keeps its declared type."""
    stack = [node.child_by_field_name("body")]
    seen: dict[str, str | None] = {}
    while stack:
        n = stack.pop()
        if n is None:
            continue
        if n.type == "assignment_expression":
            left = n.child_by_field_name("left")
            if left is not None and left.type == "field_access" and left.child_by_field_name("object").type == "this":
                left = left.child_by_field_name("field")
            name = syntax.text(left, src) if left is not None and left.type == "identifier" else ""
            made = _created_as(n.child_by_field_name("right"), src)
            if name in cls.field_types and made:
                seen[name] = made if seen.get(name, made) == made else None
        stack.extend(n.named_children)
    for name, made in seen.items():
        if made and made != cls.field_types[name]:
            cls.field_news[name] = made


def _strip_annotations(header: str) -> str:
    """Drop leading annotations from a one-line declaration header."""
    out = re.sub(r"@[\w.]+(\s*\((?:[^()]|\([^()]*\))*\))?\s*", "", header)
    return out.strip()
