from __future__ import annotations

import ast
import itertools

from lsprotocol import types
from pytest_lsp import LanguageClient

_ids = itertools.count(1)


def open_doc(client: LanguageClient, text: str, name: str = "", language: str = "python") -> str:
    uri = f"file:///tmp/smallcoder-e2e/{name or f'doc{next(_ids)}.py'}"
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)
        )
    )
    return uri


CODECS = {"utf-8": ("utf-8", 1), "utf-16": ("utf-16-le", 2), "utf-32": ("utf-32-le", 4)}


def units(text: str, encoding: str = "utf-16") -> int:
    codec, width = CODECS[encoding]
    return len(text.encode(codec)) // width


def end_of(text: str, encoding: str = "utf-16") -> types.Position:
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=units(lines[-1], encoding))


async def inline(
    client: LanguageClient, uri: str, position: types.Position, invoked: bool = True
) -> types.InlineCompletionList:
    kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=position,
            context=types.InlineCompletionContext(trigger_kind=kind),
        )
    )
    assert isinstance(result, types.InlineCompletionList)
    return result


def apply_inline(text: str, item: types.InlineCompletionItem, encoding: str = "utf-16") -> str:
    """Apply an inline item as an editor would: replace its (single-line) range with its text."""
    assert item.range is not None and item.range.start.line == item.range.end.line
    codec, width = CODECS[encoding]
    lines = text.split("\n")
    data = lines[item.range.start.line].encode(codec)
    start, end = item.range.start.character * width, item.range.end.character * width
    lines[item.range.start.line] = data[:start].decode(codec) + str(item.insert_text) + data[end:].decode(codec)
    return "\n".join(lines)


def parses(source: str) -> bool:
    try:
        ast.parse(source)
    except SyntaxError:
        return False
    return True
