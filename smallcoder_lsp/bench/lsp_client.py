"""A minimal JSON-RPC client that drives the real server over stdio, as an editor does.

It is deliberately small and raw (no pygls client): the bench needs exact send and arrival times, and to see a
crashed server as a failed future instead of a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from lsprotocol import types

SHUTDOWN_TIMEOUT = 10.0


class ServerGone(RuntimeError):
    """The server exited or closed its output while a request was open."""


def server_command(model: str | None = None, backend: str | None = None, threads: int | None = None) -> list[str]:
    command = [sys.executable, "-m", "smallcoder_lsp", "serve", "--stdio", "--log-level", "warning"]
    if model:
        command += ["--model", model]
    if backend:
        command += ["--backend", backend]
    if threads:
        command += ["--threads", str(threads)]
    return command


def frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode("utf-8")
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class LspClient:
    def __init__(self, command: list[str]) -> None:
        self.command = command
        self.proc: asyncio.subprocess.Process | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (kept open for the server's life; closed in close())
        self.gone_reason = ""
        self.closing = False

    # -- process ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,
        )
        self._reader = asyncio.create_task(self._read_loop())

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stderr_tail(self, limit: int = 600) -> str:
        self._stderr.seek(0, os.SEEK_END)
        size = self._stderr.tell()
        self._stderr.seek(max(0, size - limit))
        return self._stderr.read().decode("utf-8", "replace").strip()

    def peak_rss_bytes(self) -> int | None:
        """VmHWM of the server process (Linux), or None when it cannot be read."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, AssertionError):
            return None
        return None

    async def close(self) -> None:
        """Shut the server down politely, then by force; never leaves it running."""
        if self.proc is None:
            return
        self.closing = True
        if self.proc.returncode is None and not self.gone_reason:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.request("shutdown"), SHUTDOWN_TIMEOUT)
                self.notify("exit")
        try:
            await asyncio.wait_for(self.proc.wait(), SHUTDOWN_TIMEOUT)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._stderr.close()

    # -- messages ----------------------------------------------------------------------------------------------

    def _write(self, message: dict[str, Any]) -> None:
        if self.gone_reason or self.proc is None or self.proc.stdin is None:
            raise ServerGone(self.gone_reason or "the server is not running")
        self.proc.stdin.write(frame(message))

    def notify(self, method: str, params: Any = None) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def send(self, method: str, params: Any = None) -> tuple[int, asyncio.Future[Any]]:
        """Send a request; returns its id and a future for its result (or a RuntimeError for an error)."""
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        except ServerGone as exc:
            del self._pending[request_id]
            future.set_exception(exc)
        return request_id, future

    async def request(self, method: str, params: Any = None) -> Any:
        return await self.send(method, params)[1]

    def cancel(self, request_id: int) -> None:
        if request_id in self._pending:
            self.notify("$/cancelRequest", {"id": request_id})

    async def _read_loop(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        out = self.proc.stdout
        try:
            while True:
                length = 0
                while (line := await out.readline()) not in (b"\r\n", b"\n"):
                    if not line:
                        raise EOFError
                    name, _, value = line.decode("ascii").partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                self._dispatch(json.loads(await out.readexactly(length)))
        except (EOFError, asyncio.IncompleteReadError, ValueError) as exc:
            code = await self.proc.wait()
            reason = f"server exited (code {code}): {self.stderr_tail() or type(exc).__name__}"
            if not self.closing:
                self.gone_reason = reason
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ServerGone(reason))
            self._pending.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message:
            if "id" in message:  # a server-to-client request (progress, registrations): accept it
                self._write({"jsonrpc": "2.0", "id": message["id"], "result": None})
            return
        future = self._pending.pop(message.get("id", -1), None)
        if future is None or future.done():
            return
        if "error" in message:
            future.set_exception(RuntimeError(message["error"].get("message", "error")))
        else:
            future.set_result(message.get("result"))

    # -- the session -------------------------------------------------------------------------------------------

    async def initialize(self, options: dict[str, Any], timeout: float = 180.0) -> dict[str, Any]:
        """Initialize with ``options`` and wait until the model is loaded; returns the final status."""
        await self.request(
            "initialize",
            {"processId": os.getpid(), "rootUri": None, "capabilities": {}, "initializationOptions": options},
        )
        self.notify("initialized", {})
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            status: dict[str, Any] = await self.request("smallcoder/status")
            if status.get("state") != "loading" or loop.time() > end:
                return status
            await asyncio.sleep(0.1)

    def open(self, uri: str, text: str) -> None:
        item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": item})

    def change(self, uri: str, version: int, line: int, character: int, text: str) -> None:
        """Insert ``text`` at a position (an empty range), as a keystroke does."""
        at = {"line": line, "character": character}
        change = {"range": {"start": at, "end": at}, "text": text}
        self.notify(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]}
        )

    def replace(self, uri: str, version: int, text: str) -> None:
        """Replace the whole text of a document."""
        self.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
        )

    def close_document(self, uri: str) -> None:
        self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})

    def inline(self, uri: str, line: int, character: int, invoked: bool) -> tuple[int, asyncio.Future[Any]]:
        kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
        params = {
            "textDocument": {"uri": uri},
            "position": {"line": line, "character": character},
            "context": {"triggerKind": int(kind)},
        }
        return self.send("textDocument/inlineCompletion", params)
