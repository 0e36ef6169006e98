"""Docstring features: the ``smallcoder.generateDocstring`` command and the "Generate docstring" code action.

The command sends the edit with ``workspace/applyEdit`` and also returns a summary (deliberately not shaped
like a WorkspaceEdit, so that editors which apply a returned edit do not apply it twice). The code action is
listed cheaply and generated only when the client resolves it. Every edit names the document version it was
computed against; one that is stale by the time it is ready is not sent, and the user is told why.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import converters, types

from smallcoder_lsp.docstring.pipeline import DocstringEdit, definition_at, generate_docstring
from smallcoder_lsp.errors import Cancelled, DocstringError, SmallcoderError
from smallcoder_lsp.server import convert
from smallcoder_lsp.server.language_server import SmallcoderServer

log = logging.getLogger(__name__)

COMMAND = "smallcoder.generateDocstring"
KIND = types.CodeActionKind.RefactorRewrite
STALE = "the document changed while the docstring was being generated; it was not applied"


def to_lsp_edit(ls: SmallcoderServer, edit: DocstringEdit) -> types.WorkspaceEdit:
    doc = ls.documents.get(edit.uri)
    rng = types.Range(
        start=convert.to_position(doc, edit.start, ls.encoding), end=convert.to_position(doc, edit.end, ls.encoding)
    )
    text_edit = types.TextDocumentEdit(
        text_document=types.OptionalVersionedTextDocumentIdentifier(uri=edit.uri, version=edit.version),
        edits=[types.TextEdit(range=rng, new_text=edit.new_text)],
    )
    return types.WorkspaceEdit(document_changes=[text_edit])


def is_current(ls: SmallcoderServer, edit: DocstringEdit) -> bool:
    return edit.uri in ls.documents and ls.documents.get(edit.uri).version == edit.version


async def run_generation(ls: SmallcoderServer, uri: str, position: types.Position) -> DocstringEdit:
    """Generate under a per-document cancel token: a newer docstring request for the document wins."""
    doc = ls.documents.get(uri)
    offset = convert.to_offset(doc, position, ls.encoding)
    key = f"docstring:{uri}"
    token = ls.engine.claim(key)
    try:
        return await generate_docstring(ls.engine, uri, offset, ls.engine.config.docstring, token)
    finally:
        ls.engine.release(key, token)


def parse_arguments(arguments: tuple[Any, ...]) -> tuple[str, types.Position]:
    arg = arguments[0] if arguments else None
    if not isinstance(arg, dict) or "uri" not in arg or not isinstance(arg.get("position"), dict):
        raise DocstringError(f"{COMMAND} takes one argument {{uri, position}}, got {arguments!r}")
    uri, line, character = arg["uri"], arg["position"].get("line", 0), arg["position"].get("character", 0)
    if not isinstance(uri, str) or not all(is_uinteger(v) for v in (line, character)):
        raise DocstringError(f"{COMMAND} takes {{uri: string, position: {{line, character}}}}, got {arg!r:.200}")
    return uri, types.Position(line=line, character=character)


def is_uinteger(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


async def execute(ls: SmallcoderServer, arguments: tuple[Any, ...]) -> dict[str, Any]:
    """The command: generate, check the version, send the edit. Refusals raise (the editor shows them)."""
    uri, position = parse_arguments(arguments)
    try:
        edit = await run_generation(ls, uri, position)
    except Cancelled as exc:
        return {"applied": False, "reason": f"cancelled: {exc}"}
    except SmallcoderError as exc:
        log.info("no docstring for %s: %s", uri, exc)
        raise
    if not is_current(ls, edit):
        ls.tell(STALE, types.MessageType.Warning)
        return {"applied": False, "reason": STALE, "docstring": edit.docstring}
    workspace_edit = to_lsp_edit(ls, edit)
    summary = {
        "name": edit.name,
        "docstring": edit.docstring,
        "edit": converters.get_converter().unstructure(workspace_edit),
    }
    caps = ls.client_capabilities.workspace
    if not (caps and caps.apply_edit):
        return {**summary, "applied": False, "reason": "the client cannot apply edits (workspace.applyEdit)"}
    result = await ls.workspace_apply_edit_async(
        types.ApplyWorkspaceEditParams(edit=workspace_edit, label=f"Docstring for {edit.name}")
    )
    applied = bool(result and result.applied)  # a client may answer null
    reason = (result.failure_reason if result else None) or ("" if applied else "the editor refused it")
    if not applied:
        ls.tell(f"the docstring was not applied: {reason}")
    return {**summary, "applied": applied, "reason": reason}


def code_actions(ls: SmallcoderServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    """ "Generate docstring" (or "Regenerate") on a function or class, without generating anything yet."""
    if params.context.only and not any(KIND.value.startswith(getattr(k, "value", k)) for k in params.context.only):
        return []
    uri = params.text_document.uri
    try:
        doc = ls.documents.get(uri)
        info = definition_at(doc, convert.to_offset(doc, params.range.start, ls.encoding))
    except SmallcoderError:
        return []
    verb = "Regenerate" if info.docstring is not None else "Generate"
    start = params.range.start
    data = {"uri": uri, "position": {"line": start.line, "character": start.character}, "version": doc.version}
    return [types.CodeAction(title=f"{verb} docstring", kind=KIND, data=data)]


async def resolve(ls: SmallcoderServer, action: types.CodeAction) -> types.CodeAction:
    """Generate the docstring the action promised; a stale or failed one leaves the action without an edit."""
    data = action.data if isinstance(action.data, dict) else {}
    try:
        uri, position = parse_arguments((data,))
        if ls.documents.get(uri).version != data.get("version"):
            raise DocstringError(STALE)
        edit = await run_generation(ls, uri, position)
    except Cancelled:
        return action
    except SmallcoderError as exc:
        ls.tell(f"no docstring: {exc}", types.MessageType.Warning)
        return action
    if not is_current(ls, edit):
        ls.tell(STALE, types.MessageType.Warning)
        return action
    action.edit = to_lsp_edit(ls, edit)
    return action


def register(server: SmallcoderServer) -> None:
    # pygls reads the command's annotations at run time: keep them to names it can resolve.
    @server.command(COMMAND)
    async def generate_docstring_command(ls: Any, *arguments: Any) -> Any:
        return await execute(ls, arguments)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[KIND], resolve_provider=True)
    )
    def code_action(ls: SmallcoderServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        # VS Code asks for code actions wherever the cursor goes (its light bulb): the one sign a client gives of
        # where the user will type next, so the prompt there is warmed before the first key.
        ls.warm_at(params.text_document.uri, params.range.end)
        return code_actions(ls, params)

    @server.feature(types.CODE_ACTION_RESOLVE)
    async def code_action_resolve(ls: SmallcoderServer, action: types.CodeAction) -> types.CodeAction:
        return await resolve(ls, action)
