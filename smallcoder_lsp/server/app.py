"""The handlers: document sync, settings, the two completion requests, docstrings and status.

Handlers are thin: LSP params become core calls (``Engine``, ``DocumentStore``) and the results become LSP
types again. Domain errors are translated in ``SmallcoderServer``, in one place: a failed completion is an empty
answer and a log line; a model that cannot load is one ``window/showMessage``, not one per keystroke.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from smallcoder_lsp.config import Config
from smallcoder_lsp.server import convert, docstrings
from smallcoder_lsp.server.language_server import (
    STATUS_REQUEST,
    WARM_NOTIFICATION,
    SmallcoderServer,
    status_payload,
)

log = logging.getLogger(__name__)


def create_server(config: Config | None = None, overrides: dict[str, Any] | None = None) -> SmallcoderServer:
    server = SmallcoderServer(config or Config(), overrides)
    register_lifecycle(server)
    register_sync(server)
    register_completion(server)
    docstrings.register(server)
    return server


def field(params: Any, name: str) -> Any:
    """``params[name]``: pygls hands a custom method's params as an object, or as a dict; None when absent."""
    return params.get(name) if isinstance(params, dict) else getattr(params, name, None)


def use_log_level(config: Config) -> None:
    """The settings' log level, from the first settings on (``--log-level`` has already overridden them)."""
    logging.getLogger().setLevel(config.log_level.upper())


def register_lifecycle(server: SmallcoderServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: SmallcoderServer, params: types.InitializeParams) -> None:
        config, problems = ls.decode_settings(params.initialization_options)
        ls.engine.config = config
        ls._pending_problems = problems
        use_log_level(config)

    @server.feature(types.INITIALIZED)
    def initialized(ls: SmallcoderServer, params: types.InitializedParams) -> None:
        if ls.loop is not None:
            log.warning("a second 'initialized' notification; ignored (the model is loaded once)")
            return
        ls.loop = asyncio.get_running_loop()
        ls.report_settings_problems(ls._pending_problems)
        ls.engine.start()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: SmallcoderServer, params: types.DidChangeConfigurationParams) -> None:
        if params.settings is None:
            return
        config, problems = ls.decode_settings(params.settings)
        ls.report_settings_problems(problems)
        use_log_level(config)
        ls.engine.reconfigure(config)

    @server.feature(STATUS_REQUEST)
    def status(ls: SmallcoderServer, params: Any) -> dict[str, Any]:
        # {"debug": true} adds each document's digest and the process's figures (pygls hands params as an object)
        debug = field(params, "debug") is True
        return status_payload(ls.engine.status, ls.engine, debug)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: SmallcoderServer, params: Any) -> None:
        ls.engine.shutdown()


def register_sync(server: SmallcoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: SmallcoderServer, params: types.DidOpenTextDocumentParams) -> None:
        td = params.text_document
        ls.documents.open(td.uri, td.language_id, td.version, td.text)
        ls.engine.warm(td.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: SmallcoderServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        if uri not in ls.documents:
            log.warning("didChange for %s, which is not open; ignored", uri)
            return
        doc = ls.documents.get(uri)
        for change in params.content_changes:
            new_text = change.text.encode("utf-8", "surrogatepass")
            if isinstance(change, types.TextDocumentContentChangePartial):
                start = convert.to_offset(doc, change.range.start, ls.encoding, clamp=True)
                end = convert.to_offset(doc, change.range.end, ls.encoding, clamp=True)
                start, end = min(start, end), max(start, end)  # an inverted range, as VS Code's TextDocument does
                doc.apply_edit(start, end, new_text)
            else:
                doc.apply_edit(0, len(doc.text), new_text)
        doc.version = params.text_document.version
        if params.content_changes and isinstance(change, types.TextDocumentContentChangePartial):
            ls.engine.warm(uri, start)  # the engine skips it unless the edit is far from the last request

    @server.feature(WARM_NOTIFICATION)
    def warm(ls: SmallcoderServer, params: Any) -> None:
        # Our editor clients say where the cursor came to rest (VS Code's own code-action requests say it too, but
        # not while the cursor sits in whitespace, where new lines start).
        uri, position = field(field(params, "textDocument"), "uri"), field(params, "position")
        line, character = field(position, "line"), field(position, "character")
        if not isinstance(uri, str) or not all(isinstance(n, int) and 0 <= n < 2**31 for n in (line, character)):
            log.debug("%s with bad params %r; ignored", WARM_NOTIFICATION, params)
            return
        if uri in ls.documents:
            ls.warm_at(uri, types.Position(line=line, character=character))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SmallcoderServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.close(params.text_document.uri)
        ls.engine.forget(params.text_document.uri)


def register_completion(server: SmallcoderServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(
        ls: SmallcoderServer, params: types.InlineCompletionParams
    ) -> types.InlineCompletionList:
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        result = await ls.complete_at(params.text_document.uri, params.position, invoked=invoked)
        if result is None:
            return types.InlineCompletionList(items=[])
        return convert.to_lsp_inline_list(*result)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[".", "(", " "]))
    async def completion(ls: SmallcoderServer, params: types.CompletionParams) -> types.CompletionList:
        invoked = params.context is None or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        result = await ls.complete_at(params.text_document.uri, params.position, invoked=invoked)
        if result is None:
            return types.CompletionList(is_incomplete=True, items=[])
        caps = ls.client_capabilities.text_document
        item_caps = caps.completion.completion_item if caps and caps.completion else None
        snippets = bool(item_caps and item_caps.snippet_support)
        return convert.to_lsp_completion_list(*result, ls.encoding, snippets=snippets)
