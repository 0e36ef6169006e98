"""The minimal examples of what the fuzzers found, kept so that each stays fixed."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.peer import Peer, fake_replies
from tests.hardening.reference import RefDoc

REPLIES = fake_replies(Path(tempfile.gettempdir()) / "smallcoder-regression-replies.json")
URI = "file:///r/a.py"


@pytest.fixture
def peer():
    peer = Peer("--backend", "fake", "--model", str(REPLIES))
    yield peer
    peer.close()
    assert "Traceback" not in peer.final_stderr, peer.final_stderr[-3000:]
    assert not peer.garbage


def held(peer: Peer, uri: str = URI) -> dict[str, Any]:
    return peer.result("smallcoder/status", {"debug": True})["documents"][uri]


def change(peer: Peer, version: int, *changes: dict[str, Any]) -> None:
    params = {"textDocument": {"uri": URI, "version": version}, "contentChanges": list(changes)}
    peer.notify("textDocument/didChange", params)


def test_a_request_before_initialize_is_refused_with_server_not_initialized(peer: Peer):
    # pygls ran it (and validated its params first).
    assert peer.request("textDocument/inlineCompletion", {})["error"]["code"] == -32002


def test_a_request_after_shutdown_is_answered_with_invalid_request(peer: Peer):
    # pygls dropped it without an answer: the client waited forever.
    peer.initialize()
    assert peer.result("shutdown") is None
    assert peer.request("smallcoder/status", {}, timeout=5)["error"]["code"] == -32600


def test_a_second_initialize_or_initialized_does_not_load_the_model_again(peer: Peer):
    peer.initialize()
    peer.wait_ready()
    again = {"processId": None, "rootUri": None, "capabilities": {}}
    assert peer.request("initialize", again)["error"]["code"] == -32600
    peer.notify("initialized", {})
    assert peer.result("smallcoder/status")["state"] == "ready"
    loads = [m for m in peer.notifications("smallcoder/statusChanged") if m["params"]["state"] == "loading"]
    assert len(loads) == 1


def test_params_of_the_wrong_type_get_an_invalid_params_answer(peer: Peer):
    # pygls logged a traceback and never answered.
    peer.initialize()
    response = peer.request("textDocument/inlineCompletion", {"textDocument": [], "position": "x"}, timeout=5)
    assert response["error"]["code"] == -32602


def test_a_null_text_is_refused_not_inserted_as_the_word_none(peer: Peer):
    peer.initialize()
    peer.open(URI, "abc")
    change(peer, 2, {"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}, "text": None})
    assert held(peer)["version"] == 1  # the whole notification was refused
    assert held(peer)["sha256"] == RefDoc(1, "abc").digest


def test_an_inverted_range_replaces_what_it_spans(peer: Peer):
    peer.initialize()
    peer.open(URI, "hello world")
    rng = {"start": {"line": 0, "character": 11}, "end": {"line": 0, "character": 5}}
    change(peer, 2, {"range": rng, "text": "!"})
    assert held(peer)["sha256"] == RefDoc(2, "hello!").digest


def test_a_lone_cr_is_a_line_break_for_positions(peer: Peer):
    peer.initialize()
    peer.open(URI, "a\rb")
    change(peer, 2, {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 1}}, "text": "X"})
    assert held(peer)["sha256"] == RefDoc(2, "a\rX").digest
    assert held(peer)["lines"] == 2


def test_a_docstring_command_with_a_bad_position_is_refused_in_words(peer: Peer):
    # int("a") used to escape as an internal error with a traceback.
    peer.initialize()
    peer.open(URI, "def f(a):\n    return a\n")
    arguments = [{"uri": URI, "position": {"line": "a"}}]
    response = peer.request(
        "workspace/executeCommand", {"command": "smallcoder.generateDocstring", "arguments": arguments}
    )
    assert response["error"]["code"] == -32803 and "position" in response["error"]["message"]


def test_an_empty_object_is_an_invalid_request_not_a_popup(peer: Peer):
    # pygls logged AttributeError with a traceback and showed "Error in server" to the user.
    peer.initialize()
    peer.send_bytes(b"Content-Length: 2\r\n\r\n{}")
    assert "result" in peer.request("smallcoder/status", {})
    assert peer.shown() == []


def test_shutdown_with_the_load_progress_still_open_logs_no_traceback(peer: Peer):
    # pygls's progress callback re-raised the cancelled window/workDoneProgress/create request at shutdown.
    peer.answer_requests = False
    peer.initialize(capabilities={"window": {"workDoneProgress": True}})
    assert peer.result("shutdown") is None
    peer.notify("exit")
    assert peer.wait_exit(10) == 0
