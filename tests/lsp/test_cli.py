"""`codecustom lsp`: help names the log file, bad usage is one line, TCP transport works."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from codecustom import paths
from codecustom.cli import main


def test_help_names_the_log_file(capsys):
    try:
        main(["lsp", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    out = capsys.readouterr().out
    assert str(paths.home() / "logs" / "lsp.log") in out
    assert "--tcp HOST:PORT" in out and "inlineCompletion" in out


def test_bad_tcp_address_is_a_one_line_usage_error(capsys):
    try:
        code = main(["lsp", "--tcp", "localhost"])
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert "expected HOST:PORT" in err and len(err.strip().splitlines()) == 1


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
        assert chunk, "server closed the connection"
        buf += chunk


def test_tcp_transport(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "codecustom", "lsp", "--tcp", f"127.0.0.1:{port}",
                             "--log-file", str(tmp_path / "lsp.log")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, "server did not listen"
                time.sleep(0.1)
        with sock:
            buf = bytearray()
            sock.sendall(_frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {},
                "initializationOptions": {"model": {"artifact": "none", "base": str(tmp_path / "no-model")}}}}))
            reply = _read(sock, buf)
            assert reply["id"] == 1 and "inlineCompletionProvider" in reply["result"]["capabilities"]
            sock.sendall(_frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
            sock.sendall(_frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown", "params": None}))
            while (reply := _read(sock, buf)).get("id") != 2:
                pass  # status / showMessage notifications (the model folder does not exist)
            sock.sendall(_frame({"jsonrpc": "2.0", "method": "exit", "params": None}))
        assert proc.wait(timeout=30) == 0
        assert "listening on 127.0.0.1" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
