"""Where files come from: a git revision (read from the object database, never the work tree) or a plain
directory (the git-free layer). Both yield :class:`SourceEntry` lazily, so nothing is held in memory."""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
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
    """A repository at one revision, read through gitpython's persistent `git cat-file --batch`."""

    def __init__(self, repo: str, rev: str | None = None, *, console=None) -> None:
        try:
            import git
        except ImportError as exc:  # pragma: no cover - gitpython is a dependency
            raise DataError("gitpython is not installed", hint="pip install gitpython") from exc
        self._git = git
        self.spec = repo
        self.subdir = ""
        if is_url(repo):
            self.repo = self._clone(repo, console)
        else:
            path = Path(repo).expanduser()
            if not path.exists():
                raise DataError(f"{repo}: no such file or directory", hint="pass a path to a git repository or a git URL")
            try:
                self.repo = git.Repo(path, search_parent_directories=True)
            except git.InvalidGitRepositoryError:
                raise DataError(f"{repo} is not a git repository",
                                hint="run `git init && git add -A && git commit` there first, or pass a git URL") from None
            except git.NoSuchPathError:
                raise DataError(f"{repo}: no such file or directory") from None
            if not self.repo.bare and self.repo.working_tree_dir:
                top = Path(self.repo.working_tree_dir).resolve()
                rel = path.resolve().relative_to(top) if path.resolve() != top and top in path.resolve().parents else None
                self.subdir = rel.as_posix() if rel else ""
        try:
            self.repo.git.execute(["git", "rev-parse", "--git-dir"])
        except git.GitCommandError as exc:
            where = self.repo.git_dir
            if "dubious ownership" in str(exc.stderr):
                raise DataError(f"git refuses to read {where}: it belongs to another user (dubious ownership)",
                                hint=f"if you trust it: git config --global --add safe.directory {where}") from None
            raise DataError(f"git cannot read {where}: {_last_line(exc)}") from None
        try:
            if rev is None and not self.repo.head.is_valid():
                raise DataError(f"{repo} has no commits yet", hint="commit something first, or pass --rev")
            self.commit = self.repo.commit(rev or "HEAD")
        except DataError:
            raise
        except (git.BadName, ValueError, git.GitCommandError):
            raise DataError(f"unknown revision '{rev}' in {repo}", hint="check `git log --oneline` or `git branch -a`") from None
        self.sha = self.commit.hexsha
        self.shallow = os.path.exists(os.path.join(self.repo.git_dir, "shallow"))
        self.bare = self.repo.bare

    def _clone(self, url: str, console) -> "object":
        git = self._git
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
    def project(self) -> str:
        if is_url(self.spec):
            return paths.project_name(self.spec)
        top = self.repo.working_tree_dir or self.repo.git_dir
        name = paths.project_name(str(Path(top).resolve()))
        return name[:-4] if name.endswith(".git") else name

    def entries(self) -> Iterator[SourceEntry]:
        """Every tracked path at the revision (under the subfolder, when REPO was one)."""
        args = ["git", "ls-tree", "-r", "-z", "--long", "--full-tree", self.sha]
        if self.subdir:
            args += ["--", self.subdir]
        out = self.repo.git.execute(args, stdout_as_string=False, strip_newline_in_stdout=False)
        odb = self.repo.odb
        for rec in out.split(b"\0"):
            if not rec:
                continue
            meta, _, raw_path = rec.partition(b"\t")
            mode, otype, sha, size = meta.split()
            path = raw_path.decode("utf-8", "surrogateescape")
            binsha = bytes.fromhex(sha.decode())
            reader = (lambda b=binsha: odb.stream(b).read())
            if otype == b"commit":
                yield SourceEntry(path, 0, sha.decode(), "submodule", reader)
            elif mode == b"120000":
                target = reader().decode("utf-8", "surrogateescape")
                resolved = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
                outside = target.startswith("/") or resolved == ".." or resolved.startswith("../")
                yield SourceEntry(path, 0, sha.decode(), "symlink_outside" if outside else "symlink", reader)
            else:
                yield SourceEntry(path, int(size) if size != b"-" else 0, sha.decode(), "file", reader)

    def close(self) -> None:
        try:
            self.repo.close()
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


def _last_line(exc: Exception) -> str:
    text = str(getattr(exc, "stderr", "") or exc).strip().splitlines()
    return text[-1].strip().strip("'") if text else str(exc)
