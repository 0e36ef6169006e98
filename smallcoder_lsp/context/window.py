"""Where the text windows around the cursor start and end, and the frame that makes them parse.

The prefix window starts at a line on a grid of ``WINDOW_STEP_LINES``, so consecutive keystrokes produce prompts
that share everything but their end and the KV cache is reused. Both windows are then moved off the middle of a
statement (a docstring, a call spread over lines): a window that cuts one reads as broken code, and every parse
check on a completion inside it goes wrong. A window may cut through compound statements (a function, a loop):
the frame, block openers down to the window's first indentation, reopens them for the parser.
"""

from __future__ import annotations

from tree_sitter import Node

from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.languages import language_spec

WINDOW_STEP_LINES = 32
CUT_STEP_LINES = 8
"""Where a shorter window may start: the same kind of grid, finer."""

# Nodes a window may start or end inside of: the frame reopens blocks (Python's indentation blocks).
COMPOUND = frozenset({
    "module", "block", "function_definition", "class_definition", "decorated_definition", "if_statement",
    "elif_clause", "else_clause", "for_statement", "while_statement", "try_statement", "except_clause",
    "except_group_clause", "finally_clause", "with_statement", "match_statement", "case_clause", "ERROR",
})  # fmt: skip


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
    return earliest  # one line longer than the whole window: keep its last max_chars bytes


def statement_across(doc: Document, at: int) -> Node | None:
    """The outermost statement (or string, or comment) that started before byte ``at`` and goes on past it, not
    counting compound statements and blocks; None when ``at`` lies between statements."""
    tree = doc.tree
    if tree is None:
        return None
    node = tree.root_node.descendant_for_byte_range(at, at)
    found = None
    while node is not None and node.type not in COMPOUND:
        if node.start_byte < at < node.end_byte:
            found = node
        node = node.parent
    return found


def window_start(doc: Document, start: int, offset: int, max_extra: int) -> int:
    """``start`` moved off the middle of a statement: back to the line where it begins (at most ``max_extra``
    bytes earlier), else forward past its end (when that is before the cursor line)."""
    node = statement_across(doc, start)
    if node is None:
        return start
    begin = doc.line_start(doc.line_of(node.start_byte))
    if start - begin <= max_extra:
        return begin
    after = doc.line_of(node.end_byte) + 1
    if after <= doc.line_of(offset):
        return doc.line_start(after)
    return start


def window_cuts(doc: Document, start: int, offset: int) -> list[int]:
    """Byte offsets after ``start`` where a shorter window may start, earliest first: in each step of a
    ``CUT_STEP_LINES`` grid above the cursor line, the start of its first line that is not blank and does not
    sit inside a statement (a grid line alone would leave long gaps: docstrings, signatures and calls spread
    over lines cover many of them)."""
    cuts = []
    first, cursor_line = -(-(doc.line_of(start) + 1) // CUT_STEP_LINES) * CUT_STEP_LINES, doc.line_of(offset)
    for step in range(first, cursor_line, CUT_STEP_LINES):
        for line in range(step, min(step + CUT_STEP_LINES, cursor_line)):
            at = doc.line_starts[line]
            if doc.text[at : doc.line_end(line)].strip() and statement_across(doc, at) is None:
                cuts.append(at)
                break
    return cuts


def suffix_window_end(doc: Document, offset: int, end: int) -> int:
    """``end`` (clamped to the document) moved back to the start of the line where a statement that goes on past
    it begins, when that is after the cursor line."""
    end = min(end, len(doc.text))
    if end >= len(doc.text):
        return end
    node = statement_across(doc, end)
    if node is None or doc.line_of(node.start_byte) <= doc.line_of(offset):
        return end
    return doc.line_start(doc.line_of(node.start_byte))


def parse_frame(language_id: str, window: str) -> str:
    """Block openers, one per indentation level the window needs below its first line's, so that a window that
    starts inside a function body parses as it does in the document."""
    if language_spec(language_id).blocks != "indent":
        return ""
    lines = [line for line in window.split("\n") if line.strip()]
    if not lines:
        return ""
    first = lines[0][: len(lines[0]) - len(lines[0].lstrip())]
    if not first:
        return ""
    shallower = {line[: len(line) - len(line.lstrip())] for line in lines}
    levels = sorted((ws for ws in shallower | {""} if len(ws) < len(first)), key=len)
    return "".join(f"{ws}if 1:\n" for ws in levels)
