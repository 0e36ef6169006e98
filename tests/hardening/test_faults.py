"""Injected faults, through the test-only ``faults`` backend around the real embedded model (llama.cpp): the
backend raises mid-prefill and mid-decoding, runs out of memory, breaks for good, hangs past the watchdog; and a
remote server is killed mid-stream. Each time the user gets at most one message, the next request works, the
model is reloaded when it must be, and no document state is lost.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from smallcoder_lsp.models.files import resolve_model_path
from tests.hardening.figures import record
from tests.hardening.peer import Peer
from tests.hardening.reference import RefDoc

URI = "file:///faults/fib.py"
# Long enough that a cold prompt takes several prefill chunks (64 tokens each).
TEXT = (
    "".join(f"def helper_{i}(value):\n    return value * {i} + 1\n\n\n" for i in range(12)) + "def fibonacci(n):\n    "
)
# No warm-ups and no prefetch: an armed fault meets the request itself, not a guess before or after it.
OPTIONS: dict[str, Any] = {"kvStatesMb": 0, "completion": {"prefetch": False, "timeoutMs": 60_000}}


SCENARIOS: list[tuple[str, dict[str, Any], str]] = [
    ("raise mid-prefill", {"at": "prefill", "after": 1, "kind": "raise"}, "was reset"),
    ("raise mid-decoding", {"at": "decoding", "after": 3, "kind": "raise"}, "was reset"),
    ("out of memory", {"at": "prefill", "after": 1, "kind": "oom"}, "MemoryError"),
    ("broken for good", {"at": "decoding", "after": 2, "kind": "broken"}, "loaded again"),
    ("hang past the watchdog", {"at": "decoding", "after": 2, "kind": "hang", "seconds": 300}, "stopped answering"),
]
TIMES = [2, 1, 1, 1, 1]
"""How many requests in a row meet each fault: the first twice, to show a second failure adds no message."""


def plan(tmp_path: Path) -> Path:
    """Each scenario's fault (``TIMES`` over), each under its own arm file."""
    faults = []
    for i, (_, fault, _) in enumerate(SCENARIOS):
        faults += [{**fault, "arm": str(tmp_path / f"arm-{i}")}] * TIMES[i]
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"inner": "llama_cpp", "model": str(resolve_model_path("")), "faults": faults}))
    return path


def complete(peer: Peer, doc: RefDoc | None = None) -> list[dict[str, Any]]:
    """An invoked request at the end of the document; with ``doc``, first a new line on top of it, so that no
    earlier suggestion answers the request and its prompt is cold from the first line on."""
    if doc is not None:
        doc.version += 1
        top = {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}}
        change = {"range": top, "text": f"# request {doc.version}\n"}
        peer.notify(
            "textDocument/didChange", {"textDocument": {"uri": URI, "version": doc.version}, "contentChanges": [change]}
        )
        doc.replace(top, change["text"])
    line = (doc.text if doc else TEXT).count("\n")
    response = peer.wait_response(peer.inline(URI, line, 4), 120)
    assert "result" in response, response
    return response["result"]["items"]


def held(peer: Peer) -> dict[str, Any]:
    return peer.result("smallcoder/status", {"debug": True})["documents"][URI]


@pytest.mark.model
def test_each_fault_is_put_right_the_user_told_once_and_the_next_request_works(tmp_path: Path):
    """One session meets every fault in turn, then a request that works; one message per fault."""
    peer = Peer("--backend", "faults", "--model", str(plan(tmp_path)))
    # A prefill chunk takes seconds on a busy 2-core machine: the watchdog's limit must not catch those.
    peer.initialize({**OPTIONS, "backendHangMs": 5_000})
    assert peer.wait_ready()["state"] == "ready"
    peer.open(URI, TEXT)
    doc = RefDoc(1, TEXT)
    try:
        for i, (name, _, told) in enumerate(SCENARIOS):
            messages, arm = len(peer.shown()), tmp_path / f"arm-{i}"
            for _ in range(TIMES[i]):
                arm.touch()
                assert complete(peer, doc) == [], name
                assert not arm.exists(), f"{name}: the fault did not fire"
            assert complete(peer, doc), f"{name}: the request after the failures got nothing"
            new = peer.shown()[messages:]
            assert len(new) == 1 and told in new[0], (name, new)
            assert held(peer) == {"version": doc.version, "sha256": doc.digest, "lines": len(doc.lines)}, name
            worker = peer.result("smallcoder/status")["worker"]
            record("fault", fault=name, messages=len(new), told=new[0], next_request="served", worker=worker)
        assert worker["recoveries"] == 5 and worker["hangs"] == 1 and worker["threads"] == 2
    finally:
        peer.close()
    assert "Traceback" not in peer.final_stderr, peer.final_stderr[-3000:]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stand_in_server(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hardening.sse_server", str(port)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "listening"
    return proc


def test_a_remote_server_killed_mid_stream(tmp_path: Path):
    port = free_port()
    remote = stand_in_server(port)
    options = {"backend": "remote", "remoteUrl": f"http://127.0.0.1:{port}", "completion": {"timeoutMs": 60_000}}
    peer = Peer()
    try:
        peer.initialize(options)
        assert peer.wait_ready()["state"] == "ready"
        peer.open(URI, TEXT)
        request = peer.inline(URI, TEXT.count("\n"), 4)
        assert remote.stdout is not None and remote.stdout.readline().strip() == "streaming"
        remote.kill()
        remote.wait()
        assert "result" in peer.wait_response(request, 60)  # answered (empty, or what had come), not hung
        remote = stand_in_server(port)
        items = complete(peer)
        assert items and "total = n + 1" in items[0]["insertText"], items
        assert len(peer.shown()) <= 1, peer.shown()
        assert peer.alive()
    finally:
        peer.close()
        remote.kill()
        remote.wait()
    assert "Traceback" not in peer.final_stderr
    record("fault", fault="remote server killed mid-stream", messages=len(peer.shown()), next_request="served")
