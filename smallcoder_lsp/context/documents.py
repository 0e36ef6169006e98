"""Open documents as UTF-8 bytes with a line index, updated by incremental edits.

Offsets are byte offsets into the UTF-8 text, the unit tree-sitter uses. The server converts LSP's UTF-16
positions to them once, at its edge. Lines end at CR LF, CR or LF, as LSP defines them (a file with old Mac line
endings has as many lines for us as for the editor); tree-sitter's own rows end at LF only.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from tree_sitter import Point, Tree

from smallcoder_lsp.context.syntax import SyntaxTree
from smallcoder_lsp.errors import DocumentError, PositionError

NO_POINT = Point(0, 0)
LINE_BREAK = re.compile(rb"\r\n|\r|\n")


def _line_starts(text: bytes, lo: int = 0, hi: int | None = None) -> list[int]:
    """Starts of the lines that begin in ``[lo, hi]`` after a break found from ``lo`` on (CR LF is one break)."""
    hi = len(text) if hi is None else hi
    return [m.end() for m in LINE_BREAK.finditer(text, lo, min(len(text), hi + 1)) if m.end() <= hi]


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
        """tree-sitter's (row, byte column) of ``offset``: its rows end at LF only."""
        row_start = self.text.rfind(b"\n", 0, offset) + 1
        return Point(self.text.count(b"\n", 0, offset), offset - row_start)

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
        if line + 1 == self.line_count:
            return len(self.text)
        end = self.line_starts[line + 1] - 1  # the break's last byte
        if self.text[end : end + 1] == b"\n" and end > start and self.text[end - 1 : end] == b"\r":
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
        # Line starts before ``start`` stay; those up to one byte past the new text are found again (an edit
        # can split or join a CR LF pair at either edge); those further on only move.
        keep = max(1, bisect.bisect_left(self.line_starts, start))
        tail = bisect.bisect_right(self.line_starts, end + 1)
        # tree-sitter needs rows only for a tree it keeps (counting them costs a scan of the text before).
        points = (self.point(start), self.point(end)) if self.syntax.has_tree else (NO_POINT, NO_POINT)
        delta = len(new_text) - (end - start)
        self.text = self.text[:start] + new_text + self.text[end:]
        new_end = start + len(new_text)
        found = _line_starts(self.text, max(0, start - 1), new_end + 1)
        moved = [s + delta for s in self.line_starts[tail:]]
        self.line_starts[keep:] = [s for s in found if s >= max(start, 1)] + moved
        new_point = self.point(new_end) if self.syntax.has_tree else NO_POINT
        self.syntax.edit(start, end, new_end, (*points, new_point))


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
