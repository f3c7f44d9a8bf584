"""Typed call sites of one Python test (or set-up) function: calls, and behaviour reached through syntax.

Besides plain calls, a test exercises methods through operators, builtins and statements; each becomes a
*protocol* call site naming the dunder that runs on the instance's class (the mapper resolves it, falling back
along :data:`PROTOCOL_FALLBACK` when a class leaves one out):

=====================================  ==================================================================
``x in r`` / ``x not in r``            ``r.__contains__``
``a == b``, ``a < b``, ...             ``a.__eq__``, ``a.__lt__`` (the right operand's reflected dunder when
                                       the left one is a literal)
``a + b``, ``a | b``, ``-a``, ``~a``   ``__add__``, ``__or__``, ``__neg__``, ``__invert__`` (``__radd__``...)
``a += b``                             ``__iadd__``
``r[k]``, ``r[k] = v``, ``del r[k]``   ``__getitem__``, ``__setitem__``, ``__delitem__``
``for x in r``, comprehensions         ``__iter__``
``with r:``                            ``__enter__``
``r(...)`` (r bound to an instance)    ``__call__``
``r.name`` / ``r.name = v``            the property or method ``name`` when the class has one, else
                                       ``__getattr__`` / ``__setattr__`` / ``__delattr__``
``@deco`` on a function it defines     a call of ``deco``
``len``, ``str``, ``repr``, ``iter``,  ``__len__``, ``__str__``, ``__repr__``, ``__iter__``, ``__next__``,
``next``, ``hash``, ``bool``, ``not``  ``__hash__``, ``__bool__``; ``list(r)``/``sorted(r)``/... iterate;
                                       ``copy.copy``/``copy.deepcopy``/``pickle.dumps``/``dir`` likewise
=====================================  ==================================================================

Sites are numbered in evaluation order (a node after the nodes it contains). Each site records its role: the
comparison an assert makes and attribute reads inside assertions ``check``, the expected side of a pytest assert
(``assert actual == expected``) ``expected``, a ``pytest.raises``/``assertRaises`` block ``act``, the body of a
class the test defines ``declaration``; and the call whose arguments hold it (``arg_of``, also through a local:
``spec = Iter(); glom(x, spec)``): an argument is never the focal method.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from codecustom.mining import syntax
from codecustom.mining.facts import CallSite

BUILTIN_DUNDERS = {"str": "__str__", "repr": "__repr__", "len": "__len__", "iter": "__iter__", "hash": "__hash__",
                   "bool": "__bool__", "abs": "__abs__", "format": "__format__", "bytes": "__bytes__",
                   "reversed": "__reversed__", "next": "__next__", "int": "__int__", "float": "__float__",
                   "complex": "__complex__", "round": "__round__", "dir": "__dir__", "list": "__iter__",
                   "tuple": "__iter__", "set": "__iter__", "frozenset": "__iter__", "sorted": "__iter__",
                   "enumerate": "__iter__", "sum": "__iter__", "min": "__iter__", "max": "__iter__", "any": "__iter__",
                   "all": "__iter__"}
MODULE_DUNDERS = {"copy.copy": "__copy__", "copy.deepcopy": "__deepcopy__", "pickle.dumps": "__reduce_ex__",
                  "pickle.dump": "__reduce_ex__"}
# when a class does not define the first, Python runs the second
PROTOCOL_FALLBACK = {"__str__": "__repr__", "__contains__": "__iter__", "__bool__": "__len__", "__ne__": "__eq__",
                     "__reduce_ex__": "__reduce__", "__iadd__": "__add__", "__isub__": "__sub__", "__imul__": "__mul__",
                     "__ior__": "__or__", "__iand__": "__and__", "__ixor__": "__xor__", "__radd__": "__add__",
                     "__ror__": "__or__", "__rmul__": "__mul__", "__rand__": "__and__", "__rxor__": "__xor__"}
COMPARE = {"==": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__",
           "in": "__contains__", "not in": "__contains__"}
REFLECTED_COMPARE = {"__lt__": "__gt__", "__gt__": "__lt__", "__le__": "__ge__", "__ge__": "__le__", "__eq__": "__eq__",
                     "__ne__": "__ne__"}
BINARY = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod", "**": "pow", "@": "matmul",
          "&": "and", "|": "or", "^": "xor", "<<": "lshift", ">>": "rshift"}
UNARY = {"-": "__neg__", "+": "__pos__", "~": "__invert__"}
LITERALS = {"string": "str", "concatenated_string": "str", "integer": "int", "float": "float", "true": "bool",
            "false": "bool", "none": "None", "list": "list", "dictionary": "dict", "tuple": "tuple", "set": "set",
            "list_comprehension": "list", "dictionary_comprehension": "dict", "set_comprehension": "set",
            "generator_expression": "generator"}
RAISES_CONTEXTS = {"raises", "warns", "deprecated_call", "assertRaises", "assertRaisesRegex", "assertWarns",
                   "assertWarnsRegex", "assertLogs", "assertNoLogs"}
CALLABLE_ASSERTS = {"assertRaises", "assertRaisesRegex", "assertWarns", "assertWarnsRegex", "raises", "warns"}
_DOTTED = re.compile(r"[\w.]+")


def is_assertion_call(name: str) -> bool:
    return name.startswith("assert") or name in ("fail", "raises", "warns")


class SiteBuilder:
    """Numbers the call and protocol sites of one function and types their receivers.

    ``scope`` maps local names to receiver descriptors (see facts.Receiver), ``("expr", node)`` entries being
    typed lazily once the calls they hold are numbered; ``imported`` holds the names the file imports.
    """

    def __init__(self, src: bytes, scope: dict, imported: set[str], sites: list[CallSite]) -> None:
        self.src = src
        self.scope = scope
        self.imported = imported
        self.sites = sites
        self.index_of: dict[int, int] = {}
        self.roles: list[tuple[int, int, str]] = []  # (start, end, role) spans: check / expected / act
        self.call_spans: list[tuple[int, int, int]] = []  # (args start, args end, site index) of calls
        self._spans: list[tuple[int, int]] = []  # each site's node span, for finish()
        self._checks: set[tuple[int, int]] = set()  # spans of the comparisons asserts make
        self._fed: list[tuple[int, int]] = []  # (site whose result a local holds, call it is passed to)
        self.local_classes: dict[str, tuple[str, ...]] = {}  # classes the function defines -> their bases

    # -- spans that give sites their role ---------------------------------------------------------

    def add_assert_statement(self, node: Node) -> None:
        self.roles.append((node.start_byte, node.end_byte, "assert"))
        expr = node.named_children[0] if node.named_child_count else None
        if expr is not None and expr.type == "comparison_operator":
            ops = [c.type for c in expr.children if not c.is_named]
            operands = expr.named_children
            if ops and ops[0] in ("==", "!=", "is") and len(operands) == 2:
                right = operands[1]
                self.roles.append((right.start_byte, right.end_byte, "expected"))
                self._checks.add((expr.start_byte, expr.end_byte))

    def add_local_class(self, name: str, bases: tuple[str, ...], body: Node) -> None:
        """A class the test defines: calls in its body declare (set-up); constructing it builds one of its bases."""
        self.local_classes[name] = bases
        self.roles.append((body.start_byte, body.end_byte, "declaration"))

    def add_raises_block(self, node: Node) -> None:
        body = node.child_by_field_name("body")
        if body is not None:
            self.roles.append((body.start_byte, body.end_byte, "act"))

    def add_assert_call(self, node: Node, name: str) -> None:
        # (no side of assertEqual(a, b) is taken as the expected one: unittest code writes it both ways)
        self.roles.append((node.start_byte, node.end_byte, "assert"))

    def role_of(self, node: Node, *, reads: bool = False) -> str:
        """A site's role: `expected` or `act` from the innermost such span around it; `check` for the comparison an
        assert makes and for attribute reads (``reads``) inside an assertion; else '' (pytest asserts hold acts:
        `assert parse(s) == 3`)."""
        best: tuple[int, str] | None = None
        s, e = node.start_byte, node.end_byte
        for rs, re_, role in self.roles:
            if rs <= s and e <= re_ and (best is None or re_ - rs < best[0]):
                best = (re_ - rs, role)
        role = best[1] if best else ""
        if role == "assert":
            return "check" if reads or (s, e) in self._checks else ""
        return role

    def finish(self) -> None:
        """Link each site to the call whose arguments hold it (known once every call is numbered)."""
        for k, (s, e) in enumerate(self._spans):
            best: tuple[int, int] | None = None
            for a_s, a_e, idx in self.call_spans:
                if a_s <= s and e <= a_e and idx != k and (best is None or a_e - a_s < best[0]):
                    best = (a_e - a_s, idx)
            if best is not None and self.sites[k].assert_role != "act":
                self.sites[k].arg_of = best[1]
        for made, used in self._fed:
            if self.sites[made].arg_of is None and self.sites[made].assert_role != "act":
                self.sites[made].arg_of = used

    def _push(self, site: CallSite, node: Node) -> int:
        site.assert_role = self.role_of(node, reads=site.attr is not None)
        self.sites.append(site)
        self._spans.append((node.start_byte, node.end_byte))
        return len(self.sites) - 1

    # -- calls ------------------------------------------------------------------------------------

    def add_call(self, node: Node, name: str) -> None:
        src = self.src
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        argn = [a for a in args.named_children if a.type != "comment"] if args is not None and args.type == "argument_list" else []
        nargs = None if any(a.type in ("list_splat", "dictionary_splat") for a in argn) else len(argn)
        positional = [a for a in argn if a.type != "keyword_argument"]
        dotted = syntax.text(fn, src) if fn.type == "attribute" else name
        if fn.type == "identifier" and (name in self.scope and name not in ("self", "cls")):
            # a local bound to a value: calling it runs its __call__ (or the function it holds)
            site = CallSite(name="__call__", receiver=self.type_of(fn), nargs=nargs, end=node.end_byte, protocol=True)
        elif fn.type == "identifier" and name in self.local_classes:
            site = CallSite(name=name, receiver=("local", self.local_classes[name]), nargs=nargs, end=node.end_byte,
                            is_new=True)
        elif fn.type == "identifier":
            site = CallSite(name=name, receiver=("global",), nargs=nargs, end=node.end_byte, is_new=name[:1].isupper())
        else:
            site = CallSite(name=name, receiver=self.type_of(fn.child_by_field_name("object")), nargs=nargs, end=node.end_byte)
        idx = self._push(site, node)
        self.index_of.setdefault(node.id, idx)
        if args is not None:
            self.call_spans.append((args.start_byte, args.end_byte, idx))
            for a in positional:  # `spec = Iter().filter(f); glom(data, spec)`: what made `spec` is an argument
                if a.type == "identifier" and syntax.text(a, src) in self.scope:
                    desc = self._scoped(syntax.text(a, src), a.start_byte)
                    if desc[0] == "call" and desc[1] < idx:
                        self._fed.append((desc[1], idx))
        dunder = BUILTIN_DUNDERS.get(name) if fn.type == "identifier" and name not in self.scope else MODULE_DUNDERS.get(dotted)
        if dunder and positional and (len(positional) == 1 or dunder == "__reduce_ex__"):
            # str(x), len(x), copy.copy(x), ...: x.__str__(), x.__len__(), x.__copy__()
            self._push(CallSite(name=dunder, receiver=self.type_of(positional[0]), nargs=0, end=node.end_byte - 1,
                                protocol=True), node)
        if name in CALLABLE_ASSERTS and len(argn) >= 2 and argn[1].type in ("identifier", "attribute"):
            # self.assertRaises(E, func, *args) / pytest.raises(E, func, *args): func is called with the rest
            target = argn[1]
            if target.type == "identifier":
                tname, trecv = syntax.text(target, src), ("global",)
            else:
                tname = syntax.text(target.child_by_field_name("attribute"), src)
                trecv = self.type_of(target.child_by_field_name("object"))
            rest = [a for a in argn[2:] if a.type != "keyword_argument"]
            s = CallSite(name=tname, receiver=trecv, nargs=None if nargs is None else len(rest), end=node.end_byte - 1)
            self._push(s, node)
            s.assert_role = "act"

    # -- syntax -----------------------------------------------------------------------------------

    def add_protocol(self, node: Node, what: str) -> None:
        """A protocol node captured by queries/python/protocols.scm (`what` is its capture name)."""
        handler = getattr(self, f"_p_{what}", None)
        if handler is not None:
            handler(node)

    def _site(self, name: str, recv_node: Node | None, node: Node, nargs: int | None = 1, attr: str | None = None,
              receiver: tuple | None = None) -> int | None:
        receiver = receiver if receiver is not None else self.type_of(recv_node)
        if receiver[0] in ("literal", "unknown"):
            return None  # only a receiver whose type can be known can name the class whose dunder runs
        return self._push(CallSite(name=name, receiver=receiver, nargs=nargs, end=node.end_byte, protocol=True, attr=attr),
                          node)

    def _p_compare(self, node: Node) -> None:
        operands = node.named_children
        ops = [c for c in node.children if not c.is_named]
        if len(operands) < 2 or not ops:
            return
        op = ops[0].type
        if op == "not" and len(ops) > 1 and ops[1].type == "in":
            op = "not in"
        name = COMPARE.get(op)
        if name is None:
            return
        left, right = operands[0], operands[1]
        if name == "__contains__":
            self._site(name, right, node)
            return
        lt = self.type_of(left)
        if lt[0] == "literal":
            self._site(REFLECTED_COMPARE[name], right, node)
        else:
            self._site(name, None, node, receiver=lt)

    def _p_binary(self, node: Node) -> None:
        op = node.child_by_field_name("operator")
        stem = BINARY.get(op.type) if op is not None else None
        if stem is None:
            return
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        lt = self.type_of(left)
        if lt[0] == "literal":
            self._site(f"__r{stem}__", right, node)
        else:
            self._site(f"__{stem}__", None, node, receiver=lt)

    def _p_unary(self, node: Node) -> None:
        op = node.child_by_field_name("operator")
        name = UNARY.get(op.type) if op is not None else None
        if name:
            self._site(name, node.child_by_field_name("argument"), node, nargs=0)

    def _p_not(self, node: Node) -> None:
        self._site("__bool__", node.child_by_field_name("argument"), node, nargs=0)

    def _p_augmented(self, node: Node) -> None:
        op = node.child_by_field_name("operator")
        stem = BINARY.get(op.type[:-1]) if op is not None and op.type.endswith("=") else None
        left = node.child_by_field_name("left")
        if stem is None or left is None or left.type == "subscript":
            return
        self._site(f"__i{stem}__", left, node)

    def _p_subscript(self, node: Node) -> None:
        parent = node.parent
        name = "__getitem__"
        if parent is not None:
            if parent.type in ("assignment", "augmented_assignment") and parent.child_by_field_name("left") == node:
                name = "__setitem__"
            elif parent.type == "delete_statement" or (parent.type == "expression_list" and parent.parent is not None
                                                       and parent.parent.type == "delete_statement"):
                name = "__delitem__"
        self._site(name, node.child_by_field_name("value"), node, nargs=1 if name != "__setitem__" else 2)

    def _p_iter(self, node: Node) -> None:
        self._site("__iter__", node, node, nargs=0)

    def _p_with(self, node: Node) -> None:
        value = node.child_by_field_name("value")
        if value is not None and value.type == "as_pattern" and value.named_child_count:
            value = value.named_children[0]
        if value is None or value.type == "call":
            return  # `with Foo() as f` / `with pytest.raises(...)`: the call is already a site
        self._site("__enter__", value, node, nargs=0)

    def _p_decorator(self, node: Node) -> None:
        """`@memoize` on a function the test defines calls memoize with it (`@cache(60)` is a call already)."""
        expr = node.named_children[0] if node.named_child_count else None
        if expr is None or expr.type not in ("identifier", "attribute"):
            return
        if expr.type == "identifier":
            name, receiver = syntax.text(expr, self.src), ("global",)
        else:
            name, receiver = syntax.text(expr.child_by_field_name("attribute"), self.src), \
                self.type_of(expr.child_by_field_name("object"))
        self._push(CallSite(name=name, receiver=receiver, nargs=1, end=node.end_byte), node)

    def _p_attribute(self, node: Node) -> None:
        parent = node.parent
        if parent is not None and (parent.type == "decorator" or (
                parent.type == "call" and parent.child_by_field_name("function") == node)):
            return  # a method call or a decorator: its own site
        obj = node.child_by_field_name("object")
        if obj is None or obj.type not in ("identifier", "call", "attribute", "subscript", "parenthesized_expression"):
            return
        if obj.type == "identifier" and self.src[obj.start_byte:obj.end_byte] in (b"self", b"cls"):
            return
        recv = self.type_of(obj)
        if recv[0] in ("unknown", "literal", "static", "global", "self"):
            return
        name = "__getattr__"
        if parent is not None:
            if parent.type in ("assignment", "augmented_assignment") and parent.child_by_field_name("left") == node:
                name = "__setattr__"
            elif parent.type == "delete_statement":
                name = "__delattr__"
        attr = syntax.text(node.child_by_field_name("attribute"), self.src)
        idx = self._site(name, None, node, nargs=0, attr=attr, receiver=recv)
        if idx is not None and name == "__getattr__":
            self.index_of.setdefault(node.id, idx)  # `bx.server.get_comment(k)`: get_comment's receiver

    # -- types ------------------------------------------------------------------------------------

    def type_of(self, node: Node | None) -> tuple:
        """The receiver descriptor of an expression (see facts.Receiver)."""
        if node is None:
            return ("unknown", "")
        t = node.type
        src = self.src
        if t == "identifier":
            name = syntax.text(node, src)
            if name in ("self", "cls"):
                return ("self",)
            if name in self.scope:
                return self._scoped(name, node.start_byte)
            return ("static", name)
        if t == "attribute":
            if node.id in self.index_of:
                return ("call", self.index_of[node.id])
            obj = node.child_by_field_name("object")
            attr = syntax.text(node.child_by_field_name("attribute"), src)
            if obj is not None and obj.type == "identifier":
                oname = syntax.text(obj, src)
                if oname == "self":
                    key = f"self.{attr}"
                    return self._scoped(key) if key in self.scope else ("selfattr", attr)
            dotted = syntax.text(node, src)
            head = dotted.split(".", 1)[0]
            if _DOTTED.fullmatch(dotted) and head in self.imported and head not in self.scope:
                return ("static", dotted)
            return ("unknown", attr)
        if t == "call":
            if node.id in self.index_of:
                return ("call", self.index_of[node.id])
            return self.value_type(node)
        if t == "parenthesized_expression" and node.named_child_count:
            return self.type_of(node.named_children[0])
        if t in LITERALS:
            return ("literal", LITERALS[t])
        return ("unknown", "")

    def type_of_scoped(self, key: str) -> tuple:
        """The type of a scope entry (a local, a parameter, or `self.x` set in this function)."""
        return self._scoped(key)

    def _scoped(self, key: str, at: int | None = None) -> tuple:
        """A local's type: its binding in effect at byte ``at`` (a name bound again later has several), else its
        first binding."""
        entries = self.scope.get(" rebound", {}).get(key)
        if at is not None and entries and len(entries) > 1:
            entry = None
            for e in entries:
                if e[0] <= at:
                    entry = e
            if entry is not None:
                if entry[1][0] == "expr":
                    entry[1] = self.value_type(entry[1][1])
                return entry[1]
        desc = self.scope[key]
        if desc[0] == "expr":
            desc = self.value_type(desc[1])
            self.scope[key] = desc
            if entries:
                entries[0][1] = desc
        return desc

    def value_type(self, value: Node) -> tuple:
        """The type a value expression gives the name it is bound to."""
        if value.type == "await" and value.named_child_count:
            value = value.named_children[0]
        if value.type == "call":
            fn = value.child_by_field_name("function")
            src = self.src
            if fn is not None and (fn.type == "identifier" or (fn.type == "attribute" and _DOTTED.fullmatch(syntax.text(fn, src)))):
                dotted = syntax.text(fn, src)
                head = dotted.split(".", 1)[0]
                if dotted in self.local_classes:
                    return ("local", self.local_classes[dotted])
                if head == "self" or head in self.scope:
                    if value.id in self.index_of:
                        return ("call", self.index_of[value.id])
                    return ("unknown", "")
                return ("result", dotted)
            if value.id in self.index_of:
                return ("call", self.index_of[value.id])
            return ("unknown", "")
        if value.type in LITERALS:
            return ("literal", LITERALS[value.type])
        return self.type_of(value) if value.type in ("identifier", "attribute") else ("unknown", "")

    def returned(self, node: Node) -> tuple | None:
        """What a fixture returns or yields, when it is a constructor/function call or a typed name."""
        body = node.child_by_field_name("body")
        src = self.src
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
                if _DOTTED.fullmatch(dotted) and dotted.split(".", 1)[0] not in self.scope:
                    return ("result", dotted)
            if target.type in ("identifier", "attribute") and _DOTTED.fullmatch(syntax.text(target, src)):
                text = syntax.text(target, src)
                if text.split(".", 1)[0] not in self.scope:
                    return ("value", text)  # the fixture hands out a name (a function, a class)
                if target.type == "attribute" and self.type_of(target.child_by_field_name("object"))[0] == "unknown":
                    # `return mod.python_pvector` from a module imported at run time: the name the test file binds
                    return ("value", syntax.text(target.child_by_field_name("attribute"), src))
            return portable(self.type_of(target), self.sites)
        return None


def portable(desc: tuple, sites: list[CallSite]) -> tuple:
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


def returns_of(node: Node, src: bytes) -> tuple[str, ...]:
    """A function's return statement as descriptors (see MethodFacts.returns): one, or each branch of a
    conditional expression (`return _EMPTY if not items else Bag(items)`)."""
    if not node.named_child_count:
        return ()
    value = node.named_children[0]
    named = value.named_children
    values = [named[0], named[-1]] if value.type == "conditional_expression" and len(named) == 3 else [value]
    return tuple(d for d in (returns_of_value(v, src) for v in values) if d is not None)


def returns_of_value(value: Node, src: bytes) -> str | None:
    """A returned expression as a descriptor (see MethodFacts.returns), or None."""
    t = value.type
    if t == "identifier":
        name = syntax.text(value, src)
        return "self" if name in ("self", "cls") else f"={name}"
    if t == "call":
        fn = value.child_by_field_name("function")
        if fn is None:
            return None
        if fn.type == "call":  # type(self)(...)
            inner = fn.child_by_field_name("function")
            return "self" if inner is not None and syntax.text(inner, src) == "type" else None
        dotted = syntax.text(fn, src)
        if not _DOTTED.fullmatch(dotted):
            return None
        if dotted in ("cls", "self.__class__"):
            return "self"
        args = value.child_by_field_name("arguments")
        if dotted in ("reduce", "functools.reduce") and args is not None and args.named_child_count == 3:
            init = args.named_children[2]  # reduce(f, items, initial) returns what f returns, typed like `initial`
            if init.type in ("identifier", "call"):
                return returns_of_value(init, src)
        return dotted
    return None
