"""Per-document KV states: an LRU of cache snapshots, bounded in megabytes, so switching files stays warm.

The session's cache holds one document's prompt at a time. When a request names another document, the current
cache is saved under its document and the other document's snapshot (if any) is restored; the session's prefix
reuse then evaluates only what changed since. Without a snapshot the cache is left as it is: prefix reuse still
keeps whatever the two prompts share.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from smallcoder_lsp.backends.base import SavedState
from smallcoder_lsp.decode.session import Session


@dataclass
class _Entry:
    tokens: list[int]
    state: SavedState


class DocumentStates:
    def __init__(self, session: Session, budget_mb: float) -> None:
        self.session = session
        self.budget_bytes = int(budget_mb * 2**20)
        self.current: str | None = None
        """The document whose prompt the live cache holds."""
        self._saved: OrderedDict[str, _Entry] = OrderedDict()
        self.restores = 0

    @property
    def enabled(self) -> bool:
        return self.budget_bytes > 0

    @property
    def saved_bytes(self) -> int:
        return sum(e.state.nbytes for e in self._saved.values())

    def saved_documents(self) -> list[str]:
        """Least recently used first."""
        return list(self._saved)

    def switch_to(self, document: str) -> None:
        """Make the live cache hold ``document``'s last state, saving the one it holds now."""
        if document == self.current:
            return
        if self.enabled and self.current is not None and self.session.tokens:
            self._saved[self.current] = _Entry(list(self.session.tokens), self.session.backend.save_state())
            self._saved.move_to_end(self.current)
        self.session.ahead = []  # the saved state keeps them as cached tokens; the next prefill decides
        entry = self._saved.pop(document, None)
        if entry is not None:
            self.session.backend.load_state(entry.state)
            self.session.tokens = list(entry.tokens)
            self.restores += 1
        self.current = document
        self._evict()

    def forget(self, document: str) -> None:
        self._saved.pop(document, None)
        if self.current == document:
            self.current = None

    def clear(self) -> None:
        self._saved.clear()
        self.current = None

    def _evict(self) -> None:
        while self._saved and self.saved_bytes > self.budget_bytes:
            self._saved.popitem(last=False)
