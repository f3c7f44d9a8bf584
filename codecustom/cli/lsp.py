"""``codecustom lsp``: run the language server (stdio by default, TCP for debugging)."""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
from pathlib import Path

from codecustom import paths
from codecustom.console import Console
from codecustom.errors import UsageError

HELP = "serve completions and test generation to editors (Language Server Protocol)"


def default_log_file() -> Path:
    """Where the server logs unless --log-file says otherwise."""
    return paths.home() / "logs" / "lsp.log"


DESCRIPTION = """\
Run the codecustom language server. Editors start it as `codecustom lsp` and talk LSP over
stdin/stdout; --tcp [HOST:]PORT listens on a socket instead (handy for debugging), on loopback
unless HOST names another address, which also needs --allow-remote and a token (--token-file or
$CODECUSTOM_LSP_TOKEN) that clients send as initializationOptions.token. One client at a time; when
it disconnects the server waits for the next one (`exit` stops it).

It serves the workspace's customized model: the artifact named in initializationOptions or
.codecustom.toml ([model] base / artifact), else the newest artifact of this project in the store,
else the base model. Features: textDocument/inlineCompletion (LSP 3.18 ghost text),
textDocument/completion, a "Generate tests" code action and the workspace/executeCommand
codecustom.generateTests, and the codecustom/status notification.

Logs go to {log} (under $CODECUSTOM_HOME; change with --log-file).
Editor setup: docs/editors.md.
"""


TOKEN_ENV = "CODECUSTOM_LSP_TOKEN"
MIN_TOKEN_CHARS = 16


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host = "127.0.0.1"  # a bare port: loopback
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT like 2087 or 127.0.0.1:2087, got {text!r}")
    return host.strip("[]"), int(port)


def is_loopback_host(host: str) -> bool:
    """True when every address ``host`` resolves to is on this machine."""
    import ipaddress
    import socket

    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(info[4][0].split("%")[0]).is_loopback for info in infos)


def _token(args: argparse.Namespace) -> str | None:
    """The shared secret TCP clients must send (``--token-file``, else ``$CODECUSTOM_LSP_TOKEN``), or None."""
    if args.token_file is not None:
        try:
            text = args.token_file.expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"cannot read the token file {args.token_file}: {exc.strerror}") from exc
    else:
        text = os.environ.get(TOKEN_ENV, "").strip()
    if text and len(text) < MIN_TOKEN_CHARS:
        raise UsageError(f"the token is {len(text)} characters long; use at least {MIN_TOKEN_CHARS}",
                         hint="e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))' > token")
    return text or None


def _tcp_access(args: argparse.Namespace) -> tuple[str, str | None]:
    """(how the listener is exposed, token): loopback by default; other hosts need --allow-remote and a token."""
    host, _ = args.tcp
    token = _token(args)
    if is_loopback_host(host):
        return "loopback only" + (", token required" if token else ""), token
    if not args.allow_remote:
        raise UsageError(f"--tcp {host} would accept connections from other machines",
                         hint="use a loopback address (the default: --tcp PORT), or pass --allow-remote "
                              f"with --token-file FILE (or ${TOKEN_ENV})")
    if token is None:
        raise UsageError("--allow-remote needs a token that clients send as initializationOptions.token",
                         hint=f"--token-file FILE, or set ${TOKEN_ENV}")
    return "REACHABLE FROM OTHER MACHINES, token required", token


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # the log path depends on $CODECUSTOM_HOME at run time, not at import time
    parser.description = DESCRIPTION.format(log=default_log_file())
    parser.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    parser.add_argument("--tcp", metavar="[HOST:]PORT", type=_host_port,
                        help="listen on a TCP socket instead of stdio (for debugging); loopback unless HOST says "
                             "otherwise, which needs --allow-remote")
    parser.add_argument("--allow-remote", action="store_true",
                        help="allow --tcp on an address other machines can reach (needs a token)")
    parser.add_argument("--token-file", metavar="PATH", type=Path,
                        help=f"TCP clients must send this file's token as initializationOptions.token "
                             f"(default: ${TOKEN_ENV} when set)")
    parser.add_argument("--log-file", metavar="PATH", type=Path,
                        help=f"log file (default: {default_log_file()})")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"],
                        help="log verbosity (default: info)")
    parser.add_argument("--no-warmup", action="store_true",
                        help="skip the warm-up decode after loading the model")


def _setup_logging(path: Path, level: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=5_000_000, backupCount=2, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write the log file {path}: {exc.strerror}",
                         hint="pass --log-file with a writable path") from exc
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    from codecustom_lsp.protocol import ExpectedErrorFilter

    handler.addFilter(ExpectedErrorFilter())
    root = logging.getLogger()
    for old in list(root.handlers):  # stderr/stdout handlers would reach the editor's pipe
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    # pygls logs every message body at INFO; keep that for --log-level debug only
    logging.getLogger("pygls").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    return path


def _protect_stdout() -> object:
    """Keep the protocol channel clean: stray prints from libraries go to stderr, not stdout."""
    protocol_out = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.stdout = sys.stderr
    return protocol_out


def _own_scheduling_group() -> bool:
    """Start a session of our own (stdio servers started by an editor only, never one in a terminal, whose
    Ctrl-C must still reach it). With the kernel's autogroup scheduling, CPU time is shared fairly between
    sessions first: busy processes in the editor's or a terminal's session then cannot starve the server."""
    if sys.stdin.isatty():
        return False
    try:
        os.setsid()
    except OSError:  # already a session or process-group leader
        return False
    return True


def run(args: argparse.Namespace, console: Console) -> int:
    if args.tcp and args.stdio:
        raise UsageError("--tcp and --stdio are mutually exclusive", hint="pick one transport")
    if (args.allow_remote or args.token_file) and not args.tcp:
        raise UsageError("--allow-remote and --token-file go with --tcp", hint="stdio needs neither")
    exposure, token = _tcp_access(args) if args.tcp else ("", None)
    log_file = _setup_logging((args.log_file or default_log_file()).expanduser(), args.log_level)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from codecustom_lsp.server import create_server

    server = create_server(warmup=not args.no_warmup)
    log = logging.getLogger("codecustom.lsp")
    if args.tcp:
        host, port = args.tcp
        def listening() -> None:
            log.info("listening on %s:%d (%s)", host, port, exposure)
            print(f"codecustom lsp: listening on {host}:{port} ({exposure}; log: {log_file})", file=sys.stderr,
                  flush=True)

        server.start_tcp(host, port, token=token, on_listening=listening)
    else:
        grouped = _own_scheduling_group()
        log.info("serving on stdio (pid %d%s)", os.getpid(), ", own session" if grouped else "")
        protocol_out = _protect_stdout()
        server.start_io(sys.stdin.buffer, protocol_out)  # type: ignore[arg-type]
    log.info("server stopped")
    return 0
