"""The typing replay's pause bookkeeping, against stand-in servers that answer after a fixed delay."""

from __future__ import annotations

import asyncio
import sys
import textwrap
import time

import pytest

from smallcoder_lsp.bench.metrics import NEVER, typing_summary
from smallcoder_lsp.bench.pauses import PauseModel
from smallcoder_lsp.bench.records import StageResult
from smallcoder_lsp.bench.replay import Typist
from smallcoder_lsp.bench.stages import Plan, run_stage
from smallcoder_lsp.bench.trace import TypingSession

# A stand-in server: it answers each inline request after DELAY seconds with the suggestion TEXT (after the line
# as typed so far), or at once with an error when the client cancels it first.
STAND_IN = textwrap.dedent(
    """
    import json, sys, threading
    DELAY, TEXT = float(sys.argv[1]), sys.argv[2]
    lock, open_requests = threading.Lock(), {}
    def send(msg):
        body = json.dumps(msg).encode()
        with lock:
            sys.stdout.buffer.write(b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)
            sys.stdout.buffer.flush()
    def answer(msg_id, line_start):
        with lock:
            if open_requests.pop(msg_id, None) is None:
                return
        items = [{"insertText": line_start + TEXT}] if TEXT else []
        send({"jsonrpc": "2.0", "id": msg_id, "result": {"items": items}})
    text = ""
    while True:
        length = 0
        while (line := sys.stdin.buffer.readline()) not in (b"\\r\\n", b""):
            if line.lower().startswith(b"content-length"):
                length = int(line.split(b":")[1])
        if not length:
            break
        msg = json.loads(sys.stdin.buffer.read(length))
        method = msg.get("method")
        if method == "textDocument/didOpen":
            text = msg["params"]["textDocument"]["text"]
        elif method == "textDocument/didChange":  # one insertion at a position, as the replay sends (ASCII)
            change = msg["params"]["contentChanges"][0]
            at = change["range"]["start"]
            lines = text.split("\\n")
            offset = sum(len(l) + 1 for l in lines[: at["line"]]) + at["character"]
            text = text[:offset] + change["text"] + text[offset:]
        elif method == "textDocument/inlineCompletion":
            at = msg["params"]["position"]
            line_start = text.split("\\n")[at["line"]][: at["character"]]
            with lock:
                open_requests[msg["id"]] = True
            threading.Timer(DELAY, answer, (msg["id"], line_start)).start()
        elif method == "$/cancelRequest":
            with lock:
                cancelled = open_requests.pop(msg["params"]["id"], None)
            if cancelled:
                send({"jsonrpc": "2.0", "id": msg["params"]["id"], "error": {"code": -32800, "message": "cancelled"}})
        elif method == "smallcoder/status":
            send({"jsonrpc": "2.0", "id": msg["id"], "result": {"state": "ready", "model": "stand-in"}})
        elif method == "exit":
            break
        elif "id" in msg:
            result = {"capabilities": {}} if method == "initialize" else None
            send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
    """
)
# One line: a pause at its start (after the indentation key), and after each boundary character (probability 1).
SESSION = TypingSession("t:f", "def f():\n", "    ab = cd(x)", "\n", "stdlib")
PAUSES = PauseModel(key_s=0.05, pause_s=1.0, boundary_probability=1.0)
# The stand-in's delays keep wide margins to the key pace and the pause: these tests check bookkeeping, not speed.


def replay(tmp_path, delay: float, text: str):
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)
    plan = Plan(PAUSES, (), (SESSION,), command=(sys.executable, str(script), str(delay), text))
    stage = asyncio.run(run_stage(StageResult("typing", "auto"), plan))
    assert stage.ok, stage.reason
    return stage.requests


def test_answers_slower_than_the_typing_pace_are_seen_only_at_pauses(tmp_path):
    records = replay(tmp_path, 0.3, "zz")
    pauses = [r for r in records if r.pause_s > 0]
    assert len(pauses) == len(PAUSES.pause_offsets(SESSION.name, SESSION.body)) >= 3
    assert all(r.shown for r in pauses) and not any(r.shown for r in records if r.pause_s == 0)
    assert all(r.cancelled and r.answered_s is None for r in records[:-1] if r.pause_s == 0)
    s = typing_summary(records, len(SESSION.body))
    assert s["shown_at_pause"] == 1.0 and s["shown_before_next_key"] == 0.0
    assert s["pause_ms"]["p50"] >= 300 and s["pause_ms"]["p90"] != NEVER  # measured from the last keystroke
    assert s["right_at_pause"] == 0.0 and s["chars_saved"] == 0


def test_an_empty_answer_at_once_never_counts_as_shown(tmp_path):
    records = replay(tmp_path, 0.0, "")
    s = typing_summary(records, len(SESSION.body))
    assert s["answered_before_next_key"] == pytest.approx(1.0)  # every key answered in time, but with nothing
    assert s["shown_at_pause"] == 0.0 and s["shown_before_next_key"] == 0.0
    assert s["pause_ms"] == {"p50": NEVER, "p90": NEVER}


def test_a_right_suggestion_at_a_pause_is_accepted_in_place_of_the_next_keys(tmp_path):
    # The stand-in always offers the whole true line: right at the first pause, after which nothing is left.
    records = replay(tmp_path, 0.1, "ab = cd(x)")
    first_pause = next(r for r in records if r.pause_s > 0)
    assert first_pause.right and first_pause.accepted_chars == len("ab = cd(x)")
    s = typing_summary(records, len(SESSION.body))
    assert s["chars_saved"] == len("ab = cd(x)") and s["right_at_pause"] == 1.0


class Notes:
    """Records the notifications a replay sends, with when."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, str, object]] = []

    def notify(self, method: str, params: object) -> None:
        self.sent.append((time.monotonic(), method, params))


def test_a_session_begins_with_the_cursor_resting_where_it_starts():
    client, pauses = Notes(), PauseModel(reach_s=0.2, rest_s=0.1)
    start = time.monotonic()
    asyncio.run(Typist(client, pauses, time.monotonic).reach("file:///a.py", "def f():\n    \n", 13))  # type: ignore[arg-type]
    assert time.monotonic() - start >= 0.2  # the first key comes no sooner
    [(at, method, params)] = client.sent
    assert at - start >= 0.1  # said once the cursor has rested, as our editor clients do
    assert method == "smallcoder/warm"
    assert params == {"textDocument": {"uri": "file:///a.py"}, "position": {"line": 1, "character": 4}}


def test_with_no_reach_the_first_key_comes_with_the_opening_and_nothing_is_said():
    client = Notes()
    asyncio.run(Typist(client, PauseModel(reach_s=0.0), time.monotonic).reach("file:///a.py", "x", 0))  # type: ignore[arg-type]
    assert client.sent == []
