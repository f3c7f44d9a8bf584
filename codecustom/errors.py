"""Errors a user can act on.

Anything raised as :class:`CodecustomError` reaches the user as one line on stderr
(``codecustom <command>: error: <message>``) and exit code 2, never as a traceback. So does an
environmental failure raised by a library (disk full, read-only output, permission denied, a damaged
pickled weights file, out of memory): :func:`environment_problem` recognizes it.
"""

from __future__ import annotations

import errno

class CodecustomError(Exception):
    """A problem with the user's input or environment, with a message saying what to do."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message.strip().replace("\n", " ")
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(CodecustomError):
    """Bad command-line usage."""


class DataError(CodecustomError):
    """The input data (repo, dataset, corpus) cannot be used as given."""


class ModelError(CodecustomError):
    """A model or artifact cannot be loaded or does not match."""


class EnvironmentProblem(CodecustomError):
    """The machine, not the input: a full disk, a read-only or forbidden folder, a damaged weights file."""


# (errno, what the kernel calls it, how Rust libraries (safetensors, tokenizers) call it) -> (problem, hint)
_WRITE_ELSEWHERE = "free some space or write elsewhere (--out, --store, $CODECUSTOM_HOME)"
_OS_PROBLEMS: dict[int, tuple[tuple[str, ...], str, str]] = {
    errno.ENOSPC: (("No space left on device", "StorageFull"), "no space left on the device", _WRITE_ELSEWHERE),
    errno.EDQUOT: (("Disk quota exceeded", "QuotaExceeded"), "disk quota exceeded", _WRITE_ELSEWHERE),
    errno.EROFS: (("Read-only file system", "ReadOnlyFilesystem"), "the filesystem is read-only",
                  "write elsewhere (--out, --store, $CODECUSTOM_HOME)"),
    errno.EACCES: (("Permission denied", "PermissionDenied"), "permission denied",
                   "check the permissions, or use another folder (--out, --store, $CODECUSTOM_HOME)"),
    errno.EPERM: (("Operation not permitted",), "operation not permitted",
                  "check the permissions, or use another folder (--out, --store, $CODECUSTOM_HOME)"),
    errno.EMFILE: (("Too many open files",), "too many open files", "raise the limit (ulimit -n 4096) and rerun"),
}
_PICKLE_SIGNS = ("PytorchStreamReader failed", "failed finding central directory", "Weights only load failed",
                 "invalid load key", "pickle data was truncated")


def _causes(exc: BaseException):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _os_problem(exc: BaseException) -> EnvironmentProblem | None:
    code = exc.errno if isinstance(exc, OSError) else None
    text = str(exc)
    for number, (signs, problem, hint) in _OS_PROBLEMS.items():
        if code == number or (code is None and any(sign in text for sign in signs)):
            where = getattr(exc, "filename", None)
            detail = f": {where}" if where else ("" if code is not None else f" ({_first_line(text)})")
            return EnvironmentProblem(problem + detail, hint=hint)
    return None


def _pickle_problem(exc: BaseException) -> EnvironmentProblem | None:
    import pickle

    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) or any(sign in text for sign in _PICKLE_SIGNS):
        return EnvironmentProblem(f"a pickled weights file cannot be loaded ({_first_line(text)})",
                                  hint="it is damaged or not plain tensors: re-download it, or convert the model "
                                       "to safetensors")
    return None


def _memory_problem(exc: BaseException) -> EnvironmentProblem | None:
    if isinstance(exc, MemoryError):
        return EnvironmentProblem("out of memory", hint="use a smaller --batch-size or --max-length, or a smaller model")
    return None


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:200]


ENVIRONMENT_RULES = (_os_problem, _pickle_problem, _memory_problem)


def environment_problem(exc: BaseException) -> EnvironmentProblem | None:
    """The environmental cause of ``exc`` (anywhere in its chain of causes) as a one-line error with a hint,
    or None when ``exc`` is not one (then it is a bug of ours)."""
    for cause in _causes(exc):
        for rule in ENVIRONMENT_RULES:
            problem = rule(cause)
            if problem is not None:
                return problem
    return None
