"""The language server: document sync, settings, and the two completion requests.

Handlers are thin: LSP params become core calls (``Engine``, ``DocumentStore``) and the results become LSP
types again. Domain errors are translated here, in one place: a failed completion is an empty answer and a
log line; a model that cannot load is one ``window/showMessage``, not one per keystroke.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import uuid
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from smallcoder_lsp import __version__
from smallcoder_lsp.config import Config, decode_config
from smallcoder_lsp.context.documents import DocumentStore
from smallcoder_lsp.engine import Completion, Engine, ModelStatus
from smallcoder_lsp.errors import Cancelled, ModelLoadError, SmallcoderError
from smallcoder_lsp.server import convert, docstrings

log = logging.getLogger(__name__)

STATUS_NOTIFICATION = "smallcoder/statusChanged"
STATUS_REQUEST = "smallcoder/status"


class SmallcoderServer(LanguageServer):
    def __init__(self, config: Config, overrides: dict[str, Any] | None = None) -> None:
        super().__init__("smallcoder-lsp", __version__)
        self.overrides = overrides or {}
        """Settings given on the command line; they win over the editor's."""
        self.documents = DocumentStore()
        self.engine = Engine(config, self.documents, on_status=self._status_from_worker)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._told: set[str] = set()
        self._progress: str | None = None
        self._pending_problems: list[str] = []

    # -- settings -----------------------------------------------------------------------------------------

    def decode_settings(self, options: Any) -> tuple[Config, list[str]]:
        config, problems = decode_config(options)
        return dataclasses.replace(config, **self.overrides), problems

    @property
    def encoding(self) -> str:
        caps = self.protocol.server_capabilities if hasattr(self.protocol, "server_capabilities") else None
        return str(caps.position_encoding) if caps and caps.position_encoding else convert.UTF16

    # -- telling the user ---------------------------------------------------------------------------------

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        self.window_show_message(types.ShowMessageParams(type=kind, message=f"smallcoder: {message}"))

    def tell_once(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        if message not in self._told:
            self._told.add(message)
            self.tell(message, kind)

    def log_to_client(self, message: str, kind: types.MessageType = types.MessageType.Info) -> None:
        self.window_log_message(types.LogMessageParams(type=kind, message=message))

    def report_settings_problems(self, problems: list[str]) -> None:
        if problems:
            self.tell("ignored bad settings (defaults used): " + "; ".join(problems), types.MessageType.Warning)

    # -- model status ---------------------------------------------------------------------------------------

    def _status_from_worker(self, status: ModelStatus) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._on_status, status)

    def _on_status(self, status: ModelStatus) -> None:
        self.protocol.notify(STATUS_NOTIFICATION, status_payload(status, None))
        if status.state == "loading":
            self.log_to_client(f"smallcoder: {status.message}")
            self._begin_progress(status.message)
            return
        self._end_progress(status.message)
        if status.state == "error":
            self.tell_once(f"the model could not be loaded: {status.message}")
        else:
            self._told.clear()
            self.log_to_client(f"smallcoder: {status.message}")

    def _begin_progress(self, message: str) -> None:
        caps = self.client_capabilities.window
        if self._progress is not None or not (caps and caps.work_done_progress):
            return
        token = self._progress = f"smallcoder-load-{uuid.uuid4().hex[:8]}"

        def created(*_: Any) -> None:
            if self._progress == token:
                begin = types.WorkDoneProgressBegin(title="smallcoder", message=message)
                self.work_done_progress.begin(token, begin)

        self.work_done_progress.create(token, created)

    def _end_progress(self, message: str) -> None:
        token, self._progress = self._progress, None
        if token is not None and token in self.work_done_progress.tokens:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # -- completion ----------------------------------------------------------------------------------------

    async def complete_at(
        self, uri: str, position: types.Position, *, invoked: bool
    ) -> tuple[Completion, types.Position] | None:
        """Run the engine at an LSP position; None (and a log line) when nothing can be offered."""
        try:
            doc = self.documents.get(uri)
            offset = convert.to_offset(doc, position, self.encoding)
            cursor = convert.to_position(doc, offset, self.encoding)
            completion = await self.engine.complete(uri, offset, invoked=invoked)
        except Cancelled as exc:
            log.debug("completion for %s dropped: %s", uri, exc)
            return None
        except ModelLoadError as exc:
            self.tell_once(f"the model could not be loaded: {exc}")
            return None
        except SmallcoderError as exc:
            log.warning("no completion for %s: %s", uri, exc)
            self.log_to_client(f"smallcoder: no completion: {exc}", types.MessageType.Warning)
            return None
        except Exception:  # a bug must not take the server down; the traceback goes to the log
            log.exception("completion failed for %s", uri)
            return None
        return completion, cursor


def status_payload(status: ModelStatus, engine: Engine | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "state": status.state,
        "backend": status.backend,
        "model": status.model,
        "message": status.message,
        "version": __version__,
    }
    if engine is not None and engine.last_stats is not None:
        payload["lastCompletion"] = {**dataclasses.asdict(engine.last_stats), "raw_text": engine.last_raw_text}
    if engine is not None and engine.last_source:
        payload["lastSource"] = engine.last_source  # "typed": answered from a suggestion, no model call
    return payload


def create_server(config: Config | None = None, overrides: dict[str, Any] | None = None) -> SmallcoderServer:
    server = SmallcoderServer(config or Config(), overrides)

    @server.feature(types.INITIALIZE)
    def initialize(ls: SmallcoderServer, params: types.InitializeParams) -> None:
        config, problems = ls.decode_settings(params.initialization_options)
        ls.engine.config = config
        ls._pending_problems = problems

    @server.feature(types.INITIALIZED)
    def initialized(ls: SmallcoderServer, params: types.InitializedParams) -> None:
        ls.loop = asyncio.get_running_loop()
        ls.report_settings_problems(ls._pending_problems)
        ls.engine.start()

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: SmallcoderServer, params: types.DidChangeConfigurationParams) -> None:
        if params.settings is None:
            return
        config, problems = ls.decode_settings(params.settings)
        ls.report_settings_problems(problems)
        logging.getLogger().setLevel(config.log_level.upper())
        ls.engine.reconfigure(config)

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
                doc.apply_edit(start, max(start, end), new_text)
            else:
                doc.apply_edit(0, len(doc.text), new_text)
        doc.version = params.text_document.version
        if params.content_changes and isinstance(change, types.TextDocumentContentChangePartial):
            ls.engine.warm(uri, start)  # the engine skips it unless the edit is far from the last request

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: SmallcoderServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.documents.close(params.text_document.uri)
        ls.engine.forget(params.text_document.uri)

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

    docstrings.register(server)

    @server.feature(STATUS_REQUEST)
    def status(ls: SmallcoderServer, params: Any) -> dict[str, Any]:
        return status_payload(ls.engine.status, ls.engine)

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: SmallcoderServer, params: Any) -> None:
        ls.engine.shutdown()

    return server
