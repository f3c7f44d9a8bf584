"""License detection for corpus sources, and the list of licenses we accept.

Only permissive licenses go into a pretraining corpus. A source's license is read, in order of
trust, from an SPDX ``License-Expression`` (PEP 639), the ``License ::`` trove classifiers, the free-text
``License`` field, and finally the text of its license files. Anything that cannot be identified is
treated as not permissive: leaving a source out is always safe, putting one in by mistake is not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# SPDX ids (plus two widespread non-SPDX labels) that allow use for training without copyleft terms.
PERMISSIVE: frozenset[str] = frozenset({
    "MIT", "MIT-0", "MIT-CMU", "X11", "BSD", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "0BSD",
    "Apache-2.0", "Apache-1.1", "PSF-2.0", "Python-2.0", "CNRI-Python", "ISC", "Unlicense", "CC0-1.0", "Zlib",
    "BSL-1.0", "HPND", "NCSA", "UPL-1.0", "PostgreSQL", "Public-Domain",
})

# Trove classifier (after "License :: ") -> SPDX id or label.
_CLASSIFIERS: dict[str, str] = {
    "OSI Approved :: MIT License": "MIT",
    "OSI Approved :: MIT No Attribution License (MIT-0)": "MIT-0",
    "OSI Approved :: BSD License": "BSD",
    "OSI Approved :: Apache Software License": "Apache-2.0",
    "OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "OSI Approved :: ISC License (ISCL)": "ISC",
    "OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "OSI Approved :: zlib/libpng License": "Zlib",
    "OSI Approved :: Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "OSI Approved :: Historical Permission Notice and Disclaimer (HPND)": "HPND",
    "OSI Approved :: University of Illinois/NCSA Open Source License": "NCSA",
    "OSI Approved :: Universal Permissive License (UPL)": "UPL-1.0",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
    "Public Domain": "Public-Domain",
    "OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "OSI Approved :: Mozilla Public License 1.1 (MPL 1.1)": "MPL-1.1",
    "OSI Approved :: GNU General Public License (GPL)": "GPL",
    "OSI Approved :: GNU General Public License v2 (GPLv2)": "GPL-2.0",
    "OSI Approved :: GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "OSI Approved :: GNU General Public License v3 (GPLv3)": "GPL-3.0",
    "OSI Approved :: GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0",
    "OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "OSI Approved :: GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0",
    "OSI Approved :: GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
    "OSI Approved :: GNU Library or Lesser General Public License (LGPL)": "LGPL",
    "OSI Approved :: GNU Affero General Public License v3": "AGPL-3.0",
    "OSI Approved :: Eclipse Public License 2.0 (EPL-2.0)": "EPL-2.0",
    "Other/Proprietary License": "LicenseRef-Proprietary",
}

# Free-text names -> SPDX id or label; copyleft first so "GNU Lesser ..." is not read as something else.
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I), spdx) for p, spdx in (
    (r"\b(agpl|affero)", "AGPL"),
    (r"\b(lgpl|lesser general public|library general public)", "LGPL"),
    (r"\b(gpl|general public licen[cs]e)", "GPL"),
    (r"\b(mpl|mozilla public)", "MPL-2.0"),
    (r"\b(epl|eclipse public)", "EPL-2.0"),
    (r"\b(cddl|eupl|sspl|commons clause|proprietary|all rights reserved)", "LicenseRef-Proprietary"),
    (r"\bapache\b", "Apache-2.0"),
    (r"\bpsf\b|python software foundation", "PSF-2.0"),
    (r"\b0bsd\b", "0BSD"),
    (r"\bbsd\b.*\b(2|two)[- ]clause|simplified bsd|freebsd", "BSD-2-Clause"),
    (r"\bbsd\b", "BSD"),
    (r"\bmit\b|\bexpat\b", "MIT"),
    (r"\bisc\b", "ISC"),
    (r"\bunlicen[cs]e\b", "Unlicense"),
    (r"\bcc0\b", "CC0-1.0"),
    (r"\bzlib\b", "Zlib"),
    (r"\bboost\b|\bbsl-1\.0\b", "BSL-1.0"),
    (r"\bhpnd\b|historical permission notice", "HPND"),
    (r"public domain", "Public-Domain"),
))

# License-file text -> SPDX id (ties at one offset go to the earlier entry).
_TEXT_SIGNATURES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.I | re.S), spdx) for p, spdx in (
    (r"GNU AFFERO GENERAL PUBLIC LICENSE", "AGPL"),
    (r"GNU LESSER GENERAL PUBLIC LICENSE|GNU LIBRARY GENERAL PUBLIC LICENSE", "LGPL"),
    (r"GNU GENERAL PUBLIC LICENSE", "GPL"),
    (r"Mozilla Public License", "MPL-2.0"),
    (r"Eclipse Public License", "EPL-2.0"),
    (r"PYTHON SOFTWARE FOUNDATION LICENSE", "PSF-2.0"),
    (r"Apache License,?\s+Version 2\.0", "Apache-2.0"),
    (r"Permission is hereby granted, free of charge", "MIT"),
    (r"Redistribution and use in source and binary forms.*(Neither the name|endorse or promote)", "BSD-3-Clause"),
    (r"Redistribution and use in source and binary forms", "BSD-2-Clause"),
    (r"Permission to use, copy, modify, and(/or)? distribute this software for any\s+purpose\s+with or without fee",
     "ISC"),
    (r"This is free and unencumbered software released into the public domain", "Unlicense"),
    (r"Boost Software License", "BSL-1.0"),
    (r"provided 'as-is', without any express or implied\s+warranty", "Zlib"),
    (r"Permission to use, copy, modify,? and distribute this software and its\s+(associated\s+)?documentation",
     "HPND"),
    (r"CC0 1\.0 Universal", "CC0-1.0"),
))

_SPDX_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_SPDX_ID = re.compile(r"^[A-Za-z0-9.+-]+$")
LICENSE_FILE_NAMES = re.compile(r"^(licen[cs]e|copying|copyright|notice)([._-].*)?$", re.I)


@dataclass(frozen=True)
class LicenseInfo:
    """What a source is licensed under, whether we may train on it, and how we know."""

    license: str  # SPDX expression or label ("unknown" when nothing was found)
    permissive: bool
    evidence: str  # e.g. "License-Expression", "classifier", "LICENSE file"

    def to_dict(self) -> dict[str, object]:
        return {"license": self.license, "permissive": self.permissive, "evidence": self.evidence}


UNKNOWN = LicenseInfo("unknown", False, "no license metadata or license file found")


def is_permissive_id(spdx_id: str) -> bool:
    """True for an SPDX id (or our label) on the permissive list; ``-or-later``/``+`` suffixes don't change that."""
    base = re.sub(r"(\+|-or-later|-only)$", "", spdx_id)
    return base in PERMISSIVE


def parse_spdx(expression: str) -> LicenseInfo | None:
    """Evaluate an SPDX expression (``AND``/``OR``/``WITH``, parentheses).

    ``OR`` needs one permissive branch, ``AND`` needs all, ``WITH <exception>`` keeps the base license.
    Returns ``None`` when the text is not an expression made only of known ids (then it is free text).
    """
    tokens = _SPDX_TOKEN.findall(expression.strip())
    if not tokens:
        return None
    pos = 0

    def peek() -> str | None:
        return tokens[pos] if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def factor() -> bool:
        tok = take()
        if tok == "(":
            value = disjunction()
            if take() != ")":
                raise ValueError("unbalanced parentheses")
            return value
        if not _SPDX_ID.match(tok) or tok.upper() in {"AND", "OR", "WITH"}:
            raise ValueError(f"not an SPDX id: {tok}")
        known = is_permissive_id(tok) or _known_nonpermissive(tok)
        if not known:
            raise ValueError(f"unknown SPDX id: {tok}")
        if (peek() or "").upper() == "WITH":
            take()
            take()  # the exception name only adds permissions
        return is_permissive_id(tok)

    def conjunction() -> bool:
        value = factor()
        while (peek() or "").upper() == "AND":
            take()
            value = factor() and value
        return value

    def disjunction() -> bool:
        value = conjunction()
        while (peek() or "").upper() == "OR":
            take()
            value = conjunction() or value
        return value

    try:
        permissive = disjunction()
    except (ValueError, IndexError):
        return None
    if pos != len(tokens):
        return None
    return LicenseInfo(expression.strip(), permissive, "SPDX expression")


def _known_nonpermissive(spdx_id: str) -> bool:
    base = re.sub(r"(\+|-or-later|-only)$", "", spdx_id)
    return base.startswith(("GPL", "LGPL", "AGPL", "MPL", "EPL", "CDDL", "EUPL", "SSPL", "LicenseRef-", "CC-BY"))


def from_name(text: str) -> LicenseInfo | None:
    """Identify a license from a short free-text name (a ``License:`` field, a pyproject ``license``)."""
    text = text.strip()
    if not text or text.upper() in {"UNKNOWN", "NONE", "OTHER"}:
        return None
    spdx = parse_spdx(text)
    if spdx is not None:
        return LicenseInfo(spdx.license, spdx.permissive, "License field")
    if len(text) > 300:  # a whole license pasted into the field
        return from_text(text)
    found = [spdx_id for pattern, spdx_id in _NAME_PATTERNS if pattern.search(text)]
    if not found:
        return None
    # a name that mentions copyleft anywhere ("MIT or GPL", "BSD with GPL parts") is not trusted as permissive
    permissive = all(is_permissive_id(f) for f in found)
    label = " AND ".join(dict.fromkeys(found)) if not permissive else found[0]
    return LicenseInfo(label, permissive, "License field")


def from_text(text: str) -> LicenseInfo | None:
    """Identify a license from the full text of a license file."""
    head = text[:20_000]
    # the license a file opens with is its own; later matches are usually notes about other licenses
    # ("GPL-compatible") or bundled components
    found = [(m.start(), i, spdx_id) for i, (pattern, spdx_id) in enumerate(_TEXT_SIGNATURES)
             if (m := pattern.search(head))]
    if not found:
        return None
    spdx_id = min(found)[2]
    return LicenseInfo(spdx_id, is_permissive_id(spdx_id), "license file text")


def from_classifiers(classifiers: Iterable[str]) -> LicenseInfo | None:
    """Identify a license from ``License ::`` trove classifiers (all must be permissive)."""
    ids: list[str] = []
    for classifier in classifiers:
        if not classifier.startswith("License ::"):
            continue
        name = classifier[len("License ::"):].strip()
        spdx_id = _CLASSIFIERS.get(name)
        if spdx_id is None:
            guess = from_name(name.split("::")[-1])
            spdx_id = guess.license if guess else f"LicenseRef-{name}"
        ids.append(spdx_id)
    if not ids:
        return None
    ids = list(dict.fromkeys(ids))
    return LicenseInfo(" AND ".join(ids), all(is_permissive_id(i) for i in ids), "classifier")


def from_metadata(fields: dict[str, list[str]], license_texts: Iterable[str] = ()) -> LicenseInfo:
    """A distribution's license from its core metadata fields and its license files' texts."""
    for expression in fields.get("License-Expression", []):
        info = parse_spdx(expression)
        if info is not None:
            return LicenseInfo(info.license, info.permissive, "License-Expression")
    info = from_classifiers(fields.get("Classifier", []))
    if info is not None:
        return info
    for value in fields.get("License", []):
        info = from_name(value.splitlines()[0] if len(value) < 300 else value)
        if info is not None:
            return info
    return from_license_texts(license_texts) or UNKNOWN


def from_license_texts(texts: Iterable[str]) -> LicenseInfo | None:
    """The license of a set of license files: all identified files must be permissive."""
    infos = [info for info in (from_text(t) for t in texts) if info is not None]
    if not infos:
        return None
    ids = list(dict.fromkeys(i.license for i in infos))
    return LicenseInfo(" AND ".join(ids), all(i.permissive for i in infos), "license file text")


def license_files(folder: Path) -> list[Path]:
    """License-like files directly inside ``folder`` (LICENSE, COPYING, LICENSE.txt, ...)."""
    try:
        return sorted(p for p in folder.iterdir() if p.is_file() and LICENSE_FILE_NAMES.match(p.name))
    except OSError:
        return []


def read_texts(paths: Iterable[Path], limit: int = 200_000) -> list[str]:
    """Read license files as text, skipping unreadable ones."""
    out = []
    for path in paths:
        try:
            out.append(path.read_text(encoding="utf-8", errors="replace")[:limit])
        except OSError:
            continue
    return out
