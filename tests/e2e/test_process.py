"""The server process: its stdout carries protocol frames only, it exits on `exit`, it survives its client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from tests.e2e.rpc import (
    did_open,
    frame,
    initialize,
    inline_request,
    notification,
    parse_frames,
    read_until_response,
    request,
    start_server,
)

URI = "file:///tmp/smallcoder-e2e/process.py"
FIB = "def fibonacci(n):\n    "


def test_stdout_carries_nothing_but_protocol_frames_and_exit_is_prompt():
    server = start_server()
    assert server.stdin is not None
    script = [
        initialize(1),
        notification("initialized", {}),
        did_open(URI, FIB),
        inline_request(2, URI, 1, 4),
        request(3, "completionItem/resolve", {"label": "x"}),  # not offered: an error, not a crash
        request(4, "smallcoder/status", {}),
    ]
    server.stdin.write(b"".join(frame(m) for m in script))
    server.stdin.flush()
    received = bytearray()
    read_until_response(server, 2, received)  # shutdown would cancel a request still pending
    read_until_response(server, 4, received)
    started = time.monotonic()
    stdout, _ = server.communicate(frame(request(5, "shutdown")) + frame(notification("exit")), timeout=60)
    assert time.monotonic() - started < 30  # a hang check, not a speed test
    messages, garbage = parse_frames(bytes(received) + stdout)
    assert garbage == b"", garbage[:200]
    responses = {m["id"]: m for m in messages if "id" in m and "method" not in m}
    assert responses[1]["result"]["capabilities"]["inlineCompletionProvider"] is not None
    assert responses[2]["result"]["items"], responses[2]
    assert "error" in responses[3]
    assert responses[4]["result"]["state"] in ("ready", "loading")
    assert server.returncode == 0


def test_the_log_level_in_the_initialization_options_holds_from_the_start():
    # VS Code sends its settings there; without a later didChangeConfiguration, `logLevel: debug` must still hold.
    server = subprocess.Popen(
        [sys.executable, "-m", "smallcoder_lsp", "serve"],  # no --log-level: that would override the settings
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert server.stdin is not None
    script = [initialize(1, {"logLevel": "debug"}), notification("initialized", {}), did_open(URI, FIB)]
    server.stdin.write(b"".join(frame(m) for m in [*script, inline_request(2, URI, 1, 4)]))
    server.stdin.flush()
    read_until_response(server, 2, bytearray())
    _, stderr = server.communicate(frame(request(3, "shutdown")) + frame(notification("exit")), timeout=60)
    assert b" DEBUG smallcoder_lsp.completion.engine: completion " in stderr, stderr[-2000:]


def test_exit_without_shutdown_exits_with_code_one():
    server = start_server()
    server.communicate(frame(initialize(1)) + frame(notification("exit")), timeout=60)
    assert server.returncode == 1


def test_client_that_disconnects_mid_request_does_not_leave_the_server_running():
    server = start_server()
    assert server.stdin is not None and server.stdout is not None
    big = "".join(f"def helper_{i}(x):\n    return x * {i}\n\n" for i in range(300)) + FIB
    for message in (initialize(1), notification("initialized", {}), did_open(URI, big), inline_request(2, URI, 900, 4)):
        server.stdin.write(frame(message))
    server.stdin.flush()
    time.sleep(0.3)
    server.stdin.close()
    server.stdout.close()
    assert server.wait(timeout=60) is not None


def test_tcp_binds_loopback_and_serves():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "smallcoder_lsp", "serve", "--tcp", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=60)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.1)
        with conn:
            conn.sendall(frame(initialize(1)))
            data = b""
            while not parse_frames(data)[0]:
                chunk = conn.recv(65536)
                assert chunk, "connection closed before the initialize response"
                data += chunk
        (message,) = parse_frames(data)[0][:1]
        assert json.dumps(message["result"]["serverInfo"]).count("smallcoder-lsp") == 1
    finally:
        server.kill()
        server.wait()
