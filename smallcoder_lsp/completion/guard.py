"""Timing every backend call, so the worker's watchdog can tell a hung backend from a slow request.

A decode is many short backend calls (one prefill chunk, one token, one streamed piece), so a per-call limit can
be generous and still catch a hang quickly, whatever the request's length. :func:`guard` wraps a loaded backend
(or remote generator): each call marks its start and end on a :class:`CallWatch`, which the watchdog reads from
its own thread. Once the watch is abandoned, a call that finally returns raises :class:`Abandoned`, so the
thread it ran on unwinds instead of going on with a model that is no longer the worker's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.backends.base import Backend, Generator, ModelInfo, SavedState, TextRequest

T = TypeVar("T")


class Abandoned(BaseException):
    """The worker gave up on this thread while a backend call hung. A BaseException, so that no ``except
    Exception`` on the way up mistakes it for a failure of the task."""


class CallWatch:
    """The backend call running now (``started`` is a monotonic time, None between calls)."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.call = ""
        self.abandoned = False

    def timed(self, call: str, fn: Callable[..., T], *args: Any) -> T:
        if self.abandoned:
            raise Abandoned
        self.call, self.started = call, time.monotonic()
        try:
            return fn(*args)
        finally:
            self.started = None
            if self.abandoned:
                raise Abandoned  # whatever the call did, this thread must stop now


TIMED_EXTRAS = {"score": "scoring", "sample": "sampling", "evaluate_ahead": "decoding", "step_ahead": "decoding"}
"""The optional backend calls (``Scorer``, ``SamplesOnDevice``, ``Lookahead``) and how the watchdog names them."""


class GuardedBackend:
    """A :class:`Backend` whose every call is timed; anything else is the wrapped backend's. The optional calls
    a backend offers are timed too, and are there only when the wrapped backend has them."""

    def __init__(self, backend: Backend, watch: CallWatch) -> None:
        self.inner = backend
        self.watch = watch
        self.info: ModelInfo = backend.info

    def __getattr__(self, name: str) -> Any:  # test doubles' counters, a backend's extras
        value = getattr(self.inner, name)
        call = TIMED_EXTRAS.get(name)
        if call is None or not callable(value):
            return value
        return lambda *args: self.watch.timed(call, value, *args)

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return self.watch.timed("tokenize", lambda: self.inner.tokenize(text, add_bos=add_bos))

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return self.watch.timed("detokenize", self.inner.detokenize, tokens)

    @property
    def n_cached(self) -> int:
        return self.inner.n_cached

    def trim(self, n_keep: int) -> None:
        self.watch.timed("trim", self.inner.trim, n_keep)

    def evaluate(self, tokens: Sequence[int]) -> None:
        self.watch.timed("prefill" if len(tokens) > 1 else "decoding", self.inner.evaluate, tokens)

    def logits(self) -> npt.NDArray[np.float32]:
        return self.watch.timed("logits", self.inner.logits)

    def save_state(self) -> SavedState:
        return self.watch.timed("save_state", self.inner.save_state)

    def load_state(self, state: SavedState) -> None:
        self.watch.timed("load_state", self.inner.load_state, state)

    def close(self) -> None:
        self.inner.close()


class GuardedGenerator:
    """A :class:`Generator` (a remote server) whose every streamed piece is timed."""

    def __init__(self, generator: Generator, watch: CallWatch) -> None:
        self.inner = generator
        self.watch = watch
        self.info: ModelInfo = generator.info

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def generate(self, request: TextRequest, cancelled: Callable[[], bool]) -> Iterator[str]:
        pieces = self.inner.generate(request, cancelled)
        try:
            while True:
                try:
                    piece = self.watch.timed("the remote stream", next, pieces)
                except StopIteration:
                    return
                yield piece
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        self.inner.close()


def guard(loaded: Backend | Generator, watch: CallWatch) -> Backend | Generator:
    if isinstance(loaded, Generator):
        return GuardedGenerator(loaded, watch)
    return GuardedBackend(loaded, watch)
