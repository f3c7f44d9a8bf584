"""The codecustom language server: state, lifecycle, configuration, progress and status.

Feature handlers live in :mod:`.completion` (completion, inline completion) and :mod:`.testgen`
(code action + ``codecustom.generateTests``); :func:`create_server` wires them up.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import FeatureNotificationError, FeatureRequestError, JsonRpcException
from pygls.io_ import StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from codecustom import __version__
from codecustom.paths import project_name

from . import config as config_mod
from .cache import CompletionCache
from .config import ServerConfig
from .documents import DocumentTracker
from .models import ModelManager, Served, State, build_engines
from .protocol import FrameDecoder, RobustProtocol
from .worker import InferenceWorker

log = logging.getLogger(__name__)

STATUS_NOTIFICATION = "codecustom/status"
CONFIG_SECTION = "codecustom"
MAX_PENDING_FRAMES = 256  # frames read but not yet handled; the reader waits beyond this


class LoadProgress:
    """``$/progress`` for model loading; created once the client is initialized (event loop only)."""

    def __init__(self, server: CodecustomServer) -> None:
        self.server = server
        self.token: str | None = None
        self.begun = False
        self.ended = False
        self.message = "starting"
        self.percentage = 0
        self.final: str | None = None
        self._counter = 0

    def start(self) -> None:
        """Called on ``initialized``: ask the client for a token if it supports work-done progress."""
        caps = self.server.client_capabilities
        if not (caps and caps.window and caps.window.work_done_progress):
            return
        self._counter += 1
        token = f"codecustom-load-{self._counter}"
        future = self.server.protocol.send_request(types.WINDOW_WORK_DONE_PROGRESS_CREATE,
                                                   types.WorkDoneProgressCreateParams(token=token))

        def created(fut: Any) -> None:
            if fut.cancelled() or fut.exception() is not None:
                log.info("client refused progress token: %s", None if fut.cancelled() else fut.exception())
                return
            self.token = token
            self._begin()

        future.add_done_callback(created)

    def restart(self) -> None:
        self.begun = self.ended = False
        self.final = None
        self.token = None
        self.start()

    def _begin(self) -> None:
        if self.token is None or self.begun:
            return
        self.begun = True
        self.server.work_done_progress.begin(self.token, types.WorkDoneProgressBegin(
            title="codecustom: loading model", message=self.message, percentage=self.percentage, cancellable=False))
        if self.final is not None:
            self._end()

    def report(self, message: str, percentage: int) -> None:
        self.message, self.percentage = message, max(self.percentage, percentage)
        if self.token is not None and self.begun and not self.ended:
            self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(
                message=message, percentage=self.percentage))

    def finish(self, message: str) -> None:
        self.final = message
        if self.token is not None and self.begun:
            self._end()

    def _end(self) -> None:
        if self.ended or self.token is None:
            return
        self.ended = True
        self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=self.final))


class CommandProgress:
    """Work-done progress for one long command (a no-op when the client has no progress support)."""

    def __init__(self, server: CodecustomServer, token: str | None) -> None:
        self.server, self.token = server, token

    def report(self, message: str, percentage: int | None = None) -> None:
        if self.token is not None:
            self.server.work_done_progress.report(self.token, types.WorkDoneProgressReport(
                message=message, percentage=percentage))

    def end(self, message: str | None = None) -> None:
        if self.token is not None:
            self.server.work_done_progress.end(self.token, types.WorkDoneProgressEnd(message=message))
            self.token = None


class CodecustomServer(LanguageServer):
    """pygls server holding the model manager, document tracker, cache and inference worker."""

    def __init__(self, *, loader: Callable[..., Served] = build_engines, warmup: bool = True) -> None:
        super().__init__("codecustom", __version__, protocol_cls=RobustProtocol, max_workers=4)
        self.config = ServerConfig()
        self.models = ModelManager(loader)
        self.tracker = DocumentTracker()
        self.cache = CompletionCache(self.config.settings.cache_size)
        self.worker = InferenceWorker(self.config.settings.queue_size)
        self.progress = LoadProgress(self)
        self.root: Path | None = None
        self.project: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.initialized = False
        self.warmup = warmup
        self.stats: dict[str, Any] = {"requests": 0, "served": 0, "empty": 0, "cancelled": 0, "stale": 0,
                                      "gated": 0, "decodesStopped": 0, "cacheHits": 0, "lastLatencyMs": None, "lastModelMs": None}
        self._errors_reported = 0
        self._progress_counter = 0
        self._last_error_report = 0.0

    # -- transports -------------------------------------------------------------------------
    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve LSP over stdio; the stdin reader is a daemon thread with back-pressure."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout or sys.stdout.buffer))
        try:
            asyncio.run(self._serve_stdio(stdin or sys.stdin.buffer))
        except BrokenPipeError:
            log.error("the client closed the connection")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    async def _serve_stdio(self, stdin: Any) -> None:
        loop = asyncio.get_running_loop()
        finished = loop.create_future()
        slots = threading.Semaphore(MAX_PENDING_FRAMES)

        def handle(frame: Any) -> None:
            try:
                self.protocol.handle_frame(frame)  # type: ignore[attr-defined]
            finally:
                slots.release()

        def read() -> None:
            decoder = FrameDecoder()
            try:  # raw fd reads hold no buffer lock, so exiting with this thread blocked is safe
                fd = stdin.fileno()
                read_some: Callable[[int], bytes] = lambda n: os.read(fd, n)  # noqa: E731
            except (AttributeError, OSError, ValueError):
                read_some = getattr(stdin, "read1", None) or stdin.read
            try:
                while not self._stop_event.is_set():
                    data = read_some(1 << 16)
                    if not data:
                        break
                    for frame in decoder.feed(data):
                        slots.acquire()
                        loop.call_soon_threadsafe(handle, frame)
            except (OSError, ValueError) as exc:
                log.info("stdin closed: %s", exc)
            finally:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(lambda: finished.done() or finished.set_result(None))

        threading.Thread(target=read, name="codecustom-stdin", daemon=True).start()
        await finished
        log.info("stdin reached end of file")

    def start_tcp(self, host: str, port: int, *, token: str | None = None,
                  on_listening: Callable[[], None] | None = None) -> None:
        """Serve LSP on a TCP socket, one client at a time, each after the other.

        A client that disconnects (without ``exit``) ends only its session: the server resets and serves
        the next one; ``exit`` stops the server. With ``token``, a connection must open with an
        ``initialize`` request whose ``initializationOptions.token`` matches, else it is refused and closed.
        """
        self._stop_event = threading.Event()
        busy = asyncio.Lock()

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            if busy.locked():
                log.warning("refused %s: another client is connected", peer)
                await _refuse(writer, None, types.ErrorCodes.InvalidRequest,
                              "codecustom lsp serves one client at a time and another one is connected")
                return
            async with busy:
                log.info("client connected from %s", peer)
                self.protocol.set_writer(writer)  # type: ignore[arg-type]
                decoder = FrameDecoder()
                trusted = token is None
                try:
                    while not self._stop_event.is_set():
                        data = await reader.read(1 << 16)
                        if not data:
                            break
                        for frame in decoder.feed(data):
                            if not trusted:
                                frame, trusted, msg_id = _authenticate(frame, token)
                                if not trusted:
                                    log.warning("refused %s: no valid token in its initialize request", peer)
                                    await _refuse(writer, msg_id, UNAUTHORIZED,
                                                  "unauthorized: initializationOptions.token is missing or wrong")
                                    return
                            self.protocol.handle_frame(frame)  # type: ignore[attr-defined]
                except (ConnectionError, OSError) as exc:
                    log.info("connection from %s lost: %s", peer, exc)
                finally:
                    log.info("client %s disconnected; waiting for the next one", peer)
                    self._end_session()

        async def serve() -> None:
            self._server = await asyncio.start_server(connection, host, port)
            if on_listening is not None:  # bound: clients can connect from now on
                on_listening()
            async with self._server:
                await self._server.serve_forever()

        try:
            asyncio.run(serve())
        except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
            pass

    def _end_session(self) -> None:
        """Forget one TCP client's session (documents, pending requests, shutdown state) but keep the model."""
        self.protocol._shutdown = False  # type: ignore[attr-defined]
        for future in list(self.protocol._request_futures.values()):  # type: ignore[attr-defined]
            if not future.done():
                future.cancel()
        self.protocol._request_futures.clear()  # type: ignore[attr-defined]
        self.initialized = False
        self.tracker = DocumentTracker()
        self.cache.clear()
        self.worker.close()
        self.worker = InferenceWorker(self.config.settings.queue_size)

    def shutdown(self) -> None:
        self.worker.close()
        super().shutdown()

    # -- errors -----------------------------------------------------------------------------
    def report_server_error(self, error: Exception, source: Any) -> None:
        """Log every error; tell the user about failing notifications at most once every 10 s."""
        log.error("%s: %s", getattr(source, "__name__", source), error)
        if source in (FeatureRequestError, JsonRpcException):
            return  # the requester got an error response already / nothing to show
        self._errors_reported += 1
        now = time.monotonic()
        if now - self._last_error_report > 10 and source is FeatureNotificationError:
            self._last_error_report = now
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Error,
                                                           message=f"codecustom: {error}"))

    # -- thread hand-off ----------------------------------------------------------------------
    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn`` on the event loop thread (all protocol writes must happen there)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        if threading.current_thread() is threading.main_thread() and _running_loop() is loop:
            fn(*args)
        else:
            loop.call_soon_threadsafe(fn, *args)

    # -- configuration and model --------------------------------------------------------------
    def settings(self) -> config_mod.Settings:
        return self.config.settings

    def warn(self, message: str) -> None:
        log.warning(message)
        if self.initialized:
            self.window_log_message(types.LogMessageParams(type=types.MessageType.Warning,
                                                           message=f"codecustom: {message}"))

    def flush_warnings(self) -> None:
        warnings, self.config.warnings = self.config.warnings, []
        for message in warnings:
            self.warn(message)

    def apply_settings(self, old: config_mod.Settings) -> None:
        new = self.config.settings
        if new.cache_size != old.cache_size:
            self.cache.capacity = new.cache_size
        if new.queue_size != old.queue_size:
            self.worker.capacity = new.queue_size

    def start_loading(self) -> None:
        """Load the configured model on a background thread, reporting progress and status."""
        choice = self.config.model
        log.info("loading model: %s (project %s)", choice, self.project)

        def progress(message: str, pct: int) -> None:
            log.info("load: %s (%d%%)", message, pct)
            self.call_soon(self.progress.report, message, pct)

        def done(state: State, error: str | None) -> None:
            if state is State.READY:
                info = self.models.status()
                message = f"ready: {info.get('model')}" + (f" + {Path(info['artifact']).name}" if info.get("artifact") else "")
                log.info("model %s", message)
            else:
                message = f"model failed to load: {error}"
                log.error(message)
            self.call_soon(self._loaded, state, message)

        warm = self._warm_up if self.warmup else None
        self.models.load(choice, self.project, progress=progress, done=done, warmup=warm)

    def _warm_up(self, served: Served) -> None:
        """One tiny decode so the first real request does not pay for lazy initialisation."""
        try:
            served.completion.complete("def add(a, b):\n    return ", "\n", language="python", max_new_tokens=2)
        except Exception as exc:  # noqa: BLE001 - warm-up is best effort
            log.warning("warm-up failed: %s", exc)

    def _loaded(self, state: State, message: str) -> None:
        self.cache.clear()
        self.progress.finish(message)
        if state is State.FAILED:
            self.window_show_message(types.ShowMessageParams(type=types.MessageType.Error,
                                                             message=f"codecustom: {message}"))
        self.send_status()

    def show(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        """A message for the user (window/showMessage), also logged."""
        log.info("show: %s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"codecustom: {message}"))

    async def begin_progress(self, title: str, message: str) -> CommandProgress:
        """Start server-initiated work-done progress if the client supports it."""
        caps = self.client_capabilities
        if not (caps and caps.window and caps.window.work_done_progress):
            return CommandProgress(self, None)
        self._progress_counter += 1
        token = f"codecustom-{self._progress_counter}"
        try:
            await self.work_done_progress.create_async(token)
        except Exception as exc:  # noqa: BLE001 - progress is optional
            log.info("no progress token: %s", exc)
            return CommandProgress(self, None)
        self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, message=message,
                                                                         percentage=0, cancellable=False))
        return CommandProgress(self, token)

    def status(self) -> dict[str, Any]:
        payload = self.models.status()
        payload.update(self.stats)
        payload["queue"] = self.worker.pending()
        payload["cacheEntries"] = len(self.cache)
        payload["typeThroughHits"] = self.cache.type_through_hits
        payload["server"] = f"codecustom {__version__}"
        return payload

    def send_status(self) -> None:
        if self.initialized and self.config.settings.status:
            self.protocol.notify(STATUS_NOTIFICATION, self.status())

    def record_latency(self, total_ms: float, model_ms: float | None) -> None:
        self.stats["lastLatencyMs"] = round(total_ms, 1)
        if model_ms is not None:
            self.stats["lastModelMs"] = round(model_ms, 1)
        self.send_status()


UNAUTHORIZED = -32001  # a JSON-RPC server error code: the connection's token is missing or wrong


def _authenticate(frame: Any, token: str | None) -> tuple[Any, bool, Any]:
    """(frame without its token, accepted?, request id) for the first frame of a TCP connection."""
    import hmac
    import json

    try:
        message = json.loads(frame) if isinstance(frame, bytes) else None
    except ValueError:
        message = None
    if not isinstance(message, dict):
        return frame, False, None
    msg_id = message.get("id") if isinstance(message.get("id"), (int, str)) else None
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    given = options.pop("token", None) if isinstance(options, dict) else None
    if message.get("method") != "initialize" or not isinstance(given, str) or token is None \
            or not hmac.compare_digest(given.encode(), token.encode()):
        return frame, False, msg_id
    return json.dumps(message).encode(), True, msg_id


async def _refuse(writer: asyncio.StreamWriter, msg_id: Any, code: int, message: str) -> None:
    """Answer with one error response, then close the connection."""
    import json

    body = json.dumps({"jsonrpc": "2.0", "id": msg_id, "error": {"code": code, "message": message}}).encode()
    try:
        writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await writer.drain()
        writer.close()
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _root_of(params: types.InitializeParams) -> Path | None:
    if params.workspace_folders:
        path = to_fs_path(params.workspace_folders[0].uri)
        if path:
            return Path(path)
    if params.root_uri:
        path = to_fs_path(params.root_uri)
        if path:
            return Path(path)
    if params.root_path:
        return Path(params.root_path)
    return None


def register_lifecycle(server: CodecustomServer) -> None:
    """initialize / initialized / document sync / configuration / shutdown handlers."""

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: CodecustomServer, params: types.InitializeParams) -> None:
        ls.loop = _running_loop()
        ls.root = _root_of(params)
        ls.project = project_name(ls.root) if ls.root else None
        ls.config = config_mod.load(ls.root, params.initialization_options)
        ls.apply_settings(config_mod.Settings())
        ls.start_loading()  # background thread; initialize answers right away

    @server.feature(types.INITIALIZED)
    def on_initialized(ls: CodecustomServer, params: types.InitializedParams) -> None:
        ls.initialized = True
        ls.flush_warnings()
        ls.progress.start()
        if ls.models.state in (State.READY, State.FAILED):
            ls.progress.finish(ls.models.state.value)
        ls.send_status()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def on_open(ls: CodecustomServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.tracker.opened(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: CodecustomServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.tracker.changed(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def on_close(ls: CodecustomServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.tracker.closed(params.text_document.uri)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_configuration(ls: CodecustomServer, params: types.DidChangeConfigurationParams) -> None:
        data = params.settings
        caps = ls.client_capabilities
        if not data and caps and caps.workspace and caps.workspace.configuration:
            # pull model: the notification only says "something changed"
            result = await ls.workspace_configuration_async(
                types.ConfigurationParams(items=[types.ConfigurationItem(section=CONFIG_SECTION)]))
            data = result[0] if result else None
        old_settings, old_model = ls.config.settings, ls.config.model
        ls.config = config_mod.apply(ls.config, data, source="didChangeConfiguration")
        ls.flush_warnings()
        ls.apply_settings(old_settings)
        if ls.config.model != old_model:
            ls.progress.restart()
            ls.start_loading()
        ls.send_status()

    @server.feature(types.SHUTDOWN)
    def on_shutdown(ls: CodecustomServer, params: Any) -> None:
        ls.worker.close()


def create_server(*, loader: Callable[..., Served] = build_engines, warmup: bool = True) -> CodecustomServer:
    """A ready-to-start server with every feature registered."""
    from . import completion, testgen

    server = CodecustomServer(loader=loader, warmup=warmup)
    register_lifecycle(server)
    completion.register(server)
    testgen.register(server)

    @server.command("codecustom.status")
    def status_command(ls: CodecustomServer, *args: Any) -> dict[str, Any]:
        return ls.status()

    return server
