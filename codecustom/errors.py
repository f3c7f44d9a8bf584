"""Errors a user can act on.

Anything raised as :class:`CodecustomError` reaches the user as one line on stderr
(``codecustom <command>: error: <message>``) and exit code 2, never as a traceback.
"""

from __future__ import annotations


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
