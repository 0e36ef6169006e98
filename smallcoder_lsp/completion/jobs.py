"""Jobs on the model worker, the requests waiting on them, and who cancels what.

- One decode per document. A newer request that does not agree with it cancels it (it stops between two tokens
  or prefill chunks: the newer prompt mostly shares the chunk it was evaluating); a request for another document
  cancels it too, as the user has moved on, and there it is interrupted mid-chunk (``cancel(interrupt=True)``):
  nothing will continue that chunk, so the new request need not wait for it.
- One held request per document. A newer request for the same document answers the older one at once, empty.
- Guesses (warm-ups) are cancelled and interrupted by any real request. A prefetch is a decode nobody asked for
  yet: a request that agrees with it is answered from it, one that does not cancels and interrupts it.
- Claims: step-wise generations (docstrings) under a key; a newer one under the same key cancels the older.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from smallcoder_lsp.completion.result import Completion
from smallcoder_lsp.completion.suggestions import Suggestion
from smallcoder_lsp.context.extract import CompletionContext
from smallcoder_lsp.decode.cancel import CancelToken


@dataclass(eq=False)
class Job:
    """A decode on the worker, and the suggestion it is writing (its text grows as tokens come)."""

    uri: str
    live: Suggestion
    ctx: CompletionContext
    invoked: bool
    loop: asyncio.AbstractEventLoop
    prefetched: bool = False
    """Started before any request asked for it (see :mod:`.guesses`); it does not prefetch in turn."""
    cancel: CancelToken = field(default_factory=CancelToken)
    started: float = field(default_factory=time.perf_counter)
    future: Future[Completion] | None = field(default=None, repr=False)
    _lines: int = 0
    _waiters: list[asyncio.Future[None]] = field(default_factory=list, repr=False)
    watchers: list[Callable[[Job], None]] = field(default_factory=list, repr=False)
    """Called on the event loop whenever the job made progress (a new whole line, or the end)."""

    @property
    def done(self) -> bool:
        return self.future is not None and self.future.done()

    def grow(self, text: str) -> None:
        """On the worker: the text so far. Waiters hear of it when a line is complete."""
        self.live.grow(text)
        lines = text.count("\n")
        if lines != self._lines:
            self._lines = lines
            self._wake_soon()

    def _wake_soon(self) -> None:
        if not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        for watcher in list(self.watchers):
            watcher(self)

    def progressed(self) -> asyncio.Future[None]:
        """A future (on the loop) that is resolved at the job's next progress."""
        waiter = self.loop.create_future()
        if self.done:
            waiter.set_result(None)
        else:
            self._waiters.append(waiter)
        return waiter

    def attach_future(self, future: Future[Completion]) -> None:
        self.future = future
        future.add_done_callback(lambda _: self._wake_soon())


@dataclass(eq=False)
class HeldRequest:
    """A request waiting for a suggestion; ``superseded`` is resolved when a newer one for its document comes."""

    uri: str
    superseded: asyncio.Future[None]


class JobBoard:
    def __init__(self) -> None:
        self._decodes: dict[str, Job] = {}
        self._held: dict[str, HeldRequest] = {}
        self._claims: dict[str, CancelToken] = {}
        self._guesses: list[CancelToken] = []
        self._lock = threading.Lock()

    # -- decodes ------------------------------------------------------------------------------------------

    def decode(self, uri: str) -> Job | None:
        """The document's running (or just finished) decode."""
        with self._lock:
            return self._decodes.get(uri)

    def start(self, job: Job) -> None:
        """``job`` becomes its document's decode; the older decode there, decodes of other documents (the user
        moved on) and guesses are cancelled."""
        with self._lock:
            for uri, other in self._decodes.items():
                if other is job:
                    continue
                if uri == job.uri:
                    other.cancel.cancel("superseded by a newer request", interrupt=other.prefetched)
                else:
                    other.cancel.cancel("the user moved on", interrupt=True)
            for token in self._guesses:
                token.cancel("a completion request came", interrupt=True)
            self._decodes[job.uri] = job

    def cancel_prefetches(self, reason: str) -> None:
        """Stop the decodes no request waits on, so that work that was asked for goes first."""
        with self._lock:
            jobs = [job for job in self._decodes.values() if job.prefetched and not job.done]
        for job in jobs:
            job.cancel.cancel(reason, interrupt=True)

    def finished(self, job: Job) -> None:
        """A finished decode stays (a request at the same place is answered from it) unless it failed."""
        failed = job.cancel.cancelled or (job.future is not None and job.future.exception() is not None)
        with self._lock:
            if failed and self._decodes.get(job.uri) is job:
                del self._decodes[job.uri]

    def forget(self, uri: str) -> None:
        with self._lock:
            job = self._decodes.pop(uri, None)
        if job is not None:
            job.cancel.cancel("the document was closed", interrupt=True)

    # -- held requests -------------------------------------------------------------------------------------

    def hold(self, uri: str) -> HeldRequest:
        """A new request for ``uri``; the one held there before is answered (empty) at once."""
        request = HeldRequest(uri, asyncio.get_running_loop().create_future())
        previous = self._held.get(uri)
        if previous is not None and not previous.superseded.done():
            previous.superseded.set_result(None)
        self._held[uri] = request
        return request

    def release(self, request: HeldRequest) -> None:
        if self._held.get(request.uri) is request:
            del self._held[request.uri]

    # -- guesses and claims --------------------------------------------------------------------------------

    def guess(self) -> CancelToken:
        token = CancelToken()
        with self._lock:
            self._guesses.append(token)
        return token

    def guess_done(self, token: CancelToken) -> None:
        with self._lock:
            if token in self._guesses:
                self._guesses.remove(token)

    @property
    def guesses(self) -> int:
        """Guesses not yet finished (a figure for tests: dropped ones must not stay)."""
        with self._lock:
            return len(self._guesses)

    def claim(self, key: str) -> CancelToken:
        """A cancel token for a request under ``key``; an older request under the same key is cancelled."""
        token = CancelToken()
        with self._lock:
            previous = self._claims.get(key)
            if previous is not None:
                previous.cancel("superseded by a newer request")
            self._claims[key] = token
        return token

    def unclaim(self, key: str, token: CancelToken) -> None:
        with self._lock:
            if self._claims.get(key) is token:
                del self._claims[key]

    def cancel_all(self, reason: str) -> None:
        with self._lock:
            tokens = [job.cancel for job in self._decodes.values()] + [*self._claims.values(), *self._guesses]
        for token in tokens:
            token.cancel(reason, interrupt=True)
