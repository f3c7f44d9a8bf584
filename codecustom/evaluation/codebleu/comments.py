"""Remove comments (and Python docstrings) before structural matching, as CodeBLEU does."""

from __future__ import annotations

from typing import Any

from codecustom.evaluation.languages import get_language, parse


def _docstring_nodes(root: Any) -> list[Any]:
    """Python docstrings: a lone string expression opening a module, class or function body."""
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in {"module", "block"} and node.named_children:
            first = node.named_children[0]
            if first.type == "expression_statement" and first.named_child_count == 1 \
                    and first.named_children[0].type in {"string", "concatenated_string"}:
                found.append(first)
        stack.extend(node.named_children)
    return found


def strip_comments(code: str, language: str) -> str:
    """``code`` without comment nodes (and docstrings for Python); unparseable parts are kept as they are."""
    comment_types = get_language(language).comment_types
    root = parse(code, language).root_node
    spans: list[tuple[int, int]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type in comment_types:
            spans.append((node.start_byte, node.end_byte))
        else:
            stack.extend(node.children)
    if language == "python":
        spans.extend((n.start_byte, n.end_byte) for n in _docstring_nodes(root))
    if not spans:
        return code
    data = code.encode("utf-8")
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out.append(data[pos:start])
        pos = end
    out.append(data[pos:])
    text = b"".join(out).decode("utf-8", errors="replace")
    # drop lines left blank by the removal so the token stream and tree stay the same
    return "\n".join(line for line in text.splitlines() if line.strip())
