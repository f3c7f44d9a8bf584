"""`codecustom lsp`: help names the log file, bad usage is one line, TCP transport works."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest

from codecustom import paths
from codecustom.cli import main


def test_help_names_the_log_file(capsys):
    try:
        main(["lsp", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert str(paths.home() / "logs" / "lsp.log") in out
    assert "--tcp [HOST:]PORT" in out and "inlineCompletion" in out and "--allow-remote" in out


def test_bad_tcp_address_is_a_one_line_usage_error(capsys):
    try:
        code = main(["lsp", "--tcp", "localhost"])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert "expected [HOST:]PORT" in err and len(err.strip().splitlines()) == 1


def test_unwritable_log_file_is_a_one_line_error(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(["lsp", "--log-file", str(blocker / "lsp.log")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write the log file" in err and len(err.strip().splitlines()) == 1


def _frame(obj) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _read(sock: socket.socket, buf: bytearray) -> dict:
    while True:
        head, sep, rest = bytes(buf).partition(b"\r\n\r\n")
        if sep:
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            if len(rest) >= length:
                del buf[: len(head) + 4 + length]
                return json.loads(rest[:length])
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk


def _reply_to(sock: socket.socket, buf: bytearray, msg_id) -> dict:
    while (reply := _read(sock, buf)).get("id") != msg_id or "method" in reply:
        pass  # status / showMessage notifications (the model folder does not exist)
    return reply


def _initialize(tmp_path, msg_id=1, **options) -> dict:
    return {"jsonrpc": "2.0", "id": msg_id, "method": "initialize", "params": {
        "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
        "initializationOptions": {"model": {"artifact": "none", "base": str(tmp_path / "no-model")}, **options}}}


@pytest.mark.parametrize("argv, message", [
    (["--tcp", "0.0.0.0:2087"], "would accept connections from other machines"),
    (["--tcp", "0.0.0.0:2087", "--allow-remote"], "--allow-remote needs a token"),
    (["--tcp", "2087", "--token-file", "TOKEN"], "the token is 5 characters long; use at least 16"),
    (["--token-file", "TOKEN"], "--allow-remote and --token-file go with --tcp"),
])
def test_exposure_beyond_loopback_needs_a_flag_and_a_token(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.delenv("CODECUSTOM_LSP_TOKEN", raising=False)
    (tmp_path / "TOKEN").write_text("short")
    argv = [str(tmp_path / "TOKEN") if a == "TOKEN" else a for a in argv]
    assert main(["lsp", *argv, "--log-file", str(tmp_path / "lsp.log")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


class TcpServer:
    """`codecustom lsp --tcp 127.0.0.1:PORT` in a subprocess, and connections to it."""

    def __init__(self, tmp_path, *extra: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.proc = subprocess.Popen([sys.executable, "-m", "codecustom", "lsp", "--tcp", f"127.0.0.1:{self.port}",
                                      "--log-file", str(tmp_path / "lsp.log"), *extra],
                                     stderr=subprocess.PIPE, text=True)
        self.banner = self.proc.stderr.readline()  # printed once it listens: an event, not a delay

    def connect(self) -> socket.socket:
        assert "listening on" in self.banner, self.banner
        return socket.create_connection(("127.0.0.1", self.port), timeout=60)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def tcp_server(tmp_path):
    servers: list[TcpServer] = []

    def start(*extra: str) -> TcpServer:
        servers.append(TcpServer(tmp_path, *extra))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_tcp_serves_the_next_client_after_a_disconnect_and_survives_bad_frames(tmp_path, tcp_server):
    server = tcp_server()
    assert "listening on 127.0.0.1" in server.banner and "loopback only" in server.banner
    with server.connect() as first:
        buf = bytearray()
        first.sendall(_frame(_initialize(tmp_path)))
        assert "inlineCompletionProvider" in _reply_to(first, buf, 1)["result"]["capabilities"]
        first.sendall(b"Content-Length: lots\r\n\r\n{}" + b"Content-Length: 3\r\n\r\n{x}")
        errors = [_read(first, buf) for _ in range(2)]
        assert [e["error"]["code"] for e in errors] == [-32700, -32700]
        first.sendall(_frame({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand",
                              "params": {"command": "codecustom.status"}}))
        assert "state" in _reply_to(first, buf, 2)["result"]
        with server.connect() as intruder:  # one client at a time: told so, and closed
            refused = _read(intruder, bytearray())
            assert refused["error"]["code"] == -32600 and "one client at a time" in refused["error"]["message"]
    # the first client vanished without shutdown/exit: the server is still there for the next one
    with server.connect() as second:
        buf = bytearray()
        second.sendall(_frame(_initialize(tmp_path, 7)))
        assert _reply_to(second, buf, 7)["result"]["serverInfo"]["name"] == "codecustom"
        second.sendall(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
        second.sendall(_frame({"jsonrpc": "2.0", "id": 8, "method": "shutdown", "params": None}))
        _reply_to(second, buf, 8)
        second.sendall(_frame({"jsonrpc": "2.0", "method": "exit", "params": None}))
        assert server.proc.wait(timeout=60) == 0


def test_tcp_token_is_checked_before_anything_is_served(tmp_path, tcp_server):
    token = "t0ken-" + "x" * 20
    (tmp_path / "token").write_text(token + "\n")
    server = tcp_server("--token-file", str(tmp_path / "token"))
    assert "token required" in server.banner
    for options in ({}, {"token": "wrong-" + "x" * 20}):
        with server.connect() as sock:
            buf = bytearray()
            sock.sendall(_frame(_initialize(tmp_path, 3, **options)))
            reply = _read(sock, buf)
            assert reply["id"] == 3 and reply["error"]["code"] == -32001 and "unauthorized" in reply["error"]["message"]
            with pytest.raises(ConnectionError):
                _read(sock, buf)  # and the connection is closed
    with server.connect() as sock:
        buf = bytearray()
        sock.sendall(_frame(_initialize(tmp_path, 4, token=token)))
        assert "capabilities" in _reply_to(sock, buf, 4)["result"]
