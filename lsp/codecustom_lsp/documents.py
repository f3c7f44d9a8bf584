"""Document state beyond pygls' text store: versions, languages, and the requests in flight per
document, so that a newer version makes older requests stale and stops their decoding."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import PurePath
from urllib.parse import unquote

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams
from pygls.workspace import TextDocument, Workspace

# languageId (LSP) or file extension -> codecustom language name
LANGUAGE_IDS = {
    "python": "python", "java": "java", "javascript": "javascript", "javascriptreact": "javascript",
    "typescript": "typescript", "typescriptreact": "typescript", "go": "go",
}
EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".java": "java", ".js": "javascript", ".jsx": "javascript",
    ".mjs": "javascript", ".cjs": "javascript", ".ts": "typescript", ".tsx": "typescript", ".go": "go",
}


def language_of(doc: TextDocument) -> str | None:
    """The codecustom language of a document (by languageId, then by file extension)."""
    if doc.language_id and doc.language_id.lower() in LANGUAGE_IDS:
        return LANGUAGE_IDS[doc.language_id.lower()]
    return EXTENSIONS.get(PurePath(doc.path or "").suffix.lower())


@dataclass
class Ticket:
    """One request in flight on a document."""

    uri: str
    version: int | None
    kind: str  # "completion" | "inline" | "tests"
    cancel: threading.Event = field(default_factory=threading.Event)
    stale: bool = False

    def invalidate(self) -> None:
        self.stale = True
        self.cancel.set()


class DocumentTracker:
    """Tracks versions and in-flight tickets; used only from the event loop thread."""

    def __init__(self) -> None:
        self.versions: dict[str, int | None] = {}
        self._tickets: dict[str, list[Ticket]] = {}
        self.invalidated = 0

    def opened(self, uri: str, version: int | None) -> None:
        self.versions[unquote(uri)] = version
        self._invalidate(unquote(uri), keep_tests=True)

    def changed(self, uri: str, version: int | None) -> None:
        """A new version: every completion in flight on the older text is stale."""
        self.versions[unquote(uri)] = version
        self._invalidate(unquote(uri), keep_tests=True)

    def closed(self, uri: str) -> None:
        self.versions.pop(unquote(uri), None)
        self._invalidate(unquote(uri), keep_tests=False)

    def _invalidate(self, uri: str, *, keep_tests: bool) -> None:
        for ticket in self._tickets.get(uri, ()):
            if keep_tests and ticket.kind == "tests":
                continue  # test generation works on a snapshot and answers with a versioned edit
            if not ticket.stale:
                self.invalidated += 1
            ticket.invalidate()

    def open_ticket(self, uri: str, kind: str, *, supersede: bool) -> Ticket:
        """Register a request; with ``supersede``, older requests of the same kind become stale."""
        uri = unquote(uri)
        ticket = Ticket(uri, self.versions.get(uri), kind)
        tickets = self._tickets.setdefault(uri, [])
        if supersede:
            for old in tickets:
                if old.kind == kind and not old.stale:
                    self.invalidated += 1
                    old.invalidate()
        tickets.append(ticket)
        return ticket

    def close_ticket(self, ticket: Ticket) -> None:
        tickets = self._tickets.get(ticket.uri)
        if tickets and ticket in tickets:
            tickets.remove(ticket)
            if not tickets:
                del self._tickets[ticket.uri]

    def in_flight(self) -> int:
        return sum(len(t) for t in self._tickets.values())


@dataclass(frozen=True)
class Snapshot:
    """The text around a cursor at one document version."""

    uri: str
    version: int | None
    language: str | None
    path: str
    text: str
    offset: int  # cursor as an index into text (code points)

    @property
    def prefix(self) -> str:
        return self.text[: self.offset]

    @property
    def suffix(self) -> str:
        return self.text[self.offset:]


def open_document(workspace: Workspace, uri: str) -> TextDocument:
    """The open document for ``uri``; an unknown document is a bad-params error, not a crash."""
    doc = workspace.text_documents.get(unquote(uri))
    if doc is None:
        raise JsonRpcInvalidParams(f"document {uri} is not open (send textDocument/didOpen first)")
    return doc


def snapshot(workspace: Workspace, uri: str, position: types.Position) -> Snapshot:
    """Text and cursor offset of an open document; positions past the end are bad params."""
    doc = open_document(workspace, uri)
    text = doc.source
    lines = doc.lines
    ends_open = not lines or lines[-1].endswith(("\n", "\r"))  # an empty last line exists
    if position.line > len(lines) or (position.line == len(lines) and not ends_open):
        raise JsonRpcInvalidParams(
            f"position {position.line}:{position.character} is outside {uri} ({len(lines)} lines)")
    if position.line == len(lines):
        offset = len(text)
    else:
        line = lines[position.line]
        server_pos = doc.position_codec.position_from_client_units(lines, position)
        # LSP: a character past the end of the line means the end of the line
        column = min(server_pos.character, len(line.rstrip("\r\n")))
        offset = sum(len(x) for x in lines[: position.line]) + column
    return Snapshot(unquote(uri), doc.version, language_of(doc), doc.path or "", text, offset)
