"""Cooperative cancellation: the decoder checks a token between prefill chunks and between tokens."""

from __future__ import annotations

import threading

from smallcoder_lsp.errors import Cancelled


class CancelToken:
    """Set by whoever supersedes or cancels a request; read by the worker running it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled(self.reason)
