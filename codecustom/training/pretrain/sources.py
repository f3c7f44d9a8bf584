"""Find the sources inside corpus folders and the license of each.

A corpus folder is one of:

* the Python standard library (``stdlib`` shorthand): one source under the PSF license;
* a site-packages folder (``site-packages`` shorthand): one source per installed distribution, files
  taken from the distribution's ``RECORD`` and the license from its core metadata or license files;
  files no distribution owns are reported and left out (unknown license);
* a project folder (an unpacked sdist, a checkout): license from its LICENSE/COPYING files,
  ``pyproject.toml``, ``setup.cfg`` or ``PKG-INFO``; a folder of such projects gives one source each.
"""

from __future__ import annotations

import configparser
import importlib.metadata as importlib_metadata
import os
import sys
import sysconfig
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from codecustom.errors import DataError
from codecustom.training.pretrain import licenses
from codecustom.training.pretrain.filters import SKIPPED_DIRS, path_reject_reason
from codecustom.training.pretrain.licenses import LicenseInfo

SHORTHANDS = ("stdlib", "site-packages")
# Distributions never used for pretraining, whatever their license: codecustom evaluates on itself.
ALWAYS_SKIPPED_DISTRIBUTIONS = frozenset({"codecustom"})


@dataclass
class Source:
    """One unit of licensing: the stdlib, a distribution, or a project."""

    name: str
    kind: str  # stdlib | distribution | project | unowned
    root: Path  # file paths are relative to this folder
    license: LicenseInfo
    files: list[str] = field(default_factory=list)  # candidate files (language + path rules applied)
    version: str | None = None
    path_rejects: Counter = field(default_factory=Counter)  # reason -> files dropped by path rules

    def summary(self) -> dict[str, object]:
        """What the model card records about this source."""
        return {"name": self.name, "kind": self.kind, "version": self.version, "root": str(self.root),
                **self.license.to_dict()}


def expand_corpus_arg(arg: str) -> list[Path]:
    """A ``--corpus`` value as folders: ``stdlib`` and ``site-packages`` name this Python's own."""
    if arg == "stdlib":
        return [Path(sysconfig.get_paths()["stdlib"])]
    if arg == "site-packages":
        paths = sysconfig.get_paths()
        return sorted({Path(paths["purelib"]), Path(paths["platlib"])})
    path = Path(arg).expanduser()
    if not path.is_dir():
        raise DataError(f"corpus folder {arg} does not exist or is not a folder",
                        hint="pass existing folders of code, or the shorthands 'stdlib' / 'site-packages'")
    return [path.resolve()]


def discover(folder: Path, extensions: frozenset[str], *, assume_license: str | None = None) -> list[Source]:
    """The sources inside one corpus folder, each with its license and candidate files."""
    folder = folder.resolve()
    if _is_stdlib(folder):
        return [_stdlib_source(folder, extensions)]
    if _dist_infos(folder):
        return _site_packages_sources(folder, extensions)
    parent = folder.parent
    if _dist_infos(parent):  # a package folder inside site-packages
        return _site_packages_sources(parent, extensions, only_under=folder)
    project = _project_license(folder)
    if project is not None:
        return [_walk_source(folder.name, "project", folder, project, extensions)]
    children = sorted(p for p in folder.iterdir() if p.is_dir() and p.name not in SKIPPED_DIRS)
    sub = [(child, _project_license(child)) for child in children]
    if any(info is not None for _, info in sub):
        out = []
        for child, info in sub:
            if info is None:
                info = _assumed(assume_license) or licenses.UNKNOWN
            out.append(_walk_source(child.name, "project", child, info, extensions))
        return out
    info = _assumed(assume_license) or licenses.UNKNOWN
    return [_walk_source(folder.name, "project", folder, info, extensions)]


def _assumed(assume_license: str | None) -> LicenseInfo | None:
    if not assume_license:
        return None
    info = licenses.parse_spdx(assume_license) or licenses.from_name(assume_license)
    if info is None:
        raise DataError(f"--assume-license {assume_license!r} is not a license we recognise",
                        hint="use an SPDX id such as MIT, BSD-3-Clause or Apache-2.0")
    return LicenseInfo(info.license, info.permissive, "--assume-license")


def _is_stdlib(folder: Path) -> bool:
    if folder == Path(sysconfig.get_paths()["stdlib"]).resolve():
        return True
    lic = folder / "LICENSE.txt"
    return (folder / "os.py").is_file() and lic.is_file() and "PYTHON SOFTWARE FOUNDATION" in lic.read_text(
        encoding="utf-8", errors="replace")


def _stdlib_source(folder: Path, extensions: frozenset[str]) -> Source:
    info = LicenseInfo("PSF-2.0", True, "Python standard library (PSF License Agreement in LICENSE.txt)")
    version = folder.name.removeprefix("python") if folder.name.startswith("python") else \
        f"{sys.version_info.major}.{sys.version_info.minor}"
    # the stdlib folder also holds the interpreter's site-packages: those are other sources
    return _walk_source(f"python-stdlib-{version}", "stdlib", folder, info, extensions, version=version,
                        prune=frozenset({"site-packages", "dist-packages"}))


def _walk_source(name: str, kind: str, root: Path, info: LicenseInfo, extensions: frozenset[str], *,
                 version: str | None = None, prune: frozenset[str] = frozenset()) -> Source:
    source = Source(name=name, kind=kind, root=root, license=info, version=version)
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        kept = []
        for d in sorted(dirnames):
            rel = d if rel_dir == "." else f"{rel_dir}/{d}"
            if d in prune:
                continue
            reason = path_reject_reason(f"{rel}/x")
            if reason is None and not d.endswith(".dist-info"):
                kept.append(d)
            elif reason is not None:
                source.path_rejects[reason] += _count_files(Path(dirpath) / d, extensions)
        dirnames[:] = kept
        for fname in sorted(filenames):
            if os.path.splitext(fname)[1] in extensions:
                source.files.append(fname if rel_dir == "." else f"{rel_dir}/{fname}")
    return source


def _count_files(folder: Path, extensions: frozenset[str]) -> int:
    return sum(1 for _, _, names in os.walk(folder) for n in names if os.path.splitext(n)[1] in extensions)


def _dist_infos(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.endswith((".dist-info", ".egg-info")))
    except OSError:
        return []


def _site_packages_sources(folder: Path, extensions: frozenset[str], *, only_under: Path | None = None) -> list[Source]:
    sources: list[Source] = []
    owned: set[str] = set()
    prefix = None if only_under is None else only_under.relative_to(folder).as_posix() + "/"
    for info_dir in _dist_infos(folder):
        dist = importlib_metadata.Distribution.at(info_dir)
        name = (dist.metadata["Name"] or info_dir.name.split("-")[0]).strip()
        files = [f.as_posix() for f in (dist.files or []) if not f.as_posix().startswith("../")]
        if prefix is not None:
            files = [f for f in files if f.startswith(prefix)]
            if not files:
                continue
        owned.update(files)
        if name.lower().replace("_", "-") in ALWAYS_SKIPPED_DISTRIBUTIONS:
            continue
        info = licenses.from_metadata(_metadata_fields(dist), licenses.read_texts(_dist_license_files(info_dir)))
        source = Source(name=name, kind="distribution", root=folder, license=info, version=dist.version)
        for rel in sorted(files):
            if os.path.splitext(rel)[1] not in extensions:
                continue
            reason = path_reject_reason(rel)
            if reason is None:
                source.files.append(rel)
            else:
                source.path_rejects[reason] += 1
        sources.append(source)
    unowned = _walk_source("files owned by no distribution", "unowned", only_under or folder,
                           LicenseInfo("unknown", False, "no distribution lists these files in its RECORD"),
                           extensions)
    base = "" if prefix is None else prefix
    unowned.root = folder
    unowned.files = [f for f in (base + rel for rel in unowned.files) if f not in owned]
    if unowned.files:
        sources.append(unowned)
    return sources


def _metadata_fields(dist: importlib_metadata.Distribution) -> dict[str, list[str]]:
    meta = dist.metadata
    return {key: [str(v) for v in (meta.get_all(key) or [])] for key in ("License-Expression", "Classifier", "License")}


def _dist_license_files(info_dir: Path) -> list[Path]:
    found = licenses.license_files(info_dir)
    lic_dir = info_dir / "licenses"
    if lic_dir.is_dir():
        found += sorted(p for p in lic_dir.rglob("*") if p.is_file())
    return found


def _project_license(folder: Path) -> LicenseInfo | None:
    """A project folder's license, or ``None`` when the folder carries no license evidence."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = None  # type: ignore[assignment]
    pyproject = folder / "pyproject.toml"
    if tomllib is not None and pyproject.is_file():
        try:
            project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
        except (ValueError, OSError):
            project = {}
        value = project.get("license")
        text = value if isinstance(value, str) else (value or {}).get("text") if isinstance(value, dict) else None
        if text:
            info = licenses.from_name(text)
            if info is not None:
                return LicenseInfo(info.license, info.permissive, "pyproject.toml license")
        info = licenses.from_classifiers(project.get("classifiers", []))
        if info is not None:
            return LicenseInfo(info.license, info.permissive, "pyproject.toml classifiers")
    pkg_info = folder / "PKG-INFO"
    if pkg_info.is_file():
        from email.parser import HeaderParser

        msg = HeaderParser().parsestr(pkg_info.read_text(encoding="utf-8", errors="replace"))
        fields = {k: [str(v) for v in (msg.get_all(k) or [])] for k in ("License-Expression", "Classifier", "License")}
        info = licenses.from_metadata(fields, licenses.read_texts(licenses.license_files(folder)))
        if info is not licenses.UNKNOWN:
            return LicenseInfo(info.license, info.permissive, f"PKG-INFO {info.evidence}")
    setup_cfg = folder / "setup.cfg"
    if setup_cfg.is_file():
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(setup_cfg, encoding="utf-8")
            text = parser.get("metadata", "license", fallback="")
        except configparser.Error:
            text = ""
        info = licenses.from_name(text) if text else None
        if info is not None:
            return LicenseInfo(info.license, info.permissive, "setup.cfg license")
    info = licenses.from_license_texts(licenses.read_texts(licenses.license_files(folder)))
    if info is not None:
        return LicenseInfo(info.license, info.permissive, "LICENSE file")
    return None
