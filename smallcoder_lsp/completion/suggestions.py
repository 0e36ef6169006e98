"""Suggestions already computed, so that typing into one needs no model call.

When the user types the characters a shown (or prefetched, or still generating) suggestion predicted, the next
request is answered with the rest of it. A suggestion is anchored at a byte offset and remembers the text
just before its anchor; it applies only while that text is unchanged and what was typed since the anchor is
the start of the suggestion.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

ANCHOR_CONTEXT = 256
"""Bytes before the anchor that must be unchanged for a suggestion to apply."""
MAX_PER_DOCUMENT = 8


@dataclass
class Suggestion:
    anchor: int
    before: bytes
    """The ``ANCHOR_CONTEXT`` bytes before the anchor when it was computed."""
    text: str = ""
    """The suggestion (trimmed and checked), or the raw text so far while it is still generating."""
    multiline: bool = False
    done: bool = True
    """False while the model is still generating it (``text`` grows)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def at(cls, document: bytes, anchor: int, **kwargs: object) -> Suggestion:
        """A suggestion anchored at byte ``anchor`` of the ``document`` text."""
        return cls(anchor, document[max(0, anchor - ANCHOR_CONTEXT) : anchor], **kwargs)  # type: ignore[arg-type]

    def grow(self, text: str, done: bool = False) -> None:
        with self._lock:
            self.text, self.done = text, done

    def rest_after(self, text: bytes, offset: int) -> str | None:
        """What remains of this suggestion for a cursor at ``offset`` of the document ``text``, or None when it
        does not apply (the text before the anchor changed, or what was typed since is not its start)."""
        if offset < self.anchor or text[max(0, self.anchor - ANCHOR_CONTEXT) : self.anchor] != self.before:
            return None
        typed = text[self.anchor : offset].decode("utf-8", "replace")
        with self._lock:
            suggestion = self.text
        if not suggestion.startswith(typed):
            return None
        return suggestion[len(typed) :]


class SuggestionCache:
    """The latest suggestions of each document, newest first."""

    def __init__(self) -> None:
        self._by_uri: dict[str, OrderedDict[int, Suggestion]] = {}
        self._lock = threading.Lock()

    def remember(self, uri: str, suggestion: Suggestion) -> None:
        if not suggestion.text.strip():
            return
        with self._lock:
            entries = self._by_uri.setdefault(uri, OrderedDict())
            entries[id(suggestion)] = suggestion
            entries.move_to_end(id(suggestion), last=False)
            while len(entries) > MAX_PER_DOCUMENT:
                entries.popitem()

    def lookup(self, uri: str, text: bytes, offset: int) -> tuple[Suggestion, str] | None:
        """The newest finished suggestion that still applies at ``offset`` of ``text``, with what remains of it."""
        with self._lock:
            entries = list(self._by_uri.get(uri, {}).values())
        for suggestion in entries:
            if not suggestion.done:
                continue
            rest = suggestion.rest_after(text, offset)
            if rest and rest.strip():
                return suggestion, rest
        return None

    def forget(self, uri: str) -> None:
        with self._lock:
            self._by_uri.pop(uri, None)
