"""Docstrings through the real server and the real embedded model: the command, the code action, stale edits."""

from __future__ import annotations

import ast
import asyncio
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from tests.e2e.conftest import start_session, wait_until_loaded
from tests.e2e.helpers import open_doc, parses

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# (module, function): a plain function, one with a default and a nested def, and a method with self.
FUNCTIONS = [("colorsys.py", "rgb_to_hls"), ("textwrap.py", "indent"), ("shlex.py", "quote")]
OPTIONS = {"docstring": {"maxTokens": 16}}


def without_docstring(path: Path, name: str) -> tuple[str, ast.FunctionDef]:
    """The module's text with ``name``'s docstring removed, and that function's node (in the new text)."""
    text = path.read_text()
    func = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == name)
    lines = text.split("\n")
    doc = func.body[0]
    if isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str):
        del lines[doc.lineno - 1 : doc.end_lineno]
    text = "\n".join(lines)
    new = next(n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef) and n.name == name)
    return text, new


def apply(text: str, edit: types.TextEdit) -> str:
    """Apply one edit (ASCII text: UTF-16 units are characters)."""
    lines = text.split("\n")
    start = sum(len(x) + 1 for x in lines[: edit.range.start.line]) + edit.range.start.character
    end = sum(len(x) + 1 for x in lines[: edit.range.end.line]) + edit.range.end.character
    return text[:start] + edit.new_text + text[end:]


async def session(client: LanguageClient) -> list[types.ApplyWorkspaceEditParams]:
    applied: list[types.ApplyWorkspaceEditParams] = []

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        applied.append(params)
        return types.ApplyWorkspaceEditResult(applied=True)

    await start_session(client, "vscode", OPTIONS)
    assert (await wait_until_loaded(client)).state == "ready"
    return applied


def command(client: LanguageClient, uri: str, line: int, character: int = 0) -> Any:
    args = [{"uri": uri, "position": {"line": line, "character": character}}]
    return client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="smallcoder.generateDocstring", arguments=args)
    )


def only_edit(params: types.ApplyWorkspaceEditParams, uri: str, version: int) -> types.TextEdit:
    (change,) = params.edit.document_changes or []
    assert isinstance(change, types.TextDocumentEdit)
    assert change.text_document.uri == uri and change.text_document.version == version
    (edit,) = change.edits
    assert isinstance(edit, types.TextEdit)
    return edit


@pytest.mark.parametrize(("module", "name"), FUNCTIONS)
async def test_stdlib_function_gets_a_docstring_and_nothing_else(bare_client: LanguageClient, module, name):
    applied = await session(bare_client)
    text, func = without_docstring(STDLIB / module, name)
    uri = open_doc(bare_client, text, name=f"{name}.py")
    result = await command(bare_client, uri, func.body[0].lineno - 1, 4)
    assert result["applied"] and result["name"] == name
    edit = only_edit(applied[0], uri, 1)
    assert edit.range.start == edit.range.end  # an insertion: nothing else is touched
    assert edit.range.start.line == func.body[0].lineno - 2  # at the end of the signature's last line
    new = apply(text, edit)
    assert parses(new) and new.replace(edit.new_text, "", 1) == text
    node = next(n for n in ast.walk(ast.parse(new)) if isinstance(n, ast.FunctionDef) and n.name == name)
    doc = ast.get_docstring(node)
    assert doc and result["docstring"].startswith('"""') and doc.split("\n")[0] in result["docstring"]
    names = [a.arg for a in node.args.args if a.arg not in ("self", "cls")]
    assert names and all(f"{n}:" in doc or f"{n} (" in doc for n in names)
    assert all(len(line) <= 88 for line in edit.new_text.split("\n"))


async def test_code_action_only_where_it_applies(bare_client: LanguageClient):
    await session(bare_client)
    text = 'x = 1\n\n\ndef add(a, b):\n    return a + b\n\n\ndef named(n):\n    """Has one."""\n    return n\n'
    uri = open_doc(bare_client, text)

    async def actions(line: int) -> list[types.CodeAction]:
        rng = types.Range(start=types.Position(line=line, character=4), end=types.Position(line=line, character=4))
        result = await bare_client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=rng,
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        return [a for a in result or [] if isinstance(a, types.CodeAction)]

    assert await actions(0) == []
    (generate,) = await actions(4)
    assert generate.title == "Generate docstring" and generate.kind == types.CodeActionKind.RefactorRewrite
    assert generate.edit is None  # listing is cheap: the edit comes on resolve
    (regenerate,) = await actions(9)
    assert regenerate.title == "Regenerate docstring"
    resolved = await bare_client.code_action_resolve_async(regenerate)
    assert resolved.edit is not None
    (change,) = resolved.edit.document_changes or []
    (edit,) = change.edits  # type: ignore[union-attr]
    assert (edit.range.start.line, edit.range.start.character) == (8, 4)  # exactly the old docstring
    assert (edit.range.end.line, edit.range.end.character) == (8, 18)
    new = apply(text, edit)  # type: ignore[arg-type]
    assert parses(new) and "Has one" not in new and new.count("def ") == 2


async def test_a_document_edited_while_generating_is_not_changed(bare_client: LanguageClient):
    applied = await session(bare_client)
    text = "def scale(values, factor):\n    return [v * factor for v in values]\n"
    uri = open_doc(bare_client, text)
    pending = asyncio.ensure_future(command(bare_client, uri, 1, 4))
    await asyncio.sleep(0.3)  # the request is out and generating
    bare_client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="# edited\n" + text)],
        )
    )
    result = await pending
    assert not result["applied"] and "changed" in result["reason"]
    assert applied == []
    assert any("changed" in m.message for m in bare_client.messages)


async def test_lambdas_and_blank_lines_are_refused_clearly(bare_client: LanguageClient):
    await session(bare_client)
    uri = open_doc(bare_client, "square = lambda x: x * x\n\n\ndef f(a):\n    return a\n")
    with pytest.raises(JsonRpcException, match="lambda"):
        await command(bare_client, uri, 0, 12)
    with pytest.raises(JsonRpcException, match="not inside a function"):
        await command(bare_client, uri, 1, 0)
