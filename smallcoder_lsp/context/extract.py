"""What the model sees around the cursor: prefix and suffix windows and the completion mode.

The prefix window starts at a line that moves only in steps of ``WINDOW_STEP_LINES``, so consecutive
keystrokes produce prompts that share everything but their end, and the KV cache is reused.
"""

from __future__ import annotations

from dataclasses import dataclass

from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.errors import PositionError

WINDOW_STEP_LINES = 32


@dataclass(frozen=True)
class CompletionContext:
    prefix: str
    """Text before the cursor, from the window start (a whole line) to the cursor."""
    suffix: str
    """Text after the cursor, up to the window end."""
    line_prefix: str
    """The cursor line up to the cursor."""
    line_suffix: str
    """The cursor line after the cursor."""
    multiline: bool
    """Whether a multi-line completion fits here (an empty line in a block) or only the rest of the line."""
    indent: str
    """Indentation of the block a multi-line completion continues."""
    language_id: str
    window_start_line: int


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def prefix_window_start(doc: Document, offset: int, max_chars: int) -> int:
    """Byte offset where the prefix window starts: a line start on a ``WINDOW_STEP_LINES`` grid."""
    cursor_line = doc.line_of(offset)
    earliest = max(0, offset - max_chars)
    first_line = doc.line_of(earliest)
    if doc.line_starts[first_line] < earliest:
        first_line += 1
    snapped = -(-first_line // WINDOW_STEP_LINES) * WINDOW_STEP_LINES
    if snapped <= cursor_line:
        return doc.line_starts[snapped]
    if first_line <= cursor_line:
        return doc.line_starts[first_line]
    # One line longer than the whole window: keep its last max_chars bytes.
    return earliest


def extract_context(doc: Document, offset: int, prefix_chars: int, suffix_chars: int) -> CompletionContext:
    if not 0 <= offset <= len(doc.text):
        raise PositionError(f"offset {offset} is outside the document ({len(doc.text)} bytes)")
    line = doc.line_of(offset)
    line_start, line_end = doc.line_start(line), doc.line_end(line)
    offset = min(offset, line_end)  # never between \r and \n
    start = prefix_window_start(doc, offset, prefix_chars)
    line_prefix = _decode(doc.text[line_start:offset])
    line_suffix = _decode(doc.text[offset:line_end])
    multiline = not line_prefix.strip() and not line_suffix.strip()
    indent = line_prefix if multiline else line_prefix[: len(line_prefix) - len(line_prefix.lstrip())]
    return CompletionContext(
        prefix=_decode(doc.text[start:offset]),
        suffix=_decode(doc.text[offset : offset + suffix_chars]),
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        multiline=multiline,
        indent=indent,
        language_id=doc.language_id,
        window_start_line=doc.line_of(start),
    )
