"""A raw JSON-RPC peer over a subprocess's pipes, for tests about the byte stream itself."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from tests.e2e.clients import SERVER_COMMAND


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def parse_frames(data: bytes) -> tuple[list[dict[str, Any]], bytes]:
    """Split a byte stream into JSON-RPC messages; returns them and whatever bytes are not a frame."""
    messages = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep or not head.startswith(b"Content-Length: "):
            return messages, data
        headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        length = int(headers[b"Content-Length"])
        if len(rest) < length:
            return messages, data
        messages.append(json.loads(rest[:length]))
        data = rest[length:]
    return messages, b""


def read_until_response(server: subprocess.Popen[bytes], request_id: int, buffer: bytearray) -> None:
    """Read stdout into ``buffer`` until the response to ``request_id`` is in it."""
    assert server.stdout is not None
    while not any(m.get("id") == request_id and "method" not in m for m in parse_frames(bytes(buffer))[0]):
        chunk = server.stdout.read1(65536)  # type: ignore[attr-defined]
        assert chunk, "the server closed stdout before answering"
        buffer.extend(chunk)


def start_server(*extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [*SERVER_COMMAND, *extra], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )


def initialize(request_id: int = 1, options: dict[str, Any] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"processId": None, "rootUri": None, "capabilities": {}}
    if options is not None:
        params["initializationOptions"] = options
    return {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": params}


def notification(method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": method, "params": params}


def request(request_id: int, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}


def did_open(uri: str, text: str) -> dict[str, Any]:
    item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
    return notification("textDocument/didOpen", {"textDocument": item})


def inline_request(request_id: int, uri: str, line: int, character: int) -> dict[str, Any]:
    params = {
        "textDocument": {"uri": uri},
        "position": {"line": line, "character": character},
        "context": {"triggerKind": 1},
    }
    return request(request_id, "textDocument/inlineCompletion", params)
