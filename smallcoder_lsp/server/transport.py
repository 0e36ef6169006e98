"""The byte stream under JSON-RPC: frames in, messages to the protocol, over stdio or one TCP connection.

pygls's reader assumes a well-behaved client: one malformed header and every later frame is read as part of a
header line (the server goes deaf); a huge Content-Length is allocated at once; invalid JSON logs a traceback and
gets no answer. This reader instead:
- finds each header by its blank line, takes Content-Length in any letter case, and skips what is not a header
  (resynchronising on the next ``Content-Length:``);
- answers a body that is not JSON with a Parse error and one that is not a JSON-RPC message with Invalid Request,
  as JSON-RPC says (id null when the id cannot be read);
- when a Content-Length was too large, takes the JSON value the body starts with and reads the rest again as the
  next frame; when it was too small, the leftover is skipped up to the next header;
- bounds what it buffers (a header, a body), and ends quietly when the client closes the stream, mid-frame or not.

On the way out, pygls's ``exit`` closes stdout and raises SystemExit; what asyncio still runs after that may send
(the model-ready notification from the loader thread, an answer to a request in flight). ``PipeWriter`` drops it
instead of failing on the closed pipe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, BinaryIO

from smallcoder_lsp.server.language_server import SmallcoderServer
from smallcoder_lsp.server.protocol import INVALID_REQUEST, SmallcoderProtocol

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 2**20
"""A larger Content-Length is refused (its bytes are skipped as garbage): no editor sends a 256 MB message."""
MAX_HEADER_BYTES = 64 * 2**10
PARSE_ERROR = -32700
READ_SIZE = 2**16

HEADER_END = re.compile(rb"\r?\n\r?\n")
CONTENT_LENGTH = re.compile(rb"content-length[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)
DECODER = json.JSONDecoder()


class FrameError(Exception):
    """A frame that could not be read; it was skipped, and reading goes on with the next."""

    def __init__(self, message: str, code: int = PARSE_ERROR) -> None:
        super().__init__(message)
        self.code = code


class StreamClosed(Exception):
    """The client closed the stream; ``mid_frame`` when it did so inside a frame."""

    def __init__(self, mid_frame: int = 0) -> None:
        super().__init__(f"{mid_frame} bytes of an unfinished frame" if mid_frame else "at a frame boundary")
        self.mid_frame = mid_frame


class PipeWriter:
    """pygls's writer for a stdout pipe that stays quiet once ``exit`` has closed it."""

    def __init__(self, stdout: BinaryIO) -> None:
        self._stdout = stdout
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self._stdout.close()

    def write(self, data: bytes) -> None:
        if self.closed:
            log.debug("after exit, dropped a message of %d bytes", len(data))
            return
        self._stdout.write(data)
        self._stdout.flush()


class FrameReader:
    """Messages from a stream of chunks (``read`` returns b"" at its end)."""

    def __init__(self, read: Callable[[], Awaitable[bytes]]) -> None:
        self._read = read
        self._buffer = bytearray()
        self.skipped = 0
        """Bytes thrown away because they were not part of any frame."""

    async def _fill(self) -> None:
        chunk = await self._read()
        if not chunk:
            raise StreamClosed(len(self._buffer) if self._buffer.strip() else 0)
        self._buffer.extend(chunk)

    async def next_message(self) -> Any:
        """The next frame's JSON value. Raises FrameError for a frame that is not JSON (after skipping it) and
        StreamClosed at the end of the stream."""
        length = await self._next_header()
        scanned = 0
        while len(self._buffer) < length:
            await self._fill()
            if len(self._buffer) < length and self._looks_overlong(scanned):
                break  # a following header is already inside this body: the Content-Length was too large
            scanned = max(0, len(self._buffer) - 32)
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        return self._decode(body)

    async def _next_header(self) -> int:
        """Consume the next header block; returns its Content-Length."""
        while True:
            match = HEADER_END.search(self._buffer)
            if match is None:
                if len(self._buffer) > MAX_HEADER_BYTES:
                    self._skip(len(self._buffer) - 32)  # keep a tail: it may be the start of a header
                await self._fill()
                continue
            block = bytes(self._buffer[: match.start()])
            del self._buffer[: match.end()]
            lengths = list(CONTENT_LENGTH.finditer(block))
            if not lengths:
                self.skipped += len(block)
                if block.strip():
                    raise FrameError("skipped a header without Content-Length", INVALID_REQUEST)
                continue  # stray blank lines between frames
            last = lengths[-1]
            if not _header_lines(block[: last.start()]):
                self.skipped += last.start()  # garbage before the header (e.g. the tail of a short body)
            value = last.group(1).strip()
            if not value.isdigit() or int(value) > MAX_BODY_BYTES:
                raise FrameError(f"skipped a frame with a bad Content-Length ({value[:40]!r})", INVALID_REQUEST)
            return int(value)

    def _skip(self, count: int) -> None:
        del self._buffer[:count]
        self.skipped += count

    def _looks_overlong(self, scanned: int) -> bool:
        """Whether a header came in after ``scanned`` and the body so far is a whole JSON value before it."""
        if CONTENT_LENGTH.search(self._buffer, scanned) is None:
            return False
        return _json_prefix(bytes(self._buffer)) is not None

    def _decode(self, body: bytes) -> Any:
        try:
            return json.loads(body)
        except ValueError:
            pass
        prefix = _json_prefix(body)
        if prefix is None:
            raise FrameError("the frame's body is not JSON")
        value, end = prefix
        self._buffer[:0] = body[end:]  # read again: the next frame starts in there
        log.warning("a frame's Content-Length was larger than its body; read the rest as the next frame")
        return value


def _header_lines(data: bytes) -> bool:
    """Whether ``data`` is made of ``Name: value`` header lines only (or nothing)."""
    return all(re.fullmatch(rb"[\w-]+[ \t]*:.*", line) for line in data.splitlines() if line.strip())


def _json_prefix(body: bytes) -> tuple[Any, int] | None:
    """The JSON value ``body`` starts with and the byte offset where it ends, if it starts with one and
    something other than whitespace follows."""
    try:
        text = body.decode("utf-8")
        value, end = DECODER.raw_decode(text, len(text) - len(text.lstrip()))
    except ValueError:
        return None
    rest = text[end:]
    if not rest.strip():
        return None
    return value, len(body) - len(rest.encode("utf-8"))


def dispatch(protocol: SmallcoderProtocol, data: Any) -> None:
    """Hand one decoded message to the protocol, or answer why it is not a JSON-RPC message."""
    if not isinstance(data, dict):
        raise FrameError(f"a JSON-RPC message is an object, not {type(data).__name__}", INVALID_REQUEST)
    msg_id = data.get("id")
    if msg_id is not None and (isinstance(msg_id, bool) or not isinstance(msg_id, (int, str))):
        raise FrameError(f"a message id is a number or a string, not {msg_id!r:.40}", INVALID_REQUEST)
    method = data.get("method")
    is_request = "id" in data and method is not None
    if data.get("jsonrpc") != "2.0" or (method is not None and not isinstance(method, str)):
        if is_request:
            protocol.send_error(msg_id, INVALID_REQUEST, "not a JSON-RPC 2.0 request")
            return
        raise FrameError("not a JSON-RPC 2.0 message", INVALID_REQUEST)
    protocol.receive(data)


async def run_frames(protocol: SmallcoderProtocol, reader: FrameReader) -> None:
    """Read and dispatch messages until the client closes the stream."""
    told_skipped = 0
    while True:
        try:
            data = await reader.next_message()
            dispatch(protocol, data)
        except FrameError as exc:
            log.warning("bad input from the client: %s", exc)
            protocol.send_error(None, exc.code, str(exc))
        except StreamClosed as exc:
            if exc.mid_frame:
                log.warning("the client closed the connection in the middle of a frame; exiting")
            else:
                log.info("the client closed the connection; exiting")
            return
        if reader.skipped > told_skipped:
            log.warning("skipped %d bytes that were not part of a frame", reader.skipped - told_skipped)
            told_skipped = reader.skipped


def quiet_disconnects(loop: asyncio.AbstractEventLoop, stop: Callable[[], None]) -> None:
    """A write to a client that is gone fails in a callback: one log line and a stop, not a traceback each."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), (BrokenPipeError, ConnectionResetError)):
            log.warning("the client is gone (%s); exiting", type(context["exception"]).__name__)
            stop()
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def pump(fd: int, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes]) -> None:
    """On its own (daemon) thread: blocking reads from ``fd`` into ``queue``; b"" at the end."""
    while True:
        try:
            chunk = os.read(fd, READ_SIZE)
        except OSError:
            chunk = b""
        try:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
        except RuntimeError:  # the loop is closed: the server is exiting
            return
        if not chunk:
            return


def serve_stdio(server: SmallcoderServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    """Serve one client over a pair of pipes until it exits or closes them."""
    server.protocol.set_writer(PipeWriter(stdout))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        reading = asyncio.current_task()
        assert reading is not None

        def stop() -> None:
            reading.cancel()

        quiet_disconnects(loop, stop)
        threading.Thread(target=pump, args=(stdin.fileno(), loop, queue), name="stdin", daemon=True).start()
        await run_frames(server.protocol, FrameReader(queue.get))

    _run(server, main)


def serve_tcp(server: SmallcoderServer, host: str, port: int) -> None:
    """Listen on ``host:port`` and serve the first client that connects, until it exits or disconnects.
    A second client while the first is connected is turned away: there is one session."""

    async def main() -> None:
        done = asyncio.Event()
        busy = False

        async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal busy
            if busy:
                peer = writer.get_extra_info("peername")
                log.warning("refused a second connection from %s: one client at a time", peer)
                writer.close()
                return
            busy = True
            server.protocol.set_writer(writer)
            try:
                await run_frames(server.protocol, FrameReader(lambda: reader.read(READ_SIZE)))
            finally:
                done.set()

        listener = await asyncio.start_server(session, host, port)
        quiet_disconnects(asyncio.get_running_loop(), done.set)
        addresses = ", ".join(str(s.getsockname()) for s in listener.sockets)
        log.info("listening on %s", addresses)
        async with listener:
            await done.wait()

    _run(server, main)


def _run(server: SmallcoderServer, main: Callable[[], Coroutine[Any, Any, None]]) -> None:
    try:
        asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit, BrokenPipeError, ConnectionResetError):
        pass  # `exit` raises SystemExit; a vanished client ends the session the same way
    finally:
        server.shutdown()
