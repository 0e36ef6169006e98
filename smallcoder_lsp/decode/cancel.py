"""Cooperative cancellation: the decoder checks a token between prefill chunks and between tokens.

Work that nobody will continue (a warm-up the user has moved away from, a decode for another document) can
also be stopped part-way through an evaluation, where the backend allows it: see ``CancelToken.interruptible``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from smallcoder_lsp.errors import Cancelled


class CancelToken:
    """Set by whoever supersedes or cancels a request; read by the worker running it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._interrupt: Callable[[], None] | None = None
        self.reason = ""

    def cancel(self, reason: str = "cancelled", *, interrupt: bool = False) -> None:
        """Cancel; with ``interrupt``, also stop the evaluation running under this token now, losing what it
        had done of its chunk: for work that the next job will not continue (elsewhere, or another document)."""
        with self._lock:
            if not self._event.is_set():
                self.reason = reason
                self._event.set()
            hook = self._interrupt if interrupt else None
        if hook is not None:
            hook()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)

    @contextmanager
    def interruptible(self, interrupt: Callable[[], None]) -> Iterator[None]:
        """Run one evaluation that ``cancel(interrupt=True)`` may stop by calling ``interrupt`` (from the
        canceller's thread). Raises :class:`Cancelled` at once if the token is already cancelled."""
        with self._lock:
            self._interrupt = interrupt
        try:
            self.check()
            yield
        except Cancelled as exc:  # the backend's "interrupted": say why
            raise Cancelled(self.reason or str(exc)) from None
        finally:
            with self._lock:
                self._interrupt = None
