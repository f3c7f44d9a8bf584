"""License identification: SPDX expressions, classifiers, free-text names, license file texts."""

from __future__ import annotations

import pytest

from codecustom.training.pretrain import licenses
from tests.pretrain.corpus_fixtures import BSD_TEXT, GPL_TEXT, MIT_TEXT


@pytest.mark.parametrize("expression, permissive", [
    ("MIT", True),
    ("BSD-3-Clause AND 0BSD AND MIT AND Zlib AND CC0-1.0", True),
    ("Apache-2.0 AND Apache-2.0 WITH LLVM-exception AND BSL-1.0", True),
    ("Apache-2.0 OR BSD-2-Clause", True),
    ("MPL-2.0 AND MIT", False),
    ("GPL-3.0-or-later OR MIT", True),  # one permissive choice is enough
    ("(MIT OR GPL-2.0) AND LGPL-3.0", False),
    ("PSF-2.0", True),
])
def test_spdx_expressions(expression: str, permissive: bool) -> None:
    info = licenses.parse_spdx(expression)
    assert info is not None and info.permissive is permissive


@pytest.mark.parametrize("text", ["Apache 2.0 License", "MIT OR", "(MIT", "Some Custom License", ""])
def test_not_an_spdx_expression(text: str) -> None:
    assert licenses.parse_spdx(text) is None


def test_free_text_names() -> None:
    assert licenses.from_name("Apache 2.0 License").license == "Apache-2.0"
    assert licenses.from_name("New BSD License").permissive
    assert licenses.from_name("Simplified BSD").license == "BSD-2-Clause"
    assert not licenses.from_name("GNU Lesser General Public License v3").permissive
    assert not licenses.from_name("MIT, with parts under the GPL").permissive  # copyleft anywhere wins
    assert licenses.from_name("UNKNOWN") is None
    assert licenses.from_name("") is None


def test_classifiers_must_all_be_permissive() -> None:
    ok = licenses.from_classifiers(["Programming Language :: Python", "License :: OSI Approved :: MIT License"])
    assert ok.license == "MIT" and ok.permissive and ok.evidence == "classifier"
    mixed = licenses.from_classifiers(["License :: OSI Approved :: BSD License",
                                       "License :: OSI Approved :: GNU General Public License v3 (GPLv3)"])
    assert not mixed.permissive
    assert licenses.from_classifiers(["Programming Language :: Python"]) is None


def test_license_texts_first_license_wins() -> None:
    assert licenses.from_text(MIT_TEXT).license == "MIT"
    assert licenses.from_text(BSD_TEXT).license == "BSD-3-Clause"
    assert not licenses.from_text(GPL_TEXT).permissive
    # the PSF agreement mentions the GPL further down; it is still the PSF license
    psf = "PYTHON SOFTWARE FOUNDATION LICENSE VERSION 2\n...\nGPL-compatible; see the GNU General Public License"
    assert licenses.from_text(psf).license == "PSF-2.0"
    assert licenses.from_text("no license here") is None


def test_metadata_priority_and_unknown() -> None:
    fields = {"License-Expression": ["MIT"], "Classifier": ["License :: OSI Approved :: GNU General Public License (GPL)"],
              "License": ["GPL"]}
    assert licenses.from_metadata(fields).license == "MIT"  # PEP 639 expression is authoritative
    assert licenses.from_metadata({"License": ["BSD"]}).permissive
    assert licenses.from_metadata({}, [MIT_TEXT]).license == "MIT"
    unknown = licenses.from_metadata({"License": ["see website"]})
    assert unknown is licenses.UNKNOWN and not unknown.permissive
