"""Small hand-written corpora for the pretraining tests: projects, a fake site-packages, a fake stdlib."""

from __future__ import annotations

import base64
import hashlib
import textwrap
from pathlib import Path

MIT_TEXT = """MIT License

Copyright (c) 2024 The Example Authors

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction.
"""

GPL_TEXT = """                    GNU GENERAL PUBLIC LICENSE
                       Version 3, 29 June 2007
 Everyone is permitted to copy and distribute verbatim copies of this license document.
"""

BSD_TEXT = """Copyright (c) 2024, Example
Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met: ... Neither the name of the copyright holder nor
the names of its contributors may be used to endorse or promote products derived from this software.
"""


def _module(name: str, n_funcs: int, seed: int) -> str:
    """A plausible Python module with ``n_funcs`` small functions and a class (varied by ``seed``)."""
    parts = [f'"""Utilities for {name}."""', "", "import math", ""]
    for i in range(n_funcs):
        k = seed * 31 + i
        parts.append(textwrap.dedent(f'''
            def {name}_scale_{i}(values, factor={k % 7 + 1}):
                """Scale every value by factor and clamp at {k % 11 + 5}."""
                result = []
                for value in values:
                    scaled = value * factor
                    if scaled > {k % 11 + 5}:
                        scaled = {k % 11 + 5}
                    result.append(scaled)
                return result
            '''))
    parts.append(textwrap.dedent(f'''
        class {name.title()}Shape:
            """A shape with an area and a perimeter."""

            def __init__(self, size):
                self.size = size

            def area(self):
                return self.size * self.size * {seed + 1}

            def perimeter(self):
                return 4 * self.size + math.sqrt(self.size)
        '''))
    return "\n".join(parts)


def _test_module(name: str) -> str:
    return textwrap.dedent(f'''
        import unittest

        from shapes.{name} import {name.title()}Shape, {name}_scale_0


        class Test{name.title()}(unittest.TestCase):
            def test_area(self):
                shape = {name.title()}Shape(2)
                self.assertGreater(shape.area(), 0)

            def test_perimeter(self):
                shape = {name.title()}Shape(3)
                self.assertGreater(shape.perimeter(), 12)

            def test_scale(self):
                self.assertEqual({name}_scale_0([1, 2]), [1 * 1, 2 * 1][:0] or {name}_scale_0([1, 2]))
        ''')


MODULE_NAMES = ("square", "circle", "triangle", "polygon", "ellipse", "sector", "prism", "sphere")


def make_project(root: Path, *, license_text: str = MIT_TEXT, funcs: int = 12) -> Path:
    """A project folder ``root`` with a LICENSE, a package of modules and unittest tests."""
    pkg = root / "shapes"
    tests = root / "tests"
    pkg.mkdir(parents=True)
    tests.mkdir()
    if license_text:
        (root / "LICENSE").write_text(license_text)
    (pkg / "__init__.py").write_text('"""Shapes."""\n\n__all__ = ["square", "circle"]\n' + "# package marker line\n" * 4)
    for i, name in enumerate(MODULE_NAMES):
        (pkg / f"{name}.py").write_text(_module(name, funcs, i))
        (tests / f"test_{name}.py").write_text(_test_module(name))
    return root


def _record_line(rel: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{rel},sha256={digest},{len(data)}"


def make_distribution(site: Path, name: str, version: str, files: dict[str, str], *, metadata: str) -> None:
    """Install a fake distribution into ``site``: its files, METADATA and RECORD."""
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.4\nName: {name}\nVersion: {version}\n{metadata}\n\nLong description\n"
                                   "License: GPL-3.0 (this line is in the body, not a header)\n")
    lines = []
    for rel, text in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        lines.append(_record_line(rel, text.encode()))
    lines.append(f"{info.name}/METADATA,,")
    lines.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(lines) + "\n")


def make_site_packages(site: Path) -> Path:
    """A fake site-packages: an MIT dist (with a vendored copy inside), a GPL dist and an unowned module."""
    make_distribution(site, "goodlib", "1.0", {
        "goodlib/__init__.py": _module("good", 6, 1),
        "goodlib/core.py": _module("core", 6, 2),
        "goodlib/_vendor/other.py": _module("other", 6, 3),
    }, metadata="License-Expression: MIT")
    make_distribution(site, "copyleft", "2.0", {"copyleft/__init__.py": _module("copy", 6, 4)},
                      metadata="Classifier: License :: OSI Approved :: GNU General Public License v3 (GPLv3)")
    (site / "stray.py").write_text(_module("stray", 6, 5))
    return site


def make_fake_stdlib(root: Path) -> Path:
    """A folder that looks like a Python stdlib (os.py + the PSF LICENSE.txt) with a site-packages inside."""
    root.mkdir(parents=True)
    (root / "LICENSE.txt").write_text("A. HISTORY OF THE SOFTWARE\nPYTHON SOFTWARE FOUNDATION LICENSE VERSION 2\n"
                                      "GPL-compatible licenses make it possible to combine Python with other "
                                      "software that is released under the GNU General Public License.\n")
    (root / "os.py").write_text(_module("os", 4, 6))
    (root / "json").mkdir()
    (root / "json" / "__init__.py").write_text(_module("json", 4, 7))
    make_distribution(root / "site-packages", "inside", "1.0", {"inside/__init__.py": _module("inside", 4, 8)},
                      metadata="License-Expression: MIT")
    return root
