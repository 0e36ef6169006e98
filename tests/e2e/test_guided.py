"""Guided decoding against plain greedy, through the real server and model, on a real file.

The cut is line 103 of the stdlib's ``fnmatch.py`` (in the bench corpus): an ``else:`` whose body follows one level
deeper. Plain greedy (``completion.guided = false``, the path before constraints and candidates) repeats the
``if j >= n:`` two lines up (with a shorter prompt it writes a plain statement instead); the guided path branches
where the model is unsure and keeps the candidate after which the lines below are likeliest: ``else:``.

The test pins the embedded model: ``model = auto`` takes ``small`` on a faster machine, and its plain greedy
writes ``else:`` here too (CI), which says nothing about guiding.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import start_session, wait_until_loaded
from tests.e2e.helpers import apply_inline, inline, open_doc, parses

FNMATCH = Path(__file__).parents[2] / "smallcoder_lsp/bench/corpus/typing/fnmatch.py.txt"
LINE, COLUMN = 102, 12  # 0-based: the cursor after the indentation of `            else:`


def cut() -> tuple[str, str]:
    lines = FNMATCH.read_text(encoding="utf-8").split("\n")
    removed = lines[LINE][COLUMN:]
    lines[LINE] = lines[LINE][:COLUMN]
    return "\n".join(lines), removed


async def first_line(client: LanguageClient, text: str) -> tuple[str, str]:
    """The cut line after accepting the suggestion, and the whole document then."""
    uri = open_doc(client, text)
    result = await inline(client, uri, types.Position(line=LINE, character=COLUMN))
    assert result.items, "an empty answer"
    accepted = apply_inline(text, result.items[0])
    return accepted.split("\n")[LINE], accepted


@pytest.mark.model
async def test_guided_decoding_writes_the_line_the_code_below_needs_where_plain_greedy_did_not(
    bare_client: LanguageClient,
):
    text, removed = cut()
    assert removed == "else:" and parses(FNMATCH.read_text(encoding="utf-8"))
    await start_session(bare_client, "vscode", {"model": "tiny"})
    assert (await wait_until_loaded(bare_client)).state == "ready"

    guided, accepted = await first_line(bare_client, text)
    assert guided == " " * COLUMN + removed
    assert parses(accepted)

    settings = {"smallcoder": {"model": "tiny", "completion": {"guided": False, "timeoutMs": 60_000}}}
    bare_client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=settings))
    plain, accepted = await first_line(bare_client, text)
    assert plain.strip() != removed, "plain greedy is right here now: this test no longer shows a difference"
