"""Make a test that decoding had to cut (a repetition loop, the token limit) end where code can end.

A cut test ends mid-statement or with its blocks open. Like an editor's completion post-filter, the
last incomplete lines are dropped and, for brace languages, the blocks still open are closed, so what
remains is the longest prefix of what the model wrote that parses. The test's ``stop_reason`` still
says it was cut. Nothing is changed when no prefix parses.
"""

from __future__ import annotations

from codecustom.inference.languages import LanguageSpec

MAX_CLOSING = 8  # braces appended at most when closing a brace-language test


def close_cut_test(code: str, spec: LanguageSpec) -> str:
    """The longest line prefix of ``code`` that parses as a definition (blocks closed for brace languages)."""
    parser = spec.parser()
    if parser is None or not code.strip() or not spec.definition_nodes:
        return code
    lines = code.rstrip().split("\n")
    for keep in range(len(lines), 0, -1):
        head = "\n".join(lines[:keep]).rstrip()
        if not head or (spec.blocks == "indent" and head.endswith(spec.block_opener)):
            continue
        closings = range(MAX_CLOSING + 1) if spec.blocks == "brace" else (0,)
        for depth in closings:
            candidate = head + "".join("\n" + "}" for _ in range(depth))
            if _is_one_definition(parser, candidate, spec):
                return candidate
    return code


def _is_one_definition(parser: object, code: str, spec: LanguageSpec) -> bool:
    root = parser.parse(code.encode("utf-8", errors="surrogatepass")).root_node
    if root.has_error:
        return False
    nodes = [n for n in root.named_children if "comment" not in n.type]
    return bool(nodes) and nodes[0].type in spec.definition_nodes
