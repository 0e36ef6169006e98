"""Saved KV states, per document and lane: an LRU of cache snapshots, bounded in megabytes, so switching files
stays warm, and so does switching between a document's two prompts.

The session's cache holds one prompt at a time. A document has two or three: its whole window (``WINDOW``: the
one its requests use), on arrival a short one (``SHORT``: a window cut down to what prefills within a pause; see
:mod:`smallcoder_lsp.completion.budget`), and for a FIM model whose invoked requests see the suffix while automatic
ones do not, the invoked requests' prompt (``INVOKED``). When a request needs another document or lane, the live
cache is saved under the key it holds and the other key's snapshot (if any) is restored; the session's prefix reuse
then evaluates only what changed since. Without a snapshot the cache is left as it is: prefix reuse still keeps
whatever the prompts share. A save or a restore copies the KV cells: milliseconds, where prefilling them again
takes a second.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from smallcoder_lsp.backends.base import SavedState
from smallcoder_lsp.decode.session import Session

WINDOW = "window"
SHORT = "short"
INVOKED = "invoked"
"""The lane of invoked requests where they are prompted otherwise than automatic ones (a FIM model whose
automatic requests are prefix-only: see ``completion.fim``)."""
LANES = (WINDOW, SHORT, INVOKED)

Key = tuple[str, str]
"""(document, lane)."""


@dataclass
class _Entry:
    tokens: list[int]
    state: SavedState


class DocumentStates:
    def __init__(self, session: Session, budget_mb: float) -> None:
        self.session = session
        self.budget_bytes = int(budget_mb * 2**20)
        self.current: Key | None = None
        """The document and lane whose prompt the live cache holds."""
        self._saved: OrderedDict[Key, _Entry] = OrderedDict()
        self.restores = 0

    @property
    def enabled(self) -> bool:
        return self.budget_bytes > 0

    @property
    def saved_bytes(self) -> int:
        return sum(e.state.nbytes for e in self._saved.values())

    def saved_documents(self) -> list[str]:
        """Least recently used first."""
        return list(dict.fromkeys(document for document, _ in self._saved))

    def tokens(self, document: str, lane: str = WINDOW) -> Sequence[int]:
        """What switching to ``document``'s ``lane`` would leave in the cache."""
        if self.current == (document, lane):
            return self.session.tokens
        entry = self._saved.get((document, lane))
        if entry is not None:
            return entry.tokens
        return self.session.tokens  # no snapshot: the live cache stays, for what the prompts share

    def switch_to(self, document: str, lane: str = WINDOW) -> None:
        """Make the live cache hold the last state of ``document``'s ``lane``, saving the one it holds now."""
        key = (document, lane)
        if key == self.current:
            return
        if self.enabled and self.current is not None and self.session.tokens:
            self._saved[self.current] = _Entry(list(self.session.tokens), self.session.backend.save_state())
            self._saved.move_to_end(self.current)
        self.session.ahead = []  # the saved state keeps them as cached tokens; the next prefill decides
        entry = self._saved.pop(key, None)
        if entry is not None:
            self.session.backend.load_state(entry.state)
            self.session.tokens = list(entry.tokens)
            self.restores += 1
        self.current = key
        self._evict()

    def drop(self, document: str, lane: str) -> None:
        """Forget the snapshot of ``document``'s ``lane`` (not the live cache)."""
        self._saved.pop((document, lane), None)

    def forget(self, document: str) -> None:
        for lane in LANES:
            self._saved.pop((document, lane), None)
        if self.current is not None and self.current[0] == document:
            self.current = None

    def clear(self) -> None:
        self._saved.clear()
        self.current = None

    def _evict(self) -> None:
        while self._saved and self.saved_bytes > self.budget_bytes:
            self._saved.popitem(last=False)
