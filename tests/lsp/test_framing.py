"""Framing of the byte stream: bodies out, junk skipped, oversize frames skipped with bounded memory."""

import json

from codecustom_lsp.protocol import FrameDecoder, Oversize


def _frame(obj, header="Content-Length", eol=b"\r\n") -> bytes:
    body = json.dumps(obj).encode()
    return f"{header}: {len(body)}".encode() + eol + eol + body


def test_split_anywhere_and_case_insensitive_headers():
    stream = (_frame({"a": 1}) + _frame({"b": 2}, header="content-length", eol=b"\n")
              + b"Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n" + _frame({"c": "\u00e9"}))
    for step in (1, 3, 7, len(stream)):
        decoder = FrameDecoder()
        bodies = []
        for i in range(0, len(stream), step):
            bodies += decoder.feed(stream[i:i + step])
        assert [json.loads(b) for b in bodies] == [{"a": 1}, {"b": 2}, {"c": "\u00e9"}]


def test_junk_lines_and_bad_lengths_do_not_desync_the_stream():
    decoder = FrameDecoder()
    junk = b"hello world\r\nContent-Length: -4\r\nContent-Length: lots\r\n\r\n\r\n"
    assert decoder.feed(junk + _frame([1, 2])) == [b"[1, 2]"]
    assert decoder.junk_lines == 3


def test_oversize_frame_is_skipped_without_buffering_it():
    decoder = FrameDecoder(max_body=100)
    out = decoder.feed(b"Content-Length: 100000\r\n\r\n" + b"x" * 5000)
    assert out == [Oversize(100000)]
    for _ in range(19):
        assert decoder.feed(b"x" * 5000) == []
        assert len(decoder._buf) == 0  # nothing of the big body is kept
    assert decoder.feed(_frame({"ok": True})) == [b'{"ok": true}']


def test_endless_header_line_is_dropped():
    decoder = FrameDecoder()
    assert decoder.feed(b"A" * 20000) == []
    assert len(decoder._buf) == 0
    assert decoder.feed(b"\r\n" + _frame({"x": 1})) == [b'{"x": 1}']
