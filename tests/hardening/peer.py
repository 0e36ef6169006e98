"""A raw JSON-RPC client for the hardening tests: it keeps every byte the server wrote, checks each frame strictly,
answers the server's own requests, and can send bytes that are not frames at all."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SERVE = [sys.executable, "-m", "smallcoder_lsp", "serve"]
FRAME_HEAD = re.compile(rb"Content-Length: (\d+)\r\n(?:Content-Type: [^\r\n]*\r\n)?\r\n")


class ServerGone(AssertionError):
    pass


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def fake_replies(path: Path, replies: dict[str, str] | None = None) -> Path:
    path.write_text(json.dumps(replies or {"def f(n):\n    ": "return n + 1\n", "    ": "pass\n"}))
    return path


class Peer:
    """The server in a subprocess, seen from its client."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        self.stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            [*SERVE, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            env=env,
            cwd=cwd,
        )
        self.ids = itertools.count(1000)
        self.final_stderr = ""
        self.raw = bytearray()
        self.garbage = b""
        """Bytes on stdout that are not a well-formed frame (must stay empty)."""
        self.messages: list[dict[str, Any]] = []
        self.responses: dict[Any, dict[str, Any]] = {}
        self.apply_edits = False
        self.answer_requests = True
        """False: leave the server's own requests unanswered (an editor busy elsewhere)."""
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -- reading -----------------------------------------------------------------------------------------------

    def _read(self) -> None:
        assert self.proc.stdout is not None
        buffer = b""
        while chunk := self.proc.stdout.read1(1 << 16):  # type: ignore[attr-defined]
            with self._cv:
                self.raw.extend(chunk)
            buffer += chunk
            buffer = self._take_frames(buffer)
        with self._cv:
            if buffer and not self.garbage:
                self.garbage = buffer[:200]
            self._cv.notify_all()

    def _take_frames(self, buffer: bytes) -> bytes:
        while buffer and not self.garbage:
            head = FRAME_HEAD.match(buffer)
            if head is None:
                if len(buffer) > 200 or not b"Content-Length: ".startswith(buffer[:16]):
                    with self._cv:
                        self.garbage = buffer[:200]
                return buffer
            end = head.end() + int(head.group(1))
            if len(buffer) < end:
                return buffer
            try:
                message = json.loads(buffer[head.end() : end])
            except ValueError:
                with self._cv:
                    self.garbage = buffer[:200]
                return buffer
            buffer = buffer[end:]
            self._received(message)
        return buffer

    def _received(self, message: dict[str, Any]) -> None:
        with self._cv:
            self.messages.append(message)
            if "method" not in message:
                self.responses[message.get("id")] = message
            self._cv.notify_all()
        if "method" in message and "id" in message and self.answer_requests:  # answer as a quiet editor would
            result: Any = None
            if message["method"] == "workspace/applyEdit":
                result = {"applied": self.apply_edits, "failureReason": None if self.apply_edits else "a test"}
            elif message["method"] == "workspace/configuration":
                result = [None for _ in (message.get("params") or {}).get("items", [])]
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": result})

    # -- writing -----------------------------------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise ServerGone(f"cannot write to the server: {exc}; stderr: {self.stderr_tail()}") from exc

    def send(self, message: dict[str, Any]) -> None:
        self.send_bytes(frame(message))

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request_async(self, method: str, params: Any = None) -> int:
        msg_id = next(self.ids)
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        return msg_id

    def wait_response(self, msg_id: Any, timeout: float) -> dict[str, Any]:
        end = time.monotonic() + timeout
        with self._cv:
            while msg_id not in self.responses:
                left = end - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no answer to request {msg_id} within {timeout} s")
                if self.proc.poll() is not None and not self._reader.is_alive():
                    raise ServerGone(f"the server exited ({self.proc.returncode}): {self.stderr_tail()}")
                self._cv.wait(min(left, 0.2))
            return self.responses[msg_id]

    def request(self, method: str, params: Any = None, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_response(self.request_async(method, params), timeout)

    def result(self, method: str, params: Any = None, timeout: float = 30.0) -> Any:
        response = self.request(method, params, timeout)
        assert "error" not in response, response
        return response["result"]

    # -- a session ---------------------------------------------------------------------------------------------

    def initialize(self, options: dict[str, Any] | None = None, capabilities: dict[str, Any] | None = None) -> Any:
        params = {
            "processId": os.getpid(),
            "rootUri": None,
            "capabilities": capabilities or {},
            "initializationOptions": options or {},
        }
        result = self.result("initialize", params)
        self.notify("initialized", {})
        return result

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while True:
            status = self.result("smallcoder/status", {})
            if status["state"] != "loading" or time.monotonic() > end:
                return status
            time.sleep(0.05)

    def open(self, uri: str, text: str, version: int = 1, language: str = "python") -> None:
        item = {"uri": uri, "languageId": language, "version": version, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def inline(self, uri: str, line: int, character: int, invoked: bool = True) -> int:
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "context": {"triggerKind": 1 if invoked else 2},
        }
        return self.request_async("textDocument/inlineCompletion", params)

    def notifications(self, method: str) -> list[dict[str, Any]]:
        with self._cv:
            return [m for m in self.messages if m.get("method") == method and "id" not in m]

    def shown(self) -> list[str]:
        """What window/showMessage showed the user."""
        return [m["params"]["message"] for m in self.notifications("window/showMessage")]

    # -- the process -------------------------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def stderr_tail(self, limit: int = 2000) -> str:
        return self.stderr_text()[-limit:]

    def wait_exit(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    def close(self) -> int | None:
        """Shut the server down politely, then by force. Returns its exit code."""
        if self.alive():
            try:
                self.request("shutdown", None, timeout=10)
                self.notify("exit")
                self.proc.wait(10)
            except (TimeoutError, ServerGone, subprocess.TimeoutExpired):
                pass
        if self.alive():
            self.proc.kill()
        code = self.proc.wait()
        self._reader.join(5)
        self.final_stderr = self.stderr_text()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self.stderr_file.close()
        return code


def read_response(conn: socket.socket, msg_id: int, timeout: float = 60.0) -> dict[str, Any]:
    """Read frames from a TCP connection until the response to ``msg_id``; other messages are skipped."""
    conn.settimeout(timeout)
    data = b""
    while True:
        head = FRAME_HEAD.match(data)
        if head is not None and len(data) >= head.end() + int(head.group(1)):
            end = head.end() + int(head.group(1))
            message, data = json.loads(data[head.end() : end]), data[end:]
            if message.get("id") == msg_id and "method" not in message:
                return message
            continue
        chunk = conn.recv(1 << 16)
        if not chunk:
            raise ServerGone("the connection closed before the response")
        data += chunk
