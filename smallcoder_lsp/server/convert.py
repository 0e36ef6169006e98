"""LSP <-> core conversions.

LSP positions count characters in the encoding negotiated at ``initialize`` (UTF-16 unless the client offers
UTF-8 or UTF-32, as Neovim does); the core counts UTF-8 bytes.
"""

from __future__ import annotations

import re

from lsprotocol import types

from smallcoder_lsp.completion.result import Completion
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.errors import PositionError

WORD_BEFORE = re.compile(r"[\w$]+$")


UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def char_units(ch: str, encoding: str) -> int:
    if encoding == UTF8:
        return len(ch.encode("utf-8", "surrogatepass"))
    if encoding == UTF32:
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


def text_units(text: str, encoding: str = UTF16) -> int:
    if encoding == UTF8:
        return len(text.encode("utf-8", "surrogatepass"))
    if encoding == UTF32:
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def to_offset(doc: Document, pos: types.Position, encoding: str = UTF16, *, clamp: bool = False) -> int:
    """Byte offset of an LSP position. A character past the line end means the line end (LSP spec).

    A line past the end is an error, unless ``clamp`` (used for edit ranges) makes it the document end.
    """
    if pos.line >= doc.line_count:
        if clamp:
            return len(doc.text)
        raise PositionError(f"line {pos.line} is past the end of the document ({doc.line_count} lines)")
    start = doc.line_start(pos.line)
    line = doc.line_text(pos.line).decode("utf-8", "surrogatepass")
    units = 0
    for i, ch in enumerate(line):
        if units >= pos.character:
            return start + len(line[:i].encode("utf-8", "surrogatepass"))
        units += char_units(ch, encoding)
    return start + len(line.encode("utf-8", "surrogatepass"))


def to_position(doc: Document, offset: int, encoding: str = UTF16) -> types.Position:
    line = doc.line_of(offset)
    prefix = doc.text[doc.line_start(line) : offset].decode("utf-8", "surrogatepass")
    return types.Position(line=line, character=text_units(prefix, encoding))


def to_lsp_inline_list(completion: Completion, cursor: types.Position) -> types.InlineCompletionList:
    """One item that replaces the cursor line's text before the cursor with that text plus the completion,
    so the client keeps showing it while the user types into it."""
    if not completion.text:
        return types.InlineCompletionList(items=[])
    item = types.InlineCompletionItem(
        insert_text=completion.line_prefix + completion.text,
        range=types.Range(start=types.Position(line=cursor.line, character=0), end=cursor),
    )
    return types.InlineCompletionList(items=[item])


def escape_snippet(text: str) -> str:
    return text.replace("\\", "\\\\").replace("$", "\\$").replace("}", "\\}")


def relative_to_indent(text: str, indent: str) -> str:
    """Remove the cursor line's indentation from continuation lines: snippet clients add it back."""
    lines = text.split("\n")
    out = [lines[0]]
    for line in lines[1:]:
        out.append(line[len(indent) :] if line.startswith(indent) else line.lstrip(" \t"))
    return "\n".join(out)


def to_lsp_completion_list(
    completion: Completion, cursor: types.Position, encoding: str, *, snippets: bool
) -> types.CompletionList:
    """A completion item whose ``textEdit`` starts at the word before the cursor, so clients that filter by
    that word keep it. Multi-word text goes out as a snippet, since Neovim 0.11 inserts only the first word
    of a plain-text item."""
    if not completion.text:
        return types.CompletionList(is_incomplete=True, items=[])
    prefix = completion.line_prefix
    word = m.group(0) if (m := WORD_BEFORE.search(prefix)) else ""
    indent = prefix[: len(prefix) - len(prefix.lstrip(" \t"))]
    start = types.Position(line=cursor.line, character=cursor.character - text_units(word, encoding))
    text = word + completion.text
    if snippets:
        new_text = escape_snippet(relative_to_indent(text, indent))
        fmt = types.InsertTextFormat.Snippet
    else:
        new_text, fmt = text, types.InsertTextFormat.PlainText
    first_line = text.split("\n", 1)[0]
    label = first_line.strip() or text.strip().split("\n", 1)[0]
    item = types.CompletionItem(
        label=label if len(label) <= 60 else label[:57] + "...",
        kind=types.CompletionItemKind.Snippet if "\n" in text else types.CompletionItemKind.Text,
        detail="smallcoder",
        documentation=types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```\n{text}\n```"),
        filter_text=first_line,
        sort_text="0",
        preselect=True,
        insert_text_format=fmt,
        text_edit=types.TextEdit(range=types.Range(start=start, end=cursor), new_text=new_text),
    )
    return types.CompletionList(is_incomplete=True, items=[item])
