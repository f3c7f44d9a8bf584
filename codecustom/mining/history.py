"""When things first appeared in git history (for ``--split time``), read with `git log`, never checkouts."""

from __future__ import annotations

from collections.abc import Callable, Iterable

MAX_VERSIONS = 40  # versions of one test file parsed to date its test methods (older ones count as the oldest)


def file_add_times(repo, sha: str) -> dict[str, int]:
    """path -> commit time (unix seconds) of the commit that first added it, for paths alive at ``sha``."""
    out = repo.git.execute(["git", "log", "--format=%x00%ct", "--name-only", "--diff-filter=A", "--no-renames", sha],
                           stdout_as_string=False)
    times: dict[str, int] = {}
    current = 0
    for line in out.split(b"\n"):
        if line.startswith(b"\0"):
            current = int(line[1:] or 0)
        elif line:
            times[line.decode("utf-8", "surrogateescape")] = current  # log is newest first: the last seen is the oldest add
    return times


def test_first_seen(repo, sha: str, paths: Iterable[str],
                    test_keys: Callable[[str, bytes], set[tuple[str | None, str]]]) -> dict[tuple[str, str | None, str], int]:
    """(path, class, test name) -> time of the oldest commit (among the newest MAX_VERSIONS touching the
    file) whose version of the file already defines that test."""
    seen: dict[tuple[str, str | None, str], int] = {}
    paths = sorted(set(paths))
    for k in range(0, len(paths), 200):
        chunk = paths[k:k + 200]
        out = repo.git.execute(["git", "log", "--format=%x00%H %ct", "--name-only", "--no-renames", sha, "--", *chunk],
                               stdout_as_string=False)
        commits: dict[str, list[tuple[str, int]]] = {}
        cur: tuple[str, int] | None = None
        for line in out.split(b"\n"):
            if line.startswith(b"\0"):
                h, t = line[1:].decode().split()
                cur = (h, int(t))
            elif line and cur is not None:
                commits.setdefault(line.decode("utf-8", "surrogateescape"), []).append(cur)
        for path in chunk:
            versions = commits.get(path, [])[:MAX_VERSIONS]
            for h, t in reversed(versions):  # oldest first
                try:
                    data = (repo.commit(h).tree / path).data_stream.read()
                except (KeyError, ValueError):
                    continue  # deleted in that commit
                for cls, name in test_keys(path, data):
                    seen.setdefault((path, cls, name), t)
    return seen
