"""A JSON-RPC layer that answers bad input instead of dropping it, and a framing decoder with
bounded memory.

pygls structures each message inside ``json.loads``' object hook; when a request's params do not
match the LSP types it raises there, and the request is never answered (the client waits forever).
This protocol turns such a request into an ``InvalidParams`` error response carrying the request's
id and naming the bad field, answers non-object or non-2.0 messages with ``InvalidRequest``, and
answers unparsable bodies with ``ParseError`` (id null), as JSON-RPC 2.0 asks.

:class:`FrameDecoder` splits the byte stream into bodies: header names are case-insensitive, bare
``\n`` line ends are accepted, junk header lines are skipped, and a frame larger than the limit is
skipped in chunks (answered with an error) instead of being buffered, so memory stays bounded.
"""

from __future__ import annotations

import json
import logging
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


@attrs.define
class Oversize:
    """A frame whose body was skipped because it exceeded the limit."""

    length: int


class FrameDecoder:
    """Incremental ``Content-Length`` framing: ``feed(bytes)`` returns complete bodies (or Oversize)."""

    def __init__(self, max_body: int = MAX_BODY_BYTES) -> None:
        self.max_body = max_body
        self._buf = bytearray()
        self._length: int | None = None
        self._in_body = False
        self._skip = 0
        self.junk_lines = 0

    def feed(self, data: bytes) -> list[bytes | Oversize]:
        out: list[bytes | Oversize] = []
        self._buf += data
        while True:
            if self._skip:
                n = min(self._skip, len(self._buf))
                del self._buf[:n]
                self._skip -= n
                if self._skip:
                    break
                continue
            if not self._in_body:
                end = self._buf.find(b"\n")
                if end < 0:
                    if len(self._buf) > MAX_HEADER_BYTES:  # a "header" that never ends: drop it
                        self.junk_lines += 1
                        self._buf.clear()
                    break
                line = bytes(self._buf[:end]).rstrip(b"\r")
                del self._buf[:end + 1]
                if not line:
                    if self._length is not None:
                        self._in_body = True
                    continue
                name, sep, value = line.partition(b":")
                if sep and name.strip().lower() == b"content-length":
                    try:
                        length = int(value.strip())
                    except ValueError:
                        length = -1
                    self._length = length if length >= 0 else None
                    if self._length is None:
                        self.junk_lines += 1
                elif not sep:
                    self.junk_lines += 1
                continue
            length = self._length or 0
            if length > self.max_body:
                out.append(Oversize(length))
                self._skip = length
                self._reset()
                continue
            if len(self._buf) < length:
                break
            out.append(bytes(self._buf[:length]))
            del self._buf[:length]
            self._reset()
        return out

    def _reset(self) -> None:
        self._length = None
        self._in_body = False


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

    def handle_frame(self, frame: bytes | Oversize) -> None:
        """Parse one body and dispatch it; nothing a client sends can escape as an exception."""
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
