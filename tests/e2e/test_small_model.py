"""The ``small`` rung (Qwen2.5-Coder-0.5B) end to end, whatever ``auto`` picks on this machine: a typing session
shows a suggestion at the pause, warm from the KV cache, and an invoked request fills a hole with the line the
code needs. Real server, real model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import start_session, wait_until_loaded
from tests.e2e.helpers import inline, open_doc, parses

pytestmark = pytest.mark.model

EXAMPLE = Path(__file__).parents[2] / "examples/inventory.py"
HOLE = 35
"""0-based: the empty body of ``total_quantity`` (indented by the editor)."""
WARM_UP_S = 15.0
"""The rest before the first key: long enough to prefill the window (~500 tokens) with this model on a busy
2-core machine (about 4 s idle)."""
KEY_S = 0.12
HOLD_S = 10.0
"""``completion.holdMs`` here: an automatic request is held until its suggestion is ready, or answered empty by
then. Longer than the default 1.5 s: speed is the bench's to measure, and a busy machine must not fail this."""


def typed(uri: str, line: int, column: int, chars: str, version: int) -> types.DidChangeTextDocumentParams:
    at = types.Position(line=line, character=column)
    return types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangePartial(range=types.Range(start=at, end=at), text=chars)],
    )


async def small_session(client: LanguageClient) -> str:
    patient = {"holdMs": int(HOLD_S * 1000), "timeoutMs": 60_000}  # the session merges settings shallowly
    await start_session(client, "neovim", {"model": "small", "completion": patient})
    status = await wait_until_loaded(client, timeout=300)
    assert status.state == "ready", status.message
    assert "small" in status.model
    return open_doc(client, EXAMPLE.read_text(encoding="utf-8"), "inventory.py")


async def test_typing_a_line_with_small_shows_a_warm_suggestion_at_the_pause(bare_client: LanguageClient):
    uri = await small_session(bare_client)
    indent = len(EXAMPLE.read_text(encoding="utf-8").split("\n")[HOLE])
    where = {"line": HOLE, "character": indent}
    bare_client.protocol.notify("smallcoder/warm", {"textDocument": {"uri": uri}, "position": where})
    await asyncio.sleep(WARM_UP_S)

    pending = []
    for i, char in enumerate("return s"):
        bare_client.text_document_did_change(typed(uri, HOLE, indent + i, char, version=2 + i))
        at = types.Position(line=HOLE, character=indent + i + 1)
        pending.append(asyncio.ensure_future(inline(bare_client, uri, at, invoked=False)))
        await asyncio.sleep(KEY_S)
    started = asyncio.get_running_loop().time()
    last = await asyncio.wait_for(pending[-1], HOLD_S + 5.0)
    waited = asyncio.get_running_loop().time() - started
    await asyncio.gather(*pending)  # the superseded ones were answered too (empty)

    assert last.items, f"no suggestion at the pause (answered after {waited:.2f} s)"
    assert str(last.items[0].insert_text).startswith(" " * indent + "return s")
    stats = (await bare_client.protocol.send_request_async("smallcoder/status", {})).lastCompletion
    assert stats.reused_tokens >= 0.9 * stats.prompt_tokens, stats  # the keystrokes reused the warm prompt


async def test_an_invoked_request_with_small_fills_the_hole(bare_client: LanguageClient):
    uri = await small_session(bare_client)
    source = EXAMPLE.read_text(encoding="utf-8")
    indent = len(source.split("\n")[HOLE])
    result = await inline(bare_client, uri, types.Position(line=HOLE, character=indent))
    assert result.items
    line = str(result.items[0].insert_text)  # the whole line: the editor's indentation, then the completion
    assert line.startswith(" " * indent + "return ") and not line[indent:].startswith(" "), line
    assert "self.items" in line, line  # the class's own data, which only the code around the hole shows
    lines = source.split("\n")
    lines[HOLE] = line
    assert parses("\n".join(lines)), line
