"""The answer to one completion request, and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from smallcoder_lsp.decode.stream import GenerationStats

# Where an answer came from (``Completion.source``).
MODEL = "model"
"""The decode's finished suggestion."""
PARTIAL = "partial"
"""Whole lines of a decode that is still running."""
TYPED = "typed"
"""The rest of a suggestion the user is typing into: no new model call."""
NONE = "none"
"""Nothing is expected here, or completions are off."""
SUPERSEDED = "superseded"
"""A newer request for the document came first."""
CAPPED = "capped"
"""The hold cap passed before anything was ready."""


@dataclass(frozen=True)
class Completion:
    text: str
    """What to insert at ``offset``; empty when there is nothing worth showing."""
    offset: int
    line_prefix: str = ""
    """The cursor line before the cursor, when the request was made."""
    multiline: bool = False
    stats: GenerationStats | None = None
    source: str = MODEL
    reason: str = ""
    """Why ``text`` is empty (or cut short), in words for the user; empty otherwise."""
