"""Focal context at methods2test's five levels, as source text ready to feed a model.

``fm``            the focal method
``fm_fc``         + the focal class's declaration (Python module functions: a `# module:` line)
``fm_fc_c``       + constructor signatures (Python: `__init__`)
``fm_fc_c_m``     + the signatures of the class's other methods (Python module functions: other functions)
``fm_fc_c_m_f``   + fields (Python: class attributes; for Python also the module's imports)
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from json.encoder import encode_basestring

from codecustom.mining.index import ClassRef, CodeIndex, MethodRef
from codecustom.mining.records import CONTEXT_LEVELS


class JavaContext:
    """Class skeletons around the focal method."""

    def __init__(self) -> None:
        self._skeletons: dict[tuple[str, bool], _Skeleton] = {}

    def build(self, focal: MethodRef, body: str, index: CodeIndex) -> dict[str, str]:
        return {level: "\n".join(lines) for level, lines in self._lines(focal, body, escaped=False).items()}

    def build_json(self, focal: MethodRef, body: str, index: CodeIndex) -> dict[str, bytes]:
        """:meth:`build` with every value already a JSON string literal, UTF-8 encoded
        (``json.dumps(value, ensure_ascii=False).encode()``).

        A class's skeleton lines are escaped and encoded once and reused by every pair of the class: escaping
        is per character, so escaping the pieces and joining them with an escaped newline gives the same text.
        """
        return {level: b'"' + b"\\n".join(lines) + b'"' for level, lines in self._lines(focal, body, escaped=True).items()}

    def _lines(self, focal: MethodRef, body: str, *, escaped: bool) -> dict[str, list]:
        """Per level, the lines that make it (JSON-escaped UTF-8 bytes when ``escaped``)."""
        conv = _escaped if escaped else str
        fm = body.strip("\n")
        cls = focal.cls
        if cls is None:
            fm_lines = [conv(fm)]
            return {level: fm_lines for level in CONTEXT_LEVELS}
        ind = "    "
        fm_in = conv(textwrap.indent(fm, ind))
        sk = self._skeletons.get((cls.key, escaped))
        if sk is None:  # per class, once
            ctors = cls.constructors()
            others = [m for m in cls.methods if not m.is_constructor and not m.is_test]
            sk = self._skeletons[(cls.key, escaped)] = _Skeleton(
                head=conv(f"{cls.header} {{"), close=conv("}"), fields=[conv(f"{ind}{f}") for f in cls.fields],
                ctors=[conv(f"{ind}{m.signature};") for m in ctors], ctor_at={id(m): i for i, m in enumerate(ctors)},
                others=[conv(f"{ind}{m.signature};") for m in others], other_at={id(m): i for i, m in enumerate(others)})
        ctors, others = _without(sk.ctors, sk.ctor_at, focal), _without(sk.others, sk.other_at, focal)
        head, close = [sk.head], [sk.close]
        return {
            "fm": [conv(fm)],
            "fm_fc": head + [fm_in] + close,
            "fm_fc_c": head + ctors + [fm_in] + close,
            "fm_fc_c_m": head + ctors + [fm_in] + others + close,
            "fm_fc_c_m_f": head + sk.fields + ctors + [fm_in] + others + close,
        }


@dataclass(slots=True)
class _Skeleton:
    """A class's context lines, made once per class; ``*_at``: where each method's line is (by id)."""

    head: object
    close: object
    fields: list
    ctors: list
    ctor_at: dict[int, int]
    others: list
    other_at: dict[int, int]


def _without(lines: list, at: dict[int, int], focal: MethodRef) -> list:
    """The lines of a skeleton section without the focal method's own line."""
    i = at.get(id(focal))
    return lines if i is None else lines[:i] + lines[i + 1:]


def _escaped(text: str) -> bytes:
    """``text`` as inside a JSON string literal (what json.dumps(ensure_ascii=False) writes between the quotes),
    UTF-8 encoded."""
    return encode_basestring(text)[1:-1].encode("utf-8")


class PythonContext:
    """Class (or module) skeletons around the focal function."""

    def __init__(self) -> None:
        self._skeletons: dict[str, list] = {}

    def _stubs(self, key: str, methods, ind: str) -> list:
        if key not in self._skeletons:
            self._skeletons[key] = [(m, _stub(m, ind)) for m in methods if not m.is_test and not m.is_fixture]
        return self._skeletons[key]

    def build(self, focal: MethodRef, body: str, index: CodeIndex, factory: MethodRef | None = None) -> dict[str, str]:
        """The five levels; a ``factory`` that built the object under test joins the constructor level (`fm_fc_c`
        and above) as its signature, after the class's own `__init__`."""
        fm = body.strip("\n")
        mod = index.modules.get(focal.path)
        imports = _unique(imp.text for imp in mod.imports) if mod else []
        cls: ClassRef | None = focal.cls
        if cls is None:
            head = [f"# module: {focal.path}"]
            funcs = [m for fs in (mod.functions.values() if mod else []) for m in fs]
            others = [line for m, line in self._stubs(focal.path, funcs, "") if m is not focal]
            fields = list(mod.module_fields) if mod else []
            fm_fc = "\n".join(head + [fm])
            fm_fc_c_m = "\n\n".join(["\n".join(head + [fm])] + others) if others else fm_fc
            top = "\n".join(imports + ([""] if imports and fields else []) + fields)
            return {
                "fm": fm,
                "fm_fc": fm_fc,
                "fm_fc_c": fm_fc,
                "fm_fc_c_m": fm_fc_c_m,
                "fm_fc_c_m_f": (top + "\n\n" + fm_fc_c_m) if top else fm_fc_c_m,
            }
        ind = "    "
        fm_in = textwrap.indent(fm, ind)
        stubs = self._stubs(cls.key, cls.methods, ind)
        init = [line for m, line in stubs if m.name == "__init__" and m is not focal]
        if factory is not None:
            init = init + [_stub(factory, ind).replace(ind, ind + "# built by: ", 1)]
        others = [line for m, line in stubs if m.name != "__init__" and m is not focal]
        fields = [f"{ind}{f}" for f in cls.fields]
        head = f"{cls.header}:"

        def block(*parts: list[str]) -> str:
            chunks = [p for part in parts for p in part]
            return head + "\n" + "\n\n".join(chunks)

        full = block(fields and ["\n".join(fields)], init, [fm_in], others)
        return {
            "fm": fm,
            "fm_fc": block([fm_in]),
            "fm_fc_c": block(init, [fm_in]),
            "fm_fc_c_m": block(init, [fm_in], others),
            "fm_fc_c_m_f": ("\n".join(imports) + "\n\n\n" + full) if imports else full,
        }


def _stub(m: MethodRef, ind: str) -> str:
    lines = [f"{ind}{d}" for d in m.modifiers]
    lines.append(f"{ind}{m.signature}: ...")
    return "\n".join(lines)


def _unique(items) -> list[str]:
    seen: dict[str, None] = {}
    for it in items:
        if it:
            seen.setdefault(it, None)
    return list(seen)
