"""Where files come from: a git revision (read from the object database, never the work tree) or a plain
directory (the git-free layer). Both yield :class:`SourceEntry` lazily, so nothing is held in memory."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from codecustom import paths
from codecustom.errors import DataError

_URL = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


@dataclass
class SourceEntry:
    """One tracked file (or something that is not a regular file, with ``kind`` saying what)."""

    path: str  # posix, relative to the root
    size: int
    sha: str  # git blob sha (directories: sha1 of the git blob header + content, computed on read)
    kind: str  # "file" | "symlink" | "symlink_outside" | "submodule"
    read: Callable[[], bytes]


def is_url(repo: str) -> bool:
    return bool(_URL.match(repo))


class GitSource:
    """A repository at one revision, read with plain `git` commands: `ls-tree` for the listing and one
    persistent `git cat-file --batch` for the blobs. (gitpython is only imported for URL clones and for
    ``repo``, which the time split's history walk uses: importing it costs more than reading a small repo.)"""

    def __init__(self, repo: str, rev: str | None = None, *, console=None) -> None:
        self.spec = repo
        self.subdir = ""
        self._repo = None
        self._cat: subprocess.Popen | None = None
        if is_url(repo):
            self._repo = self._clone(repo, console)
            self.git_dir = str(Path(self._repo.git_dir).resolve())
            self.bare = bool(self._repo.bare)
            self.work_tree = self._repo.working_tree_dir
        else:
            path = Path(repo).expanduser()
            if not path.exists():
                raise DataError(f"{repo}: no such file or directory", hint="pass a path to a git repository or a git URL")
            where = path if path.is_dir() else path.parent
            res = _git(["rev-parse", "--absolute-git-dir", "--is-bare-repository"], cwd=where)
            if res.returncode != 0:
                err = res.stderr.decode("utf-8", "replace")
                if "dubious ownership" in err:
                    raise DataError(f"git refuses to read {path}: it belongs to another user (dubious ownership)",
                                    hint=f"if you trust it: git config --global --add safe.directory {path.resolve()}")
                if "not a git repository" in err:
                    raise DataError(f"{repo} is not a git repository",
                                    hint="run `git init && git add -A && git commit` there first, or pass a git URL")
                raise DataError(f"git cannot read {path}: {_last_line(err)}")
            git_dir, bare = res.stdout.decode("utf-8", "surrogateescape").splitlines()[:2]
            self.git_dir, self.bare = git_dir, bare == "true"
            self.work_tree = None
            if not self.bare:
                top = _git(["rev-parse", "--show-toplevel"], cwd=where)
                self.work_tree = (top.stdout.decode("utf-8", "surrogateescape").rstrip("\n") if top.returncode == 0
                                  else str(Path(git_dir).parent))  # REPO was the .git folder itself
                top_path = Path(self.work_tree).resolve()
                here = path.resolve()
                rel = here.relative_to(top_path) if here != top_path and top_path in here.parents else None
                self.subdir = rel.as_posix() if rel else ""
        if rev is None and self._rev_parse("HEAD") is None:
            raise DataError(f"{repo} has no commits yet", hint="commit something first, or pass --rev")
        sha = self._rev_parse(rev or "HEAD")
        if sha is None:
            raise DataError(f"unknown revision '{rev}' in {repo}", hint="check `git log --oneline` or `git branch -a`")
        self.sha = sha
        self.shallow = os.path.exists(os.path.join(self.git_dir, "shallow"))

    def _git(self, args: list[str]) -> subprocess.CompletedProcess:
        return _git(["--git-dir", self.git_dir, *args])

    def _rev_parse(self, rev: str) -> str | None:
        """The commit ``rev`` names, or None."""
        if rev.startswith("-"):
            return None
        res = self._git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"])
        return res.stdout.decode().strip() if res.returncode == 0 else None

    def _clone(self, url: str, console) -> "object":
        try:
            import git
        except ImportError as exc:  # pragma: no cover - gitpython is a dependency
            raise DataError("gitpython is not installed", hint="pip install gitpython") from exc
        dest = paths.clone_cache() / f"{paths.project_name(url)}-{hashlib.sha1(url.encode()).hexdigest()[:8]}.git"
        try:
            if dest.exists():
                repo = git.Repo(dest)
                if console:
                    console.info(f"updating cached clone {dest}")
                try:
                    repo.remotes.origin.fetch(prune=True)
                except git.GitCommandError as exc:
                    if console:
                        console.warn(f"could not update the cached clone ({_last_line(exc)}); mining the cached copy")
                return repo
            if console:
                console.info(f"cloning {url} into {dest}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            return git.Repo.clone_from(url, dest, bare=True)
        except git.GitCommandError as exc:
            raise DataError(f"could not clone {url}: {_last_line(exc)}", hint="check the URL and your network") from None

    @property
    def repo(self):
        """The repository as a gitpython ``Repo`` (made on first use: only history walks need it)."""
        if self._repo is None:
            import git
            self._repo = git.Repo(self.git_dir)
        return self._repo

    @property
    def project(self) -> str:
        if is_url(self.spec):
            return paths.project_name(self.spec)
        top = self.work_tree or self.git_dir
        name = paths.project_name(str(Path(top).resolve()))
        return name[:-4] if name.endswith(".git") else name

    def entries(self) -> Iterator[SourceEntry]:
        """Every tracked path at the revision (under the subfolder, when REPO was one)."""
        args = ["ls-tree", "-r", "-z", "--long", "--full-tree", self.sha]
        if self.subdir:
            args += ["--", self.subdir]
        res = self._git(args)
        if res.returncode != 0:
            raise DataError(f"git ls-tree failed in {self.git_dir}: {_last_line(res.stderr.decode('utf-8', 'replace'))}")
        for rec in res.stdout.split(b"\0"):
            if not rec:
                continue
            meta, _, raw_path = rec.partition(b"\t")
            mode, otype, sha, size = meta.split()
            path = raw_path.decode("utf-8", "surrogateescape")
            reader = (lambda s=sha: self._blob(s))
            if otype == b"commit":
                yield SourceEntry(path, 0, sha.decode(), "submodule", reader)
            elif mode == b"120000":
                target = reader().decode("utf-8", "surrogateescape")
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
                outside = target.startswith("/") or resolved == ".." or resolved.startswith("../")
                yield SourceEntry(path, 0, sha.decode(), "symlink_outside" if outside else "symlink", reader)
            else:
                yield SourceEntry(path, int(size) if size != b"-" else 0, sha.decode(), "file", reader)

    def _blob(self, sha: bytes) -> bytes:
        """One object's bytes from the persistent `git cat-file --batch`."""
        if self._cat is None:
            self._cat = subprocess.Popen(["git", "--git-dir", self.git_dir, "cat-file", "--batch"],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        cat = self._cat
        assert cat.stdin is not None and cat.stdout is not None
        cat.stdin.write(sha + b"\n")
        cat.stdin.flush()
        header = cat.stdout.readline().split()
        if len(header) != 3:  # "<sha> missing" (or git died)
            raise OSError(f"git cat-file cannot read object {sha.decode()}")
        size = int(header[2])
        data = cat.stdout.read(size + 1)
        if len(data) != size + 1:
            raise OSError(f"git cat-file stopped while reading object {sha.decode()}")
        return data[:size]

    def close(self) -> None:
        if self._cat is not None:
            try:
                self._cat.stdin.close()  # type: ignore[union-attr]
                self._cat.wait(timeout=10)
            except Exception:  # noqa: BLE001 - closing is best effort
                self._cat.kill()
            self._cat = None
        if self._repo is not None:
            try:
                self._repo.close()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass


class DirectorySource:
    """A plain folder of code (no git): the layer the pretraining stage uses on the stdlib or site-packages."""

    def __init__(self, root: str | os.PathLike[str], *, exclude: tuple[str, ...] = ()) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise DataError(f"{root} is not a directory", hint="pass a folder of source files")
        self.exclude = exclude
        self.sha = ""
        self.shallow = False

    @property
    def project(self) -> str:
        return paths.project_name(str(self.root))

    def entries(self) -> Iterator[SourceEntry]:
        root = str(self.root)
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
            rel_dir = "" if rel_dir == "." else rel_dir
            dirnames[:] = [d for d in dirnames if d != ".git" and not _excluded(posixpath.join(rel_dir, d), self.exclude)]
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                rel = posixpath.join(rel_dir, name) if rel_dir else name
                if _excluded(rel, self.exclude):
                    continue
                if os.path.islink(full):
                    target = os.path.realpath(full)
                    inside = target.startswith(root + os.sep)
                    yield SourceEntry(rel, 0, "", "symlink" if inside else "symlink_outside", lambda: b"")
                    continue
                try:
                    size = os.path.getsize(full)
                except OSError:
                    continue
                yield SourceEntry(rel, size, "", "file", lambda f=full: Path(f).read_bytes())


def blob_sha(data: bytes) -> str:
    """git's blob id for some bytes (so directory-mined files carry the same kind of sha)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    from fnmatch import fnmatch
    return any(fnmatch(rel, p) or rel.startswith(p.rstrip("/") + "/") for p in patterns)


def _git(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise DataError("git is not installed (or not on PATH)", hint="install git") from None


def _last_line(exc: Exception | str) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip().splitlines()
    return text[-1].strip().strip("'") if text else str(exc)
