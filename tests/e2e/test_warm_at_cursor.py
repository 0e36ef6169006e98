"""The cursor going somewhere warms the prompt there, so that the first key typed there starts warm.

VS Code asks for code actions where the cursor goes (for its light bulb), except in whitespace; our editor clients
send `smallcoder/warm` once the cursor rests. The server takes either as the sign of where the user will type,
and prefills the prompt there in the background. Real server, real model, a real file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import start_session, wait_until_loaded
from tests.e2e.helpers import inline, open_doc

SOURCE = Path(__file__).parents[2] / "smallcoder_lsp/bench/corpus/typing/pygls_json_rpc.py.txt"
CLICKED, ELSEWHERE = 150, 419  # 0-based lines, each cut after its indentation: far apart (windows differ)
WARM_UP_S = 6.0
"""Long enough for a background prefill of ~1,000 tokens on a slow 2-core machine (about 1.5 s here)."""
BRIEF_REST_S = 1.0
"""A rest before the first key that is too short for the whole window (~1,000 tokens) on a 2-core CPU."""
FINISH_S = 3.0
"""Long enough for an automatic request's decode to finish after its first line was shown."""


def cut_text() -> str:
    lines = SOURCE.read_text(encoding="utf-8").split("\n")
    for line in (CLICKED, ELSEWHERE):
        lines[line] = lines[line][: len(lines[line]) - len(lines[line].lstrip())]
    return "\n".join(lines)


async def opened(client: LanguageClient, editor: str) -> str:
    """A session as ``editor`` with the cut file open, after the warm-up on open (the end of the file)."""
    await start_session(client, editor)
    assert (await wait_until_loaded(client)).state == "ready"
    uri = open_doc(client, cut_text())
    await asyncio.sleep(WARM_UP_S)
    return uri


def rest_at(client: LanguageClient, uri: str, line: int) -> None:
    """What our editor clients send when the cursor comes to rest on ``line``'s cut."""
    where = {"line": line, "character": len(cut_text().split("\n")[line])}
    client.protocol.notify("smallcoder/warm", {"textDocument": {"uri": uri}, "position": where})


async def reuse_at(client: LanguageClient, uri: str, line: int, invoked: bool = True) -> float:
    """The share of the prompt found in the KV cache by a request at ``line``'s cut."""
    text = cut_text()
    position = types.Position(line=line, character=len(text.split("\n")[line]))
    await inline(client, uri, position, invoked)  # invoked: answered when finished, so its figures are the last ones
    if not invoked:
        await asyncio.sleep(FINISH_S)  # an automatic request is answered with its first line
    stats = (await client.protocol.send_request_async("smallcoder/status", {})).lastCompletion
    return stats.reused_tokens / stats.prompt_tokens


@pytest.mark.model
async def test_a_code_action_request_warms_the_prompt_where_the_cursor_is(bare_client: LanguageClient):
    uri = await opened(bare_client, "vscode")
    here = types.Position(line=CLICKED, character=8)
    await bare_client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=here, end=here),
            context=types.CodeActionContext(diagnostics=[], trigger_kind=types.CodeActionTriggerKind.Automatic),
        )
    )
    await asyncio.sleep(WARM_UP_S)
    assert await reuse_at(bare_client, uri, CLICKED) > 0.9  # warm: only the last tokens evaluated
    assert await reuse_at(bare_client, uri, ELSEWHERE) < 0.5  # no sign of the cursor there: a cold start


@pytest.mark.model
async def test_the_warm_notification_warms_the_prompt_where_the_cursor_rests(bare_client: LanguageClient):
    uri = await opened(bare_client, "neovim")
    for bad in (
        {},
        {"textDocument": {"uri": uri}},
        {"textDocument": {"uri": uri}, "position": {"line": -1}},
        {"textDocument": {"uri": uri}, "position": {"line": 2**40, "character": 0}},
    ):
        bare_client.protocol.notify("smallcoder/warm", bad)  # ignored, and the server stays up
    bare_client.protocol.notify("smallcoder/warm", {"textDocument": {"uri": "file:///not/open.py"}, "position": {}})
    rest_at(bare_client, uri, CLICKED)
    await asyncio.sleep(WARM_UP_S)
    assert await reuse_at(bare_client, uri, CLICKED) > 0.9
    assert await reuse_at(bare_client, uri, ELSEWHERE) < 0.5


@pytest.mark.model
async def test_after_a_brief_rest_the_first_key_finds_its_prompt_warm(bare_client: LanguageClient):
    # The whole window cannot be prefilled in a second here; the short window the first automatic request takes
    # instead (see completion/budget.py) is, since the warm-up prefills it first.
    uri = await opened(bare_client, "neovim")
    rest_at(bare_client, uri, CLICKED)
    await asyncio.sleep(BRIEF_REST_S)
    assert await reuse_at(bare_client, uri, CLICKED, invoked=False) > 0.9
