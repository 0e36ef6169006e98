"""No network at run time: a whole session with the real embedded model (serving, completions, docstrings) runs
under an audit hook that refuses every socket but a ``--tcp`` listener on loopback; and ``--tcp`` refuses an
address other machines can reach unless ``--allow-remote`` is given."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.hardening.figures import record
from tests.hardening.peer import SERVE, Peer, frame, read_response

AUDIT = Path(__file__).parent / "audit"
ROOT = Path(__file__).resolve().parents[2]
URI = "file:///offline/shapes.py"
TEXT = (
    "import math\n\n\ndef area(radius, scale=1.0):\n    return math.pi * radius**2 * scale\n\n\ndef fibonacci(n):\n    "
)


def audited_env(log: Path, listen: bool = False) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(AUDIT), str(ROOT), env.get("PYTHONPATH", "")])
    env["SMALLCODER_AUDIT_LOG"] = str(log)
    env["SMALLCODER_AUDIT_LISTEN"] = "1" if listen else "0"
    return env


def audit_records(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_hook_does_refuse_network_use(tmp_path: Path):
    """The hook itself: a connection attempt fails before any name is looked up, and is logged."""
    log = tmp_path / "audit.jsonl"
    probe = (
        "import socket\ntry:\n    socket.create_connection(('example.com', 80), timeout=1)\n"
        "except OSError as e:\n    print(e)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=audited_env(log), capture_output=True, text=True, timeout=60
    )
    assert "refused by the no-network audit hook" in done.stdout
    assert [r["kind"] for r in audit_records(log)] == ["installed", "violation"]


@pytest.mark.model
def test_a_whole_session_uses_no_network(tmp_path: Path):
    log = tmp_path / "audit.jsonl"
    peer = Peer(env=audited_env(log))
    try:
        peer.initialize({"completion": {"timeoutMs": 60_000}}, {"workspace": {"applyEdit": True}})
        assert peer.wait_ready()["state"] == "ready"
        peer.open(URI, TEXT)
        end = {"line": TEXT.count("\n"), "character": 4}
        inline = peer.result(
            "textDocument/inlineCompletion",
            {"textDocument": {"uri": URI}, "position": end, "context": {"triggerKind": 1}},
            120,
        )
        assert inline["items"]
        items = peer.result("textDocument/completion", {"textDocument": {"uri": URI}, "position": end}, 120)
        assert items["items"]
        at_area = {"line": 3, "character": 5}
        done = peer.result(
            "workspace/executeCommand",
            {"command": "smallcoder.generateDocstring", "arguments": [{"uri": URI, "position": at_area}]},
            180,
        )
        assert '"""' in done["docstring"]
        rng = {"start": at_area, "end": at_area}
        actions = peer.result(
            "textDocument/codeAction", {"textDocument": {"uri": URI}, "range": rng, "context": {"diagnostics": []}}
        )
        assert actions and peer.result("codeAction/resolve", actions[0], 180)["edit"]
        assert peer.result("smallcoder/status")["state"] == "ready"
    finally:
        code = peer.close()
    records = audit_records(log)
    violations = [r for r in records if r["kind"] == "violation"]
    record(
        "no_network",
        transport="stdio",
        violations=len(violations),
        inet_sockets=sum(r["kind"] == "socket" for r in records),
    )
    assert records and records[0]["kind"] == "installed"
    assert violations == []
    assert code == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def connect(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=60)
        except ConnectionRefusedError:
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.1)


def test_a_tcp_session_listens_on_loopback_only(tmp_path: Path):
    log, port = tmp_path / "audit.jsonl", free_port()
    replies = tmp_path / "replies.json"
    replies.write_text('{"": "x = 1\\n"}')
    command = [*SERVE, "--tcp", "--port", str(port), "--backend", "fake", "--model", str(replies)]
    server = subprocess.Popen(command, env=audited_env(log, listen=True), stderr=subprocess.PIPE, text=True)
    try:
        with connect(port, time.monotonic() + 60) as conn:
            conn.sendall(
                frame(
                    {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "initialize",
                        "params": {"processId": None, "capabilities": {}},
                    }
                )
            )
            assert "capabilities" in read_response(conn, 1)["result"]
            conn.sendall(frame({"jsonrpc": "2.0", "method": "initialized", "params": {}}))
            conn.sendall(frame({"jsonrpc": "2.0", "id": 2, "method": "smallcoder/status", "params": {}}))
            assert "state" in read_response(conn, 2)["result"]
            conn.sendall(frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown", "params": None}))
            read_response(conn, 3)
            conn.sendall(frame({"jsonrpc": "2.0", "method": "exit", "params": None}))
        assert server.wait(30) == 0
    finally:
        server.kill()
        server.wait()
    records = audit_records(log)
    violations = [r for r in records if r["kind"] == "violation"]
    listeners = [r for r in records if r["kind"] == "listener"]
    record("no_network", transport="tcp", violations=len(violations), listeners=[r["detail"] for r in listeners])
    assert violations == []
    assert listeners and all("127.0.0.1" in r["detail"] for r in listeners)


def test_tcp_refuses_an_address_other_machines_can_reach_without_allow_remote():
    done = subprocess.run(
        [*SERVE, "--tcp", "--host", "0.0.0.0", "--port", str(free_port())], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "--allow-remote" in done.stderr


def test_allow_remote_listens_with_a_warning(tmp_path: Path):
    port = free_port()
    replies = tmp_path / "replies.json"
    replies.write_text("{}")
    command = [
        *SERVE,
        "--tcp",
        "--host",
        "0.0.0.0",
        "--port",
        str(port),
        "--allow-remote",
        "--backend",
        "fake",
        "--model",
        str(replies),
    ]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    try:
        connect(port, time.monotonic() + 60).close()
    finally:
        server.kill()
        _, stderr = server.communicate(timeout=30)
    assert "other machines can reach" in stderr and "no authentication" in stderr
