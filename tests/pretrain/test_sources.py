"""Finding sources in corpus folders and the license of each."""

from __future__ import annotations

from pathlib import Path

import pytest

from codecustom.errors import DataError
from codecustom.training.pretrain import sources
from tests.pretrain.corpus_fixtures import GPL_TEXT, make_fake_stdlib, make_project, make_site_packages

PY = frozenset({".py"})


def test_site_packages_one_source_per_distribution(tmp_path: Path) -> None:
    found = {s.name: s for s in sources.discover(make_site_packages(tmp_path / "site"), PY)}
    good = found["goodlib"]
    assert good.kind == "distribution" and good.version == "1.0"
    assert good.license.license == "MIT" and good.license.permissive
    assert sorted(good.files) == ["goodlib/__init__.py", "goodlib/core.py"]
    assert good.path_rejects["vendored"] == 1  # goodlib/_vendor/other.py
    assert not found["copyleft"].license.permissive
    unowned = found["files owned by no distribution"]
    assert unowned.files == ["stray.py"] and not unowned.license.permissive


def test_package_folder_inside_site_packages(tmp_path: Path) -> None:
    site = make_site_packages(tmp_path / "site")
    found = sources.discover(site / "goodlib", PY)
    assert [s.name for s in found] == ["goodlib"]
    assert sorted(found[0].files) == ["goodlib/__init__.py", "goodlib/core.py"]


def test_stdlib_is_psf_and_skips_its_site_packages(tmp_path: Path) -> None:
    (found,) = sources.discover(make_fake_stdlib(tmp_path / "python3.11"), PY)
    assert found.kind == "stdlib" and found.license.license == "PSF-2.0" and found.license.permissive
    assert sorted(found.files) == ["json/__init__.py", "os.py"]


def test_project_license_file_and_folder_of_projects(tmp_path: Path) -> None:
    (one,) = sources.discover(make_project(tmp_path / "proj"), PY)
    assert one.kind == "project" and one.license.license == "MIT" and len(one.files) == 17
    make_project(tmp_path / "many" / "a")
    make_project(tmp_path / "many" / "b", license_text=GPL_TEXT)
    found = {s.name: s for s in sources.discover(tmp_path / "many", PY)}
    assert found["a"].license.permissive and not found["b"].license.permissive


def test_pyproject_license(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", license_text="")
    (root / "pyproject.toml").write_text('[project]\nname = "p"\nlicense = "BSD-3-Clause"\n')
    (found,) = sources.discover(root, PY)
    assert found.license.license == "BSD-3-Clause" and found.license.evidence == "pyproject.toml license"


def test_unlicensed_folder_and_assume_license(tmp_path: Path) -> None:
    root = make_project(tmp_path / "mine", license_text="")
    (found,) = sources.discover(root, PY)
    assert found.license.license == "unknown" and not found.license.permissive
    (found,) = sources.discover(root, PY, assume_license="MIT")
    assert found.license.permissive and found.license.evidence == "--assume-license"
    with pytest.raises(DataError, match="assume-license"):
        sources.discover(root, PY, assume_license="my own terms")


def test_corpus_shorthands_and_missing_folder(tmp_path: Path) -> None:
    import sysconfig

    assert sources.expand_corpus_arg("stdlib") == [Path(sysconfig.get_paths()["stdlib"])]
    assert sources.expand_corpus_arg("site-packages")
    with pytest.raises(DataError, match="does not exist"):
        sources.expand_corpus_arg(str(tmp_path / "nope"))
