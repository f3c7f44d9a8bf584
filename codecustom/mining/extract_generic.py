"""Extraction for languages registered without test mapping (JavaScript, TypeScript, Go): classes, functions,
methods and called names, for methods.jsonl; their files feed the completion corpus."""

from __future__ import annotations

import posixpath
import re

from tree_sitter import Node

from codecustom.mining import syntax
from codecustom.mining.facts import ClassFacts, FileFacts, MethodFacts
from codecustom.mining.syntax import Spans

_WS = re.compile(r"\s+")


class GenericExtractor:
    """Definitions via `definitions.scm` (@class/@function with @name) and calls via `calls.scm` (@call/@name)."""

    def __init__(self, language: str, grammar_name: str, query_dir: str) -> None:
        self.language = language
        self.parser = syntax.parser(grammar_name)
        self.queries = syntax.query_set(grammar_name, query_dir, ("definitions", "calls"))

    def extract(self, path: str, src: bytes, *, is_test_file: bool) -> FileFacts:
        root = self.parser.parse(src).root_node
        facts = FileFacts(path=path, language=self.language, is_test_file=is_test_file, root_has_error=root.has_error)
        found = self.queries.run(root)
        classes: list[tuple[Node, ClassFacts]] = []
        funcs: list[tuple[Node, str]] = []
        for caps in found["definitions"]:
            name = syntax.text(caps["name"][0], src)
            if "class" in caps:
                node = caps["class"][0]
                if node.has_error:
                    facts.syntax_errors += 1
                    continue
                classes.append((node, ClassFacts(name=name, qualname=name, kind="class", header=_header(node, src),
                                                 bases=[], modifiers=[], fields=[], field_types={},
                                                 start_line=node.start_point[0] + 1, end_line=node.end_point[0] + 1)))
            else:
                funcs.append((caps["function"][0], name))
        classes.sort(key=lambda c: c[0].start_byte)
        cspans = Spans([(n.start_byte, n.end_byte) for n, _ in classes])
        for i, (node, cf) in enumerate(classes):  # qualify nested classes
            p = cspans.parent[i]
            if p >= 0:
                cf.qualname = f"{classes[p][1].qualname}.{cf.name}"
        facts.classes = [cf for _, cf in classes]
        emitted: list[tuple[Node, MethodFacts]] = []
        fspans_all = sorted(funcs, key=lambda f: f[0].start_byte)
        outer_spans = Spans([(n.start_byte, n.end_byte) for n, _ in fspans_all])
        for k, (node, name) in enumerate(fspans_all):
            if outer_spans.parent[k] >= 0:
                continue  # nested function: part of the enclosing one
            if node.has_error:
                facts.syntax_errors += 1
                continue
            owner = None
            if node.type == "method_declaration" and self.language == "go":
                recv = node.child_by_field_name("receiver")
                owner = re.sub(r"[^\w]", " ", syntax.text(recv, src)).split()[-1] if recv is not None else None
            else:
                ci = cspans.find(node.start_byte, node.end_byte)
                owner = classes[ci][1].qualname if ci is not None else None
            body_node = node.parent if node.type == "variable_declarator" and node.parent is not None else node
            params_node = node.child_by_field_name("parameters") or (node.child_by_field_name("value").child_by_field_name("parameters")
                                                                      if node.child_by_field_name("value") is not None else None)
            params = [_WS.sub(" ", syntax.text(p, src)) for p in params_node.named_children
                      if p.type not in ("comment",)] if params_node is not None else []
            value = node.child_by_field_name("value") if node.type == "variable_declarator" else None
            body = (value if value is not None else node).child_by_field_name("body") or node
            is_test = (self.language == "go" and path.endswith("_test.go") and re.match(r"(Test|Benchmark|Fuzz|Example)", name) is not None)
            emitted.append((node, MethodFacts(
                name=name, class_name=owner,
                signature=_WS.sub(" ", src[body_node.start_byte:body.start_byte].decode("utf-8", "replace")).strip() or name,
                params=params, param_types=[None] * len(params), min_arity=len(params), max_arity=len(params),
                return_type=None, modifiers=[], docstring=None, body=syntax.dedent_body(syntax.text(body_node, src), body_node.start_point[1]),
                start_line=body_node.start_point[0] + 1, end_line=body_node.end_point[0] + 1, start_col=body_node.start_point[1], is_test=is_test,
                is_constructor=name == "constructor", framework="go test" if is_test else None)))
        if root.has_error and facts.syntax_errors == 0:
            facts.syntax_errors = 1
        spans = Spans([(n.start_byte, n.end_byte) for n, _ in emitted])
        raw: list[list[tuple[int, str]]] = [[] for _ in emitted]
        for caps in found["calls"]:
            node = caps["call"][0]
            i = spans.find(node.start_byte, node.end_byte)
            if i is not None:
                raw[i].append((node.end_byte, syntax.text(caps["name"][0], src)))
        for i, (_, mf) in enumerate(emitted):
            mf.calls = [n for _, n in sorted(raw[i])]
        facts.methods = [mf for _, mf in emitted]
        return facts


def _header(node: Node, src: bytes) -> str:
    body = node.child_by_field_name("body") or node.child_by_field_name("type")
    end = body.start_byte if body is not None else node.end_byte
    return _WS.sub(" ", src[node.start_byte:end].decode("utf-8", "replace")).strip()


def is_js_test_path(path: str) -> bool:
    base = posixpath.basename(path)
    return ".test." in base or ".spec." in base or "/__tests__/" in f"/{path}"


def is_go_test_path(path: str) -> bool:
    return path.endswith("_test.go")
