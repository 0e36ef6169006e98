"""The ``small`` rung (Qwen2.5-Coder-0.5B-Instruct) writes a real docstring through the command: the file parses,
every parameter is named and described by the model, and no chat text (role markers, "Sure, here is", fences,
quotes, the name again) is in it. Real server, real model: CI's one proof that ``small`` writes docstrings."""

from __future__ import annotations

import ast
import re

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from tests.e2e.conftest import start_session, wait_until_loaded
from tests.e2e.helpers import open_doc, parses
from tests.e2e.test_docstring import apply, command, only_edit

pytestmark = pytest.mark.model

SOURCE = """import json


def load_settings(path, defaults=None, *, strict=False):
    with open(path, encoding="utf-8") as f:
        values = json.load(f)
    if strict and not isinstance(values, dict):
        raise ValueError(f"{path} does not hold an object")
    return {**(defaults or {}), **values}
"""
NAME = "load_settings"
PARAMS = ("path", "defaults", "strict")
CHAT_TEXT = re.compile(
    r"<\||\|>|\b(assistant|user|system)\s*:|```|\*\*|\b(sure|certainly|here is|here's)\b|load_settings|\bdef |^[\"']",
    re.I | re.M,
)
FALLBACKS = re.compile(r"^The \w+ argument\.$|^The result\.$|^If the input is invalid\.$")


async def test_small_writes_a_docstring_with_no_chat_text(bare_client: LanguageClient):
    applied: list[types.ApplyWorkspaceEditParams] = []

    @bare_client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    await start_session(bare_client, "vscode", {"model": "small"})
    status = await wait_until_loaded(bare_client, timeout=300)
    assert status.state == "ready", status.message
    assert "small" in status.model, status.model
    uri = open_doc(bare_client, SOURCE, name="settings.py")

    result = await command(bare_client, uri, 3, 8)
    assert result["applied"] and result["name"] == NAME, result
    new = apply(SOURCE, only_edit(applied[0], uri, 1))
    assert parses(new)
    node = next(n for n in ast.walk(ast.parse(new)) if isinstance(n, ast.FunctionDef) and n.name == NAME)
    doc = ast.get_docstring(node) or ""
    summary, *rest = doc.split("\n")
    assert summary and summary != f"The {NAME} function.", doc  # the model's summary, not the fallback
    for name in PARAMS:
        (line,) = [r.strip() for r in rest if r.strip().startswith(f"{name}:")]
        description = line.split(":", 1)[1].strip()
        assert re.search(r"[a-z]{3}", description) and not FALLBACKS.match(description), doc
    assert not CHAT_TEXT.search(doc), doc
    assert "Raises:" in doc and "ValueError:" in doc
