"""Raw frame fuzzing: malformed headers, wrong Content-Lengths, bodies that are not JSON or not JSON-RPC,
truncated frames and a stdin closed mid-frame. The server either recovers (it answers the next good request) or
exits cleanly (exit code, one message on stderr, no traceback); stdout holds nothing but well-formed frames.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from tests.hardening.conftest import is_long
from tests.hardening.figures import record
from tests.hardening.peer import Peer, fake_replies, frame

REPLIES = fake_replies(Path(tempfile.gettempdir()) / "smallcoder-frames-replies.json")
STATUS = {"jsonrpc": "2.0", "id": 7, "method": "smallcoder/status", "params": {}}


def body(message: object) -> bytes:
    return json.dumps(message).encode()


def framed(data: bytes, length: int | None = None) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % (len(data) if length is None else length) + data


# Each is sent on its own, then a good request must be answered; (name, bytes, error code the server answers).
BAD_INPUT: list[tuple[str, bytes, int | None]] = [
    ("a line that is no header", b"hello there\r\n\r\n", -32600),
    ("a header without Content-Length", b"Content-Type: text/plain\r\n\r\n", -32600),
    ("Content-Length that is not a number", b"Content-Length: abc\r\n\r\n{}", -32600),
    ("a negative Content-Length", b"Content-Length: -5\r\n\r\n{}", -32600),
    ("a Content-Length of 100 GB", b"Content-Length: 99999999999\r\n\r\n{}", -32600),
    ("lower-case header, LF line ends", b"content-length: 2\n\n{}", -32600),
    ("a body that is not JSON", framed(b"{not json"), -32700),
    ("a body that is not UTF-8", framed(b'{"a": "\xff\xfe"}'), -32700),
    ("a JSON array", framed(b"[1, 2]"), -32600),
    ("a JSON number", framed(b"42"), -32600),
    ("an empty object", framed(b"{}"), -32600),
    ("no jsonrpc field", framed(body({"id": 3, "method": "smallcoder/status"})), -32600),
    ("jsonrpc 1.0", framed(body({"jsonrpc": "1.0", "id": 3, "method": "smallcoder/status"})), -32600),
    ("an id that is an object", framed(body({"jsonrpc": "2.0", "id": {}, "method": "x"})), -32600),
    ("a method that is a number", framed(body({"jsonrpc": "2.0", "id": 3, "method": 5})), -32600),
    ("a Content-Length too small", framed(body(STATUS), 10), -32700),
    ("garbage glued to the next header", b"}}garbage", None),
]


def assert_well_formed_and_quiet(peer: Peer) -> None:
    assert not peer.garbage, f"stdout holds something that is not a frame: {peer.garbage!r}"
    assert "Traceback" not in peer.stderr_text(), peer.stderr_text()[-3000:]


def test_the_server_recovers_from_each_bad_frame_in_turn():
    peer = Peer("--backend", "fake", "--model", str(REPLIES))
    try:
        peer.initialize()
        for i, (name, data, code) in enumerate(BAD_INPUT):
            before = len(peer.messages)
            peer.send_bytes(data)
            answer = peer.request("smallcoder/status", {}, timeout=10)
            assert "result" in answer, (name, answer)
            if code is not None:
                errors = [m for m in peer.messages[before:] if m.get("id") in (None, 3) and "error" in m]
                assert [e["error"]["code"] for e in errors] == [code], (name, errors)
            assert peer.alive(), (i, name)
        assert_well_formed_and_quiet(peer)
        assert peer.shown() == []  # bad bytes are the log's business, not the user's
    finally:
        peer.close()
    record("frames_fixed_cases", cases=len(BAD_INPUT), recovered=len(BAD_INPUT))


def test_a_content_length_too_large_is_recovered_when_the_next_frame_comes():
    peer = Peer("--backend", "fake", "--model", str(REPLIES))
    try:
        peer.initialize()
        first = body({"jsonrpc": "2.0", "id": 5, "method": "smallcoder/status", "params": {}})
        peer.send_bytes(framed(first, len(first) + 40) + frame(STATUS))
        assert "result" in peer.wait_response(5, 10)  # the overlong frame's own message is read too
        assert "result" in peer.wait_response(7, 10)
        assert_well_formed_and_quiet(peer)
    finally:
        peer.close()


@pytest.mark.parametrize(
    "tail",
    [b'Content-Length: 120\r\n\r\n{"jsonrpc": "2.0", "id": 9, ', b"Content-Len", b""],
    ids=["mid-body", "mid-header", "at-a-boundary"],
)
def test_stdin_closed_mid_frame_exits_cleanly(tail: bytes):
    peer = Peer("--backend", "fake", "--model", str(REPLIES))
    peer.initialize()
    peer.send_bytes(tail)
    assert peer.proc.stdin is not None
    peer.proc.stdin.close()
    code = peer.wait_exit(30)
    stderr = peer.stderr_text()
    peer.close()
    assert code == 1  # no shutdown came first (LSP)
    assert "closed the connection" in stderr
    assert "Traceback" not in stderr
    assert not peer.garbage


VALID_SESSION = [
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "rootUri": None, "capabilities": {}},
    },
    {"jsonrpc": "2.0", "method": "initialized", "params": {}},
    {
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {
            "textDocument": {"uri": "file:///f.py", "languageId": "python", "version": 1, "text": "def f(n):\n    "}
        },
    },
    {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "textDocument/inlineCompletion",
        "params": {
            "textDocument": {"uri": "file:///f.py"},
            "position": {"line": 1, "character": 4},
            "context": {"triggerKind": 1},
        },
    },
]
mutations = st.lists(
    st.tuples(st.sampled_from(["insert", "delete", "replace", "digit"]), st.integers(0, 10**6), st.binary(max_size=6)),
    min_size=1,
    max_size=4,
)
OUTCOMES = {"recovered": 0, "exited": 0}


def mutate(data: bytes, edits: list[tuple[str, int, bytes]]) -> bytes:
    out = bytearray(data)
    for kind, where, blob in edits:
        at = where % (len(out) + 1)
        if kind == "insert":
            out[at:at] = blob
        elif kind == "delete":
            del out[at : at + 1 + len(blob)]
        elif kind == "replace":
            out[at : at + len(blob)] = blob
        else:  # change a digit of a Content-Length
            digits = [i for i in range(len(out)) if 48 <= out[i] <= 57]
            if digits:
                out[digits[where % len(digits)]] = 48 + (where // 7) % 10
    return bytes(out)


@settings(max_examples=300 if is_long() else 12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=mutations)
def test_a_mutated_byte_stream_is_recovered_from_or_ends_in_a_clean_exit(edits):
    peer = Peer("--backend", "fake", "--model", str(REPLIES))
    try:
        peer.send_bytes(mutate(b"".join(frame(m) for m in VALID_SESSION), edits))
        for i in range(3):  # a few good requests, to resynchronise on
            peer.send({"jsonrpc": "2.0", "id": 100 + i, "method": "smallcoder/status", "params": {}})
        try:
            peer.wait_response(102, 5)
            OUTCOMES["recovered"] += 1
        except TimeoutError:  # it waits for the rest of a frame we never send: closing stdin must end it
            assert peer.proc.stdin is not None
            peer.proc.stdin.close()
            assert peer.wait_exit(30) in (0, 1)
            assert "closed the connection" in peer.stderr_text()
            OUTCOMES["exited"] += 1
        assert peer.alive() or peer.proc.returncode in (0, 1)
        assert_well_formed_and_quiet(peer)
    finally:
        peer.close()


def test_zz_report_mutations():
    record("frames_mutated", long=is_long(), **OUTCOMES)
