"""A small raw JSON-RPC-over-stdio LSP client, for the benchmark and abuse scripts and tests.

It writes exact bytes (so it can also send malformed frames), reads the server's frames on a
thread, resolves responses by id, keeps notifications, and answers the server's own requests
(progress tokens, configuration, applyEdit) the way a simple editor would.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any


class RpcError(Exception):
    """An error response from the server."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.code = error.get("code")
        self.error = error
        super().__init__(f"{error.get('code')}: {error.get('message')}")


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class StdioClient:
    """Spawn ``command`` and talk LSP to it over its stdin/stdout."""

    def __init__(self, command: Sequence[str], *, cwd: str | Path | None = None, env: dict[str, str] | None = None,
                 configuration: Any = None, stderr: Any = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen(list(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                                     cwd=cwd, env={**os.environ, **(env or {})})
        self._ids = itertools.count(1)
        self._pending: dict[Any, Future] = {}
        self._watched: dict[Any, Future] = {}
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.notifications: list[dict[str, Any]] = []
        self.orphans: list[dict[str, Any]] = []  # responses to unknown / null ids
        self.configuration = configuration
        self.applied_edits: list[dict[str, Any]] = []
        self._listeners: list[Callable[[dict[str, Any]], None]] = []
        self._reader = threading.Thread(target=self._read_loop, name="lsp-client-reader", daemon=True)
        self._reader.start()

    # -- sending ------------------------------------------------------------------------------
    def send_bytes(self, data: bytes) -> None:
        with self._write_lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(frame(json.dumps(message).encode()))

    def request_async(self, method: str, params: Any = None, *, msg_id: Any = None) -> tuple[Any, Future]:
        msg_id = next(self._ids) if msg_id is None else msg_id
        future: Future = Future()
        with self._lock:
            self._pending[msg_id] = future
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id, future

    def request(self, method: str, params: Any = None, *, timeout: float = 60) -> Any:
        _, future = self.request_async(method, params)
        return future.result(timeout)

    def register(self, msg_id: Any) -> Future:
        """Expect a response with ``msg_id`` to a request sent as raw bytes (see ``outcome``)."""
        future: Future = Future()
        with self._lock:
            self._pending[msg_id] = future
            self._watched[msg_id] = future
        return future

    def done(self, msg_id: Any) -> bool:
        return self._watched[msg_id].done()

    def outcome(self, msg_id: Any) -> dict[str, Any] | None:
        """``{"result": ...}`` or ``{"error": {...}}`` for a registered id, None while unanswered."""
        future = self._watched[msg_id]
        if not future.done():
            return None
        exc = future.exception()
        if isinstance(exc, RpcError):
            return {"error": exc.error}
        if exc is not None:
            return {"error": {"code": None, "message": str(exc)}}
        return {"result": future.result()}

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def cancel(self, msg_id: Any) -> None:
        self.notify("$/cancelRequest", {"id": msg_id})

    # -- session helpers ----------------------------------------------------------------------
    def initialize(self, root: str | Path, *, options: Any = None, capabilities: dict[str, Any] | None = None,
                   timeout: float = 60) -> dict[str, Any]:
        root_uri = Path(root).resolve().as_uri()
        caps = capabilities if capabilities is not None else {
            "window": {"workDoneProgress": True},
            "workspace": {"configuration": True, "applyEdit": True,
                          "workspaceEdit": {"documentChanges": True, "resourceOperations": ["create"]}},
            "textDocument": {"completion": {"completionItem": {"snippetSupport": False}},
                             "inlineCompletion": {"dynamicRegistration": False}},
        }
        result = self.request("initialize", {"processId": os.getpid(), "rootUri": root_uri, "capabilities": caps,
                                             "initializationOptions": options,
                                             "workspaceFolders": [{"uri": root_uri, "name": Path(root).name}]},
                              timeout=timeout)
        self.notify("initialized", {})
        return result

    def open(self, path: str | Path, text: str, language: str, version: int = 1) -> str:
        uri = Path(path).resolve().as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": language,
                                                              "version": version, "text": text}})
        return uri

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        """Wait for a notification matching ``predicate`` (already received ones count)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            with self._lock:
                batch = self.notifications[seen:]
                seen = len(self.notifications)
            for note in batch:
                if predicate(note):
                    return note
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with code {self.proc.returncode}")
            time.sleep(0.01)
        raise TimeoutError("notification not received in time")

    def wait_ready(self, timeout: float = 120) -> dict[str, Any]:
        """Wait until codecustom/status says the model is ready (raises if it failed)."""
        note = self.wait_for(lambda n: n.get("method") == "codecustom/status"
                             and n["params"].get("state") in {"ready", "failed"}, timeout)
        if note["params"]["state"] != "ready":
            raise RuntimeError(f"model failed to load: {note['params'].get('error')}")
        return note["params"]

    def shutdown(self, timeout: float = 10) -> int | None:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=timeout)
                self.notify("exit", None)
                self.proc.wait(timeout)
        except Exception:  # noqa: BLE001 - fall through to kill
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout)
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc.poll() is None

    # -- receiving ----------------------------------------------------------------------------
    def _read_loop(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self._fail_pending("server closed the connection")
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.decode("ascii", "replace").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is None:
                continue
            body = out.read(length)
            try:
                message = json.loads(body)
            except ValueError:
                continue
            self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server
            self._answer(message)
            return
        if "method" in message:
            with self._lock:
                self.notifications.append(message)
            for listener in list(self._listeners):
                listener(message)
            return
        with self._lock:
            future = self._pending.pop(message.get("id"), None)
        if future is None:
            self.orphans.append(message)
            return
        if "error" in message:
            future.set_exception(RpcError(message["error"]))
        else:
            future.set_result(message.get("result"))

    def _answer(self, message: dict[str, Any]) -> None:
        method = message["method"]
        result: Any = None
        if method == "workspace/configuration":
            result = [self.configuration for _ in message["params"]["items"]]
        elif method == "workspace/applyEdit":
            self.applied_edits.append(message["params"])
            result = {"applied": True}
        self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def _fail_pending(self, reason: str) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if not future.done():
                future.set_exception(ConnectionError(reason))
