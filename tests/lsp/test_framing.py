"""Framing of the byte stream: bodies out, and after any bad frame the next good one still comes out."""

import json

import pytest

from codecustom_lsp.protocol import BadFrame, FrameDecoder, Oversize


def _frame(obj, header="Content-Length", eol=b"\r\n") -> bytes:
    body = json.dumps(obj).encode()
    return f"{header}: {len(body)}".encode() + eol + eol + body


def _feed_in_steps(stream: bytes, step: int, decoder: FrameDecoder | None = None) -> list:
    decoder = decoder or FrameDecoder()
    out = []
    for i in range(0, len(stream), step):
        out += decoder.feed(stream[i:i + step])
    return out


def test_split_anywhere_and_case_insensitive_headers():
    stream = (_frame({"a": 1}) + _frame({"b": 2}, header="content-length", eol=b"\n")
              + b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + _frame({"c": "\u00e9"}))
    for step in (1, 3, 7, len(stream)):
        bodies = _feed_in_steps(stream, step)
        assert [json.loads(b) for b in bodies] == [{"a": 1}, {"b": 2}, {"c": "\u00e9"}]


GOOD = {"jsonrpc": "2.0", "id": 7, "method": "shutdown"}
BODY = json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode()
BAD_FRAMES = {
    "non-numeric": b"Content-Length: lots\r\n\r\n" + BODY,
    "negative": b"Content-Length: -5\r\n\r\n" + BODY,
    "empty": b"Content-Length:\r\n\r\n" + BODY,
    "missing": b"Content-Type: application/json\r\n\r\n" + BODY,
    "no blank line": b"Content-Length: %d\r\n" % len(BODY) + BODY,
    "junk": b"hello world\r\n\r\n",
    "too small": b"Content-Length: 5\r\n\r\n" + BODY,
}


@pytest.mark.parametrize("kind", sorted(BAD_FRAMES))
def test_every_bad_frame_is_reported_and_the_next_message_still_arrives(kind):
    for step in (1, 5, 4096):
        out = _feed_in_steps(BAD_FRAMES[kind] + _frame(GOOD) + _frame(GOOD), step)
        bodies = [json.loads(b) for b in out if isinstance(b, bytes) and b.startswith(b"{\"jsonrpc\"")]
        assert bodies[-2:] == [GOOD, GOOD], (kind, step, out)
        assert any(isinstance(o, BadFrame) for o in out) or any(isinstance(o, bytes) and o != json.dumps(GOOD).encode()
                                                                for o in out), (kind, out)


def test_a_declared_length_too_large_ends_at_the_next_header():
    decoder = FrameDecoder()
    out = decoder.feed(b"Content-Length: 500\r\n\r\n" + BODY + _frame(GOOD))
    assert out == [BODY, json.dumps(GOOD).encode()]  # the first message is whole and still served


def test_a_json_body_mentioning_content_length_is_not_cut():
    text = {"jsonrpc": "2.0", "method": "x", "params": {"text": "Content-Length: 12\r\n\r\nbody"}}
    pretty = json.dumps(text, indent=2).encode()  # raw line breaks between tokens, never inside strings
    frame = b"Content-Length: %d\r\n\r\n" % len(pretty) + pretty
    assert FrameDecoder().feed(frame) == [pretty]


def test_oversize_frame_is_skipped_without_buffering_it():
    decoder = FrameDecoder(max_body=100)
    out = decoder.feed(b"Content-Length: 100000\r\n\r\n" + b"x" * 5000)
    assert out == [Oversize(100000)]
    for _ in range(19):
        assert decoder.feed(b"x" * 5000) == []
        assert len(decoder._buf) <= 64  # nothing of the big body is kept
    assert decoder.feed(_frame({"ok": True})) == [b'{"ok": true}']


def test_a_huge_declared_length_does_not_swallow_the_stream():
    decoder = FrameDecoder()
    out = decoder.feed(b"Content-Length: 99999999999999\r\n\r\n{}" + _frame(GOOD))
    assert out == [Oversize(99999999999999), json.dumps(GOOD).encode()]


def test_endless_junk_is_dropped_and_reported_once():
    decoder = FrameDecoder()
    out = decoder.feed(b"A" * 20000) + decoder.feed(b"B" * 20000)
    assert out == [BadFrame("data without a Content-Length header skipped")]
    assert len(decoder._buf) <= 64
    assert decoder.feed(b"\r\n" + _frame({"x": 1})) == [b'{"x": 1}']


def test_the_server_answers_every_bad_frame_and_keeps_serving(tmp_path):
    """Over stdio, the real server: each bad frame gets an error (-32700, or -32600 when oversize), and the
    next request on the same connection is answered."""
    import sys

    from codecustom_lsp.rpc_client import StdioClient

    client = StdioClient([sys.executable, "-m", "codecustom", "lsp", "--log-file", str(tmp_path / "lsp.log")],
                         env={"CODECUSTOM_HOME": str(tmp_path / "home")})
    try:
        client.initialize(tmp_path, options={"model": {"artifact": "none", "base": str(tmp_path / "no-model")}})
        frames = dict(BAD_FRAMES, **{"invalid json": b"Content-Length: 9\r\n\r\n{\"id\": 1,",
                                     "huge": b"Content-Length: 99999999999\r\n\r\n{}"})
        for kind, data in frames.items():
            errors_before = len(client.orphans)
            client.send_bytes(data)
            status = client.request("workspace/executeCommand", {"command": "codecustom.status"}, timeout=60)
            assert "state" in status, kind
            codes = {o["error"]["code"] for o in client.orphans[errors_before:]}
            assert codes and codes <= {-32700, -32600}, (kind, client.orphans[errors_before:])
        assert client.alive()
    finally:
        assert client.shutdown() == 0
