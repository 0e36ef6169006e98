"""What the model sees around the cursor, and whether and how much to complete there.

The prefix window starts at a line on a grid of ``WINDOW_STEP_LINES``, so consecutive keystrokes produce
prompts that share everything but their end and the KV cache is reused. Extra context (definitions from other
open files, the file's imports, the enclosing scopes cut off by the window) goes in blocks above the window;
they change rarely, and a token budget drops them before it ever touches the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from smallcoder_lsp.context.demands import LineDemands, indent_width, line_demands
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.languages import LanguageSpec, language_spec
from smallcoder_lsp.context.scopes import imports_above, scope_header, top_level_definitions
from smallcoder_lsp.context.window import (
    parse_frame,
    prefix_window_start,
    suffix_window_end,
    window_cuts,
    window_start,
)
from smallcoder_lsp.errors import PositionError

MAX_CROSS_FILE_DEFINITIONS = 8
IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
SINGLE, MULTI, NONE = "single", "multi", "none"
LINE_COMPLETE = "the line is complete"
"""Why nothing is completed at the end of a line that is finished (the engine decodes the next one instead)."""


@dataclass(frozen=True)
class ContextBlock:
    kind: str
    """``definitions``, ``imports`` or ``scopes``; the budget drops them in that order."""
    text: str


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
    mode: str
    """``multi`` (an empty line opening a block), ``single`` (the rest of the line) or ``none``."""
    indent: str
    """Indentation of the block a multi-line completion continues."""
    language_id: str
    window_start_line: int
    blocks: tuple[ContextBlock, ...] = ()
    """Extra context above the window, in prompt order."""
    reason: str = ""
    """Why ``mode`` is ``none``."""
    demands: LineDemands = field(default_factory=LineDemands)
    """What the code around the cursor demands of the completion."""
    frame: str = ""
    """Lines that make the window parse as the document does (block openers down to the indentation the window
    starts at); parse checks read ``frame + prefix + completion + suffix``."""
    cuts: tuple[int, ...] = ()
    """Where in ``prefix`` a shorter prompt window may start (line starts, earliest first), for a request that
    cannot afford the whole window; checks always read the whole one."""

    @property
    def window(self) -> str:
        """The text a parse check reads: the frame, then the window around the cursor."""
        return self.frame + self.prefix + self.suffix

    @property
    def multiline(self) -> bool:
        return self.mode == MULTI


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _previous_code_line(doc: Document, line: int) -> str:
    """The closest non-blank line above ``line``; a docstring right below a block opener is skipped."""
    lines = (_decode(doc.line_text(i)) for i in range(line - 1, max(-1, line - 200), -1))
    code = [text for text in lines if text.strip()][:40]
    if not code:
        return ""
    last = code[0].strip()
    if last.endswith(('"""', "'''")):
        quote = last[-3:]
        # The string opens on its last line if that holds two quotes, else on the first line above with one.
        for i, text in enumerate(code):
            count = text.count(quote)
            if (i == 0 and count >= 2) or (i > 0 and count % 2 == 1):
                return code[i + 1] if i + 1 < len(code) else ""
    return code[0]


def _inside_comment_or_string(doc: Document, offset: int) -> bool:
    tree = doc.tree
    if tree is None:
        return False
    node = tree.root_node.descendant_for_byte_range(max(offset - 1, 0), offset)
    while node is not None:
        if ("comment" in node.type or "string" in node.type) and node.start_byte < offset:
            return node.end_byte > offset or "comment" in node.type or node.has_error
        node = node.parent
    return False


def _line_is_closed(doc: Document, line: int, line_prefix: str) -> bool:
    """The line ends a statement with a closing bracket and parses cleanly: nothing is missing."""
    tree = doc.tree
    if tree is None or not line_prefix.rstrip().endswith((")", "]", "}", ";")):
        return False
    start, end = doc.line_start(line), doc.line_end(line)
    node = tree.root_node.descendant_for_byte_range(start + indent_width(line_prefix), end)
    return node is not None and not node.has_error and not tree.root_node.has_error


def completion_mode(doc: Document, offset: int, line_prefix: str, line_suffix: str) -> tuple[str, str]:
    """Decide from the cursor's surroundings: nothing, the rest of the line, or a block."""
    if line_suffix[:1].isidentifier() and (line_prefix[-1:].isalnum() or line_prefix[-1:] == "_"):
        return NONE, "the cursor is inside an identifier"
    if _inside_comment_or_string(doc, offset):
        return SINGLE, ""
    line = doc.line_of(offset)
    if not line_prefix.strip() and not line_suffix.strip():
        previous = _previous_code_line(doc, line)
        opens = previous.rstrip().endswith((":", "{", "(", "[", "=>"))
        return (MULTI, "") if opens or indent_width(line_prefix) > indent_width(previous) else (SINGLE, "")
    if not line_suffix.strip() and _line_is_closed(doc, line, line_prefix):
        return NONE, LINE_COMPLETE
    return SINGLE, ""


def _cross_file_block(doc: Document, others: Iterable[Document], window_text: str, spec: LanguageSpec) -> str:
    """Signatures of names used in the window that other open documents of the same language define."""
    used = set(IDENTIFIER.findall(window_text))
    lines: list[str] = []
    count = 0
    for other in sorted(others, key=lambda d: d.uri):
        if other.uri == doc.uri or other.language_id != doc.language_id or other.tree is None:
            continue
        found = [d for d in top_level_definitions(other.tree, other.text, spec) if d.name in used]
        if not found:
            continue
        lines.append(f"{spec.comment} {other.uri.rsplit('/', 1)[-1]}")
        for definition in found[: MAX_CROSS_FILE_DEFINITIONS - count]:
            lines.extend(f"{spec.comment} {x}" for x in definition.text.split("\n"))
            count += 1
        if count >= MAX_CROSS_FILE_DEFINITIONS:
            break
    return "\n".join(lines)


def _blocks(
    doc: Document, offset: int, start: int, ctx_lines: tuple[str, str], others: Iterable[Document]
) -> list[ContextBlock]:
    spec = language_spec(doc.language_id)
    line_prefix, window_text = ctx_lines
    blank_indent = indent_width(line_prefix) if not line_prefix.strip() else None
    tree = doc.tree
    blocks = []
    if tree is not None:
        if definitions := _cross_file_block(doc, others, window_text, spec):
            blocks.append(ContextBlock("definitions", definitions))
        if imports := imports_above(tree, doc.text, start, spec):
            blocks.append(ContextBlock("imports", imports))
        if scopes := scope_header(tree, doc.text, offset, start, spec, blank_indent):
            blocks.append(ContextBlock("scopes", scopes))
    return blocks


def extract_context(
    doc: Document, offset: int, prefix_chars: int, suffix_chars: int, others: Iterable[Document] = ()
) -> CompletionContext:
    if not 0 <= offset <= len(doc.text):
        raise PositionError(f"offset {offset} is outside the document ({len(doc.text)} bytes)")
    line = doc.line_of(offset)
    line_start, line_end = doc.line_start(line), doc.line_end(line)
    offset = min(offset, line_end)  # never between \r and \n
    start = window_start(doc, prefix_window_start(doc, offset, prefix_chars), offset, prefix_chars)
    line_prefix = _decode(doc.text[line_start:offset])
    line_suffix = _decode(doc.text[offset:line_end])
    prefix = _decode(doc.text[start:offset])
    suffix = _decode(doc.text[offset : suffix_window_end(doc, offset, offset + suffix_chars)])
    mode, reason = completion_mode(doc, offset, line_prefix, line_suffix)
    indent = line_prefix if mode == MULTI else line_prefix[: len(line_prefix) - len(line_prefix.lstrip())]
    blocks = _blocks(doc, offset, start, (line_prefix, prefix + suffix), others) if mode != NONE else []
    in_text = _inside_comment_or_string(doc, offset)
    demands = line_demands(doc.language_id, prefix, suffix, line_prefix, line_suffix, mode == MULTI, doc.text, in_text)
    if demands.open_below and mode == MULTI:
        mode = SINGLE  # the lines below go on with what this line opens: it is one line
    return CompletionContext(
        prefix=prefix,
        suffix=suffix,
        line_prefix=line_prefix,
        line_suffix=line_suffix,
        mode=mode,
        indent=indent,
        language_id=doc.language_id,
        window_start_line=doc.line_of(start),
        blocks=tuple(blocks),
        reason=reason,
        demands=demands,
        frame=parse_frame(doc.language_id, prefix + suffix),
        cuts=tuple(len(_decode(doc.text[start:at])) for at in window_cuts(doc, start, offset)),
    )
