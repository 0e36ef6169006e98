"""What the code around the cursor demands of the line being completed.

A prefix-only model does not see the text after the cursor; these facts bring it back in:
- the next code line is indented deeper than the cursor line: the line must open a block (Python: end with
  ``:``), unless those deeper lines close brackets they did not open: then they continue an expression the
  line opens, and the line must end with those brackets open;
- the next code line is not deeper: the line must not open a block;
- the rest of the cursor line closes brackets it did not open: the completion must leave those open;
- the names the document knows: a name defined nowhere is likely made up.
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
from dataclasses import dataclass, field

from smallcoder_lsp.context.languages import language_spec

IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
OPENERS, CLOSERS = "([{", ")]}"
KNOWN_EVERYWHERE = frozenset(dir(builtins)) | frozenset(keyword.kwlist) | frozenset(keyword.softkwlist)
KNOWN_EVERYWHERE |= {"self", "cls", "__name__", "__file__", "__class__"}


@dataclass(frozen=True)
class LineDemands:
    opens_block: bool | None = None
    """True: the line must open a block; False: it must not; None: nothing is known."""
    in_text: bool = False
    """The cursor is in a comment or a string: prose, to which no rule of code applies."""
    closers: str = ""
    """Closing brackets in the rest of the cursor line that close what the line opened before the cursor or in
    the completion: the completion must leave that many brackets open."""
    open_above: int = 0
    """Brackets open where the cursor line starts (opened on the lines above): the line may close that many."""
    open_below: int = 0
    """Brackets that the rest of the line and the deeper lines below close without opening them (a call or a
    signature spread over lines): the line must end with that many open."""
    document: bytes = field(default=b"", repr=False, compare=False)

    @property
    def names(self) -> frozenset[str]:
        """Names the document and the language know (identifiers anywhere in the document, builtins,
        keywords); computed when first asked for, on the model worker."""
        return document_names(self.document)


def indent_width(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip())


def bracket_depths(text: str) -> tuple[int, int]:
    """(depth at the end, lowest depth reached) of ``text``'s brackets, skipping strings and comments roughly."""
    depth = lowest = 0
    quote = ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif text.startswith(quote, i):
                i += len(quote) - 1
                quote = ""
        elif ch == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch in "\"'":
            quote = text[i : i + 3] if text[i : i + 3] in ('"""', "'''") else ch
            i += len(quote) - 1
        elif ch in OPENERS:
            depth += 1
        elif ch in CLOSERS:
            depth -= 1
            lowest = min(lowest, depth)
        i += 1
    return depth, lowest


def unopened_closers(line_suffix: str) -> str:
    """The closing brackets of ``line_suffix`` that it does not open itself, in order."""
    stack: list[str] = []
    missing = []
    for ch in line_suffix:
        if ch in OPENERS:
            stack.append(ch)
        elif ch in CLOSERS:
            if stack:
                stack.pop()
            else:
                missing.append(ch)
    return "".join(missing)


def previous_code_line(prefix: str) -> str:
    """The last line before the cursor line with code on it ("" if none)."""
    lines = prefix.split("\n")[:-1]
    return next((line for line in reversed(lines) if line.strip() and not line.lstrip().startswith("#")), "")


def block_demand(prefix: str, suffix: str, line_prefix: str, multiline: bool) -> tuple[bool | None, int]:
    """Whether the cursor line must open an indented block, judged by the code lines after it; and how many
    brackets it must leave open, when the deeper lines below continue an expression it opens instead.

    The cursor line's indentation is what stands before the cursor; on a line that is empty up to the cursor
    (column 0, no indentation typed) it is the previous code line's, unless that line opens a block (then the
    code below may be its body, and the cursor line one of its lines).
    """
    if bracket_depths(prefix)[0] > 0 or prefix.rstrip(" \t").endswith("\\"):
        return None, 0  # inside brackets or a continuation: indentation says nothing about blocks
    line_suffix, *later = suffix.split("\n")
    code = [line for line in later if line.strip() and not line.lstrip().startswith("#")]
    if not code:
        return None, 0
    if line_prefix:
        cursor_indent = indent_width(line_prefix)
    else:
        previous = previous_code_line(prefix)
        if code_of(previous).rstrip().endswith(":"):
            return None, 0
        cursor_indent = indent_width(previous)
    if indent_width(code[0]) <= cursor_indent:
        return (None if multiline else False), 0  # a block completion may open a block and write its body
    block = []
    for line in code:
        block.append(line)
        if indent_width(line) <= cursor_indent:
            break
    lowest = bracket_depths("\n".join([line_suffix, *block]))[1]
    if lowest < 0:
        return None, -lowest  # the deeper lines close brackets: they continue an expression the line opens
    return True, 0


def line_brackets(text: str) -> tuple[list[str], int] | None:
    """The brackets ``text`` (one line) leaves open, innermost last, and how many closers it has for brackets
    opened before it (strings and a ``#`` comment skipped); None if a closer does not match its opener."""
    stack: list[str] = []
    closed_before = 0
    quote = ""
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch == "#":
            break
        elif ch in OPENERS:
            stack.append(ch)
        elif ch in CLOSERS:
            if not stack:
                closed_before += 1
            elif OPENERS[CLOSERS.index(ch)] != stack.pop():
                return None
    return stack, closed_before


def bracket_stack(text: str) -> list[str] | None:
    """The brackets ``text`` (one line) leaves open, innermost last; None if it closes one it did not open."""
    scan = line_brackets(text)
    return None if scan is None or scan[1] else scan[0]


def code_of(line: str) -> str:
    """The line without a trailing comment (a ``#`` outside strings)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def line_demands(language_id: str, prefix: str, suffix: str, line_prefix: str, line_suffix: str, multiline: bool,
                 document: bytes = b"", in_text: bool = False) -> LineDemands:  # fmt: skip
    """The demands on a completion at the cursor; ``prefix``/``suffix`` are the text windows around it."""
    if in_text:
        return LineDemands(in_text=True, document=document)
    indented = language_spec(language_id).blocks == "indent"
    opens, below = block_demand(prefix, suffix, line_prefix, multiline) if indented else (None, 0)
    above = max(0, bracket_depths(prefix[: len(prefix) - len(line_prefix)])[0])
    return LineDemands(opens, closers=unopened_closers(line_suffix), open_above=above, open_below=below,
                       document=document)  # fmt: skip


@functools.lru_cache(maxsize=8)
def document_names(document: bytes) -> frozenset[str]:
    """Every identifier in the document, and the names the language always knows."""
    text = document.decode("utf-8", "replace")
    return KNOWN_EVERYWHERE | frozenset(IDENTIFIER.findall(text))
