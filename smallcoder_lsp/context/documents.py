"""Open documents as UTF-8 bytes with a line index, updated by incremental edits.

Offsets are byte offsets into the UTF-8 text, the unit tree-sitter uses. The server converts LSP's UTF-16
positions to them once, at its edge.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from tree_sitter import Point, Tree

from smallcoder_lsp.context.syntax import SyntaxTree
from smallcoder_lsp.errors import DocumentError, PositionError


def _line_starts(text: bytes, base: int = 0) -> list[int]:
    starts = []
    i = text.find(b"\n")
    while i != -1:
        starts.append(base + i + 1)
        i = text.find(b"\n", i + 1)
    return starts


@dataclass
class Document:
    uri: str
    language_id: str
    version: int
    text: bytes
    line_starts: list[int] = field(default_factory=list)
    syntax: SyntaxTree = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.line_starts = [0, *_line_starts(self.text)]
        self.syntax = SyntaxTree(self.language_id)

    @property
    def tree(self) -> Tree | None:
        """The current syntax tree (reparsed incrementally if edits came since), or None without a grammar."""
        return self.syntax.tree(self.text)

    def point(self, offset: int) -> Point:
        line = self.line_of(offset)
        return Point(line, offset - self.line_starts[line])

    @property
    def line_count(self) -> int:
        return len(self.line_starts)

    @property
    def is_binary(self) -> bool:
        return b"\x00" in self.text

    def line_start(self, line: int) -> int:
        if not 0 <= line < self.line_count:
            raise PositionError(f"line {line} is outside the document ({self.line_count} lines)")
        return self.line_starts[line]

    def line_end(self, line: int) -> int:
        """Offset of the end of ``line``, before its line break."""
        start = self.line_start(line)
        end = self.line_starts[line + 1] - 1 if line + 1 < self.line_count else len(self.text)
        if end > start and self.text[end - 1 : end] == b"\r":
            end -= 1
        return end

    def line_text(self, line: int) -> bytes:
        return self.text[self.line_start(line) : self.line_end(line)]

    def line_of(self, offset: int) -> int:
        return bisect.bisect_right(self.line_starts, offset) - 1

    def apply_edit(self, start: int, end: int, new_text: bytes) -> None:
        """Replace bytes [start, end) and update the line index without rescanning the whole text."""
        if not 0 <= start <= end <= len(self.text):
            raise PositionError(f"edit [{start}, {end}) is outside the document ({len(self.text)} bytes)")
        first, last = self.line_of(start), self.line_of(end)
        start_point, old_end_point = self.point(start), self.point(end)
        delta = len(new_text) - (end - start)
        self.text = self.text[:start] + new_text + self.text[end:]
        tail = [s + delta for s in self.line_starts[last + 1 :]]
        self.line_starts[first + 1 :] = _line_starts(new_text, start) + tail
        new_end = start + len(new_text)
        self.syntax.edit(start, end, new_end, (start_point, old_end_point, self.point(new_end)))


class DocumentStore:
    """The open documents by URI."""

    def __init__(self) -> None:
        self._docs: dict[str, Document] = {}

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        doc = Document(uri, language_id, version, text.encode("utf-8", "surrogatepass"))
        self._docs[uri] = doc
        return doc

    def close(self, uri: str) -> None:
        self._docs.pop(uri, None)

    def get(self, uri: str) -> Document:
        try:
            return self._docs[uri]
        except KeyError:
            raise DocumentError(f"document {uri} is not open (send textDocument/didOpen first)") from None

    def __contains__(self, uri: str) -> bool:
        return uri in self._docs

    def uris(self) -> list[str]:
        return list(self._docs)
