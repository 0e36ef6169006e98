"""The real server with the real embedded model, driven as VS Code and Neovim drive it."""

from __future__ import annotations

import asyncio

from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.helpers import apply_inline, end_of, inline, open_doc, parses

FIB = "def fibonacci(n):\n    "


async def test_inline_completion_in_a_function_body_parses_and_has_the_right_range(client: LanguageClient):
    uri = open_doc(client, FIB)
    result = await inline(client, uri, end_of(FIB))
    assert len(result.items) == 1
    item = result.items[0]
    assert item.range == types.Range(start=types.Position(line=1, character=0), end=types.Position(line=1, character=4))
    assert str(item.insert_text).startswith("    ") and str(item.insert_text).strip()
    new_text = apply_inline(FIB, item)
    assert parses(new_text), new_text
    assert new_text.startswith(FIB)


async def test_completion_request_returns_a_snippet_item_with_a_text_edit(client: LanguageClient):
    uri = open_doc(client, FIB)
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=end_of(FIB),
            context=types.CompletionContext(trigger_kind=types.CompletionTriggerKind.Invoked),
        )
    )
    assert isinstance(result, types.CompletionList) and len(result.items) == 1
    item = result.items[0]
    assert item.insert_text_format == types.InsertTextFormat.Snippet
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.range.start == item.text_edit.range.end == end_of(FIB)
    assert item.text_edit.new_text.strip()


async def test_mid_line_completion_stays_on_the_line(client: LanguageClient):
    text = "import os\n\n\ndef read_text(path):\n    with open(path) as f:\n        return f."
    uri = open_doc(client, text)
    result = await inline(client, uri, end_of(text))
    assert len(result.items) == 1
    item = result.items[0]
    assert "\n" not in str(item.insert_text)
    assert str(item.insert_text).startswith("        return f.")
    assert parses(apply_inline(text, item))


async def test_typing_updates_the_document_incrementally(client: LanguageClient):
    uri = open_doc(client, "def add(a, b):\n    ")
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=1, character=4), end=types.Position(line=1, character=4)
                    ),
                    text="return a",
                )
            ],
        )
    )
    result = await inline(client, uri, types.Position(line=1, character=12))
    if result.items:  # the model may think the line is complete; if it answers, the answer must fit
        item = result.items[0]
        assert str(item.insert_text).startswith("    return a")
        assert parses(apply_inline("def add(a, b):\n    return a", item))


async def test_a_superseded_request_comes_back_empty_and_the_newest_answers(client: LanguageClient):
    text = "class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        "
    uri = open_doc(client, text)
    first = asyncio.ensure_future(inline(client, uri, end_of(text), invoked=True))
    await asyncio.sleep(0.05)
    typed = text + "self.items.append("  # the user typed on before the first answer came
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=typed)],
        )
    )
    second = await inline(client, uri, end_of(typed, client.position_encoding), invoked=True)
    assert not (await first).items
    assert len(second.items) == 1
    assert str(second.items[0].insert_text).startswith("        self.items.append(")


async def test_cancel_request_is_honoured_and_the_server_keeps_serving(client: LanguageClient):
    big = "".join(f"def helper_{i}(x):\n    return x * {i}\n\n" for i in range(200)) + FIB
    uri = open_doc(client, big)
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        position=end_of(big),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
    )
    # pytest-lsp sends a request only once its coroutine runs: start it before cancelling it.
    future = asyncio.ensure_future(
        client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="to-cancel")
    )
    await asyncio.sleep(0.2)
    client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="to-cancel"))
    try:
        result = await future
    except Exception as exc:  # the JSON-RPC "request cancelled" error
        assert "cancel" in str(exc).lower()
    else:
        assert result is None or not result.items
    small = open_doc(client, FIB)
    assert len((await inline(client, small, end_of(FIB))).items) == 1
