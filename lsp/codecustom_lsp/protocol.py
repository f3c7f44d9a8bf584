"""A JSON-RPC layer that answers bad input instead of dropping it, and a framing decoder with
bounded memory.

pygls structures each message inside ``json.loads``' object hook; when a request's params do not
match the LSP types it raises there, and the request is never answered (the client waits forever).
This protocol turns such a request into an ``InvalidParams`` error response carrying the request's
id and naming the bad field, answers non-object or non-2.0 messages with ``InvalidRequest``, and
answers unparsable bodies with ``ParseError`` (id null), as JSON-RPC 2.0 asks.

:class:`FrameDecoder` splits the byte stream into bodies and resynchronizes after any bad frame (a
non-numeric, negative, huge, missing or wrong Content-Length, junk between frames): each is answered
with a ParseError and serving goes on; a frame larger than the limit is skipped in chunks (answered
with an error) instead of being buffered, so memory stays bounded.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import attrs
import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pygls.protocol import LanguageServerProtocol
from pygls.protocol.json_rpc import RPCNotification, RPCRequest, RPCResponse

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024 * 1024  # one LSP message; whole files are far smaller
MAX_HEADER_BYTES = 8192
# A Content-Length header line, whatever its value (so that a bad value can be reported).
HEADER = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)\r?\n", re.IGNORECASE)
# A well-formed one: never part of a valid JSON body (a raw line break cannot sit in a JSON string, and the
# bare words cannot sit outside one), so finding it inside a body means the declared length was wrong.
NEXT_HEADER = re.compile(rb"content-length[ \t]*:[ \t]*\d+[ \t]*\r?\n", re.IGNORECASE)
_HEADER_LINE = re.compile(rb"^[A-Za-z0-9!#$%&'*+.^_`|~-]+[ \t]*:")
_OVERLAP = 64  # bytes kept while scanning, so that a header split between two reads is still found


@attrs.define
class Oversize:
    """A frame whose body was skipped because it exceeded the limit."""

    length: int


@attrs.define
class BadFrame:
    """Bytes that were not a well-framed message (bad or missing Content-Length): skipped, to be answered."""

    reason: str


class FrameDecoder:
    """Incremental ``Content-Length`` framing that resynchronizes after any bad frame.

    ``feed(bytes)`` returns complete bodies, :class:`Oversize` and :class:`BadFrame` items. Header names
    are case-insensitive and bare ``\n`` line ends are accepted. Whatever a client sends — a
    non-numeric, negative, huge, missing, too small or too large Content-Length, junk between frames —
    the decoder skips to the next ``Content-Length`` header and keeps going; memory stays bounded.
    """

    def __init__(self, max_body: int = MAX_BODY_BYTES) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._length: int | None = None  # declared body length, once its header was read
        self._in_headers = False  # between the Content-Length line and the blank line
        self._skip = 0  # bytes of an oversize body still to drop
        self._scanned = 0  # how much of a pending body was searched for a next header already
        self._junk_reported = False
        self.bad_frames = 0

    def feed(self, data: bytes) -> list[bytes | Oversize | BadFrame]:
        out: list[bytes | Oversize | BadFrame] = []
        self._buf += data
        while self._step(out):
            pass
        return out

    def _bad(self, out: list, reason: str) -> None:
        self.bad_frames += 1
        out.append(BadFrame(reason))

    def _step(self, out: list) -> bool:
        """Consume what the buffer allows; False when more bytes are needed."""
        if self._skip:
            return self._skip_oversize()
        if self._length is None:
            return self._find_header(out)
        if self._in_headers:
            return self._read_headers(out)
        return self._read_body(out)

    def _find_header(self, out: list) -> bool:
        match = HEADER.search(self._buf)
        if match is None:
            if len(self._buf) > MAX_HEADER_BYTES:  # junk that never reaches a header: drop it as it comes
                if not self._junk_reported:
                    self._bad(out, "data without a Content-Length header skipped")
                    self._junk_reported = True
                del self._buf[:-_OVERLAP]
            return False
        junk = bytes(self._buf[:match.start()])
        if any(line.strip() and not _HEADER_LINE.match(line.strip()) for line in junk.splitlines()) \
                and not self._junk_reported:
            self._bad(out, "data without a Content-Length header skipped")
        self._junk_reported = False
        value = match.group(1).strip()
        del self._buf[:match.end()]
        if not value.isdigit():
            self._bad(out, f"bad Content-Length {value[:40].decode('latin-1')!r}: the message was skipped")
            self._junk_reported = True  # its body follows: part of the same bad frame
            return True
        self._length, self._in_headers = int(value), True
        return True

    def _read_headers(self, out: list) -> bool:
        end = self._buf.find(b"\n")
        if end < 0:
            if len(self._buf) > MAX_HEADER_BYTES:
                self._bad(out, "header block never ended: the message was skipped")
                self._reset()
            return False
        line = bytes(self._buf[:end]).rstrip(b"\r")
        if not line:
            del self._buf[:end + 1]
            self._in_headers = False
            self._scanned = 0
            return True
        if HEADER.match(self._buf[:end + 1]) or not _HEADER_LINE.match(line):
            # another Content-Length, or not a header at all: this frame has no blank line; start over here
            self._bad(out, "no blank line after the headers: the message was skipped")
            self._reset()
            return True
        del self._buf[:end + 1]
        return True

    def _read_body(self, out: list) -> bool:
        length = self._length or 0
        if length > self.max_body:
            out.append(Oversize(length))
            self._skip = length
            self._reset()
            return True
        window = self._buf[:length]
        match = NEXT_HEADER.search(window, max(0, self._scanned - _OVERLAP))
        if match is not None:  # the declared length was too large: the body ends where the next frame starts
            body = bytes(self._buf[:match.start()])
            del self._buf[:match.start()]
            self._reset()
            out.append(body)
            return True
        self._scanned = len(window)
        if len(self._buf) < length:
            return False
        out.append(bytes(window))
        del self._buf[:length]
        self._reset()
        return True

    def _skip_oversize(self) -> bool:
        """Drop an oversize body as it arrives, but stop at a next frame's header (a lie about the length)."""
        match = NEXT_HEADER.search(self._buf)
        if match is not None and match.start() < self._skip:
            del self._buf[:match.start()]
            self._skip = 0
            return True
        if len(self._buf) >= self._skip:
            del self._buf[:self._skip]
            self._skip = 0
            return True
        n = max(0, len(self._buf) - _OVERLAP)  # keep a tail: it may be the start of a header
        del self._buf[:n]
        self._skip -= n
        return False

    def _reset(self) -> None:
        self._length = None
        self._in_headers = False
        self._scanned = 0


@attrs.define
class Malformed:
    """A message that could not be turned into an LSP message."""

    msg_id: int | str | None
    code: int
    message: str
    is_request: bool


def _valid_id(value: Any) -> int | str | None:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None
    return value


def _describe(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    if isinstance(cause, cattrs.BaseValidationError):
        details = cattrs.transform_error(cause)
        return "; ".join(d.replace("$.params", "params") for d in details[:4])
    return f"{type(cause).__name__}: {cause}"


class ExpectedErrorFilter(logging.Filter):
    """Keeps the log readable under bad input: the client's own mistakes (invalid params, unknown
    methods) are logged as one line, not with pygls' tracebacks; real failures keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("pygls") and str(record.msg).startswith("Unable to deserialize message"):
            return False  # RobustProtocol logs a one-line warning and answers the request
        if record.exc_info and isinstance(record.exc_info[1], JsonRpcException) \
                and not isinstance(record.exc_info[1], JsonRpcInternalError):
            record.msg = f"{record.msg}: {record.exc_info[1]}"
            record.exc_info = None
            record.exc_text = None
        return True


class RobustProtocol(LanguageServerProtocol):
    """LanguageServerProtocol that never leaves a request with an id unanswered."""

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except Exception as exc:  # noqa: BLE001 - any structuring failure becomes an answer
            method = data.get("method")
            is_request = "id" in data and method is not None
            if "id" in data and method is None and "error" not in data:
                # a response from the client we could not read; nothing to answer
                log.warning("ignoring malformed response %r: %s", data.get("id"), _describe(exc))
                return Malformed(None, types.ErrorCodes.InvalidRequest, "malformed response", False)
            what = f"invalid params for {method!r}" if isinstance(method, str) else "invalid message"
            return Malformed(_valid_id(data.get("id")), types.ErrorCodes.InvalidParams,
                             f"{what}: {_describe(exc)}", is_request)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, Malformed):
            log.warning("bad message (id=%r): %s", message.msg_id, message.message)
            if message.is_request:
                self._send_error(message.msg_id, message.code, message.message)
            return
        if not isinstance(message, (RPCRequest, RPCNotification, RPCResponse)) and not hasattr(message, "error"):
            log.warning("not a JSON-RPC message: %.200r", message)
            self._send_error(None, types.ErrorCodes.InvalidRequest, "not a JSON-RPC 2.0 message object")
            return
        if getattr(message, "jsonrpc", None) != self.VERSION:
            log.warning("wrong jsonrpc version in %.200r", message)
            if isinstance(message, RPCRequest):
                self._send_error(_valid_id(message.id), types.ErrorCodes.InvalidRequest,
                                 "jsonrpc must be \"2.0\"")
            return
        if isinstance(message, RPCRequest) and _valid_id(message.id) is None:
            self._send_error(None, types.ErrorCodes.InvalidRequest, "request id must be a string or an integer")
            return
        if isinstance(message, RPCRequest) and not isinstance(message.method, str):
            self._send_error(message.id, types.ErrorCodes.InvalidRequest, "method must be a string")
            return
        super().handle_message(message)

    def handle_frame(self, frame: bytes | Oversize | BadFrame) -> None:
        """Parse one body and dispatch it; nothing a client sends can escape as an exception."""
        if isinstance(frame, BadFrame):
            log.warning("bad frame: %s", frame.reason)
            self._send_error(None, types.ErrorCodes.ParseError, frame.reason)
            return
        if isinstance(frame, Oversize):
            log.warning("skipped a %d-byte message (limit %d)", frame.length, MAX_BODY_BYTES)
            self._send_error(None, types.ErrorCodes.InvalidRequest,
                             f"message of {frame.length} bytes exceeds the {MAX_BODY_BYTES}-byte limit")
            return
        try:
            message = json.loads(frame, object_hook=self.structure_message)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, deep nesting
            log.warning("unparsable message: %s", exc)
            self.parse_error(exc)
            return
        try:
            self.handle_message(message)
        except Exception:  # noqa: BLE001 - log and keep serving
            log.exception("error while handling a message")

    def parse_error(self, error: Exception) -> None:
        """Answer a body that is not JSON at all (id null, per JSON-RPC 2.0)."""
        self._send_error(None, types.ErrorCodes.ParseError, f"parse error: {error}"[:300])

    def _send_error(self, msg_id: int | str | None, code: int, message: str) -> None:
        self._send_data(types.ResponseErrorMessage(id=msg_id, error=types.ResponseError(code=code, message=message)))
