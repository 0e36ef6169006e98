"""The language server object: settings, what the user is told, the model's status, and completion at an LSP
position. Handlers (``app.py``, ``docstrings.py``) call into it; it calls the engine.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import threading
import uuid
from concurrent.futures import Future
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from smallcoder_lsp import __version__
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.completion.result import Completion
from smallcoder_lsp.completion.worker import ModelStatus
from smallcoder_lsp.config import Config, decode_config, to_camel
from smallcoder_lsp.context.documents import DocumentStore
from smallcoder_lsp.errors import (
    BackendFailure,
    Cancelled,
    DeviceMemoryError,
    ModelLoadError,
    RemoteError,
    SmallcoderError,
)
from smallcoder_lsp.server import convert
from smallcoder_lsp.server.protocol import SmallcoderProtocol, strict_converter

log = logging.getLogger(__name__)

STATUS_NOTIFICATION = "smallcoder/statusChanged"
STATUS_REQUEST = "smallcoder/status"
READY_NOTIFICATION = "smallcoder/suggestionReady"
WARM_NOTIFICATION = "smallcoder/warm"
"""From our clients: ``{textDocument: {uri}, position}`` where the cursor came to rest; typing may follow."""


# A failure the model was put right after: the user hears of it once, until a completion works again.
FAILURES = (BackendFailure, RemoteError, DeviceMemoryError)


class SmallcoderServer(LanguageServer):
    protocol: SmallcoderProtocol

    def __init__(self, config: Config, overrides: dict[str, Any] | None = None) -> None:
        super().__init__(
            "smallcoder-lsp", __version__, protocol_cls=SmallcoderProtocol, converter_factory=strict_converter
        )
        self.overrides = overrides or {}
        """Settings given on the command line; they win over the editor's."""
        self.documents = DocumentStore()
        self.engine = Engine(
            config, self.documents, on_status=self._status_from_worker, on_ready=self._suggestion_ready
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self._told: set[str] = set()
        self._failure_told = False
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

    def tell_failure(self, exc: SmallcoderError) -> None:
        """One message per outage: a backend that fails on every keystroke is reported once, until a
        completion works again."""
        log.warning("no completion: %s", exc)
        self.log_to_client(f"smallcoder: no completion: {exc}", types.MessageType.Warning)
        if not self._failure_told:
            self._failure_told = True
            self.tell(str(exc), types.MessageType.Warning)

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls shows every failed notification to the user; a line in the log is enough (and no popup
        storm when a client sends a burst of bad notifications)."""
        log.error("error while handling a message: %s", error)

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

        def created(future: Future[Any]) -> None:
            # pygls's own callback re-raises when the request fails or is cancelled at shutdown: check first.
            if future.cancelled() or future.exception() is not None or self._progress != token:
                return
            self.work_done_progress.begin(token, types.WorkDoneProgressBegin(title="smallcoder", message=message))

        create = types.WorkDoneProgressCreateParams(token=token)
        self.protocol.send_request(types.WINDOW_WORK_DONE_PROGRESS_CREATE, create).add_done_callback(created)

    def _end_progress(self, message: str) -> None:
        token, self._progress = self._progress, None
        if token is not None and token in self.work_done_progress.tokens:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=message))

    # -- completion ----------------------------------------------------------------------------------------

    def _suggestion_ready(self, uri: str, version: int, offset: int) -> None:
        """On the loop: a suggestion is ready where an earlier request got none; our clients ask again."""
        if uri not in self.documents or self.documents.get(uri).version != version:
            return
        position = convert.to_position(self.documents.get(uri), offset, self.encoding)
        params = {"uri": uri, "version": version, "position": {"line": position.line, "character": position.character}}
        self.protocol.notify(READY_NOTIFICATION, params)

    def warm_at(self, uri: str, position: types.Position) -> None:
        """Prefill the prompt at ``position`` in the background: the cursor went there, typing may follow. The
        engine skips it near the last request, and any request cancels it."""
        try:
            doc = self.documents.get(uri)
            self.engine.warm(uri, convert.to_offset(doc, position, self.encoding, clamp=True))
        except SmallcoderError as exc:
            log.debug("not warming %s: %s", uri, exc)

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
        except FAILURES as exc:
            self.tell_failure(exc)
            return None
        except SmallcoderError as exc:
            log.warning("no completion for %s: %s", uri, exc)
            self.log_to_client(f"smallcoder: no completion: {exc}", types.MessageType.Warning)
            return None
        except Exception:  # a bug must not take the server down; the traceback goes to the log
            log.exception("completion failed for %s", uri)
            return None
        self._failure_told = False
        return completion, cursor


def status_payload(status: ModelStatus, engine: Engine | None, debug: bool = False) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "state": status.state,
        "backend": status.backend,
        "model": status.model,
        "modelPath": status.path,
        "message": status.message,
        "version": __version__,
    }
    if engine is not None and engine.last_stats is not None:
        payload["lastCompletion"] = {**dataclasses.asdict(engine.last_stats), "raw_text": engine.last_raw_text}
    if engine is not None and engine.last_source:
        payload["lastSource"] = engine.last_source  # "typed": answered from a suggestion, no model call
    if engine is not None:
        payload["worker"] = {to_camel(k): v for k, v in dataclasses.asdict(engine.worker.stats).items()}
    if engine is not None and debug:
        payload["documents"] = document_digests(engine.documents)
        payload["process"] = process_figures()
    return payload


def document_digests(documents: DocumentStore) -> dict[str, dict[str, Any]]:
    """What the server holds of each document, for tests that compare it with the editor's copy."""
    digests = {}
    for uri in documents.uris():
        doc = documents.get(uri)
        digests[uri] = {"version": doc.version, "sha256": hashlib.sha256(doc.text).hexdigest(), "lines": doc.line_count}
    return digests


def process_figures() -> dict[str, Any]:
    """Threads, open file descriptors and resident memory of this process (the fds and RSS on Linux only)."""
    figures: dict[str, Any] = {"threads": threading.active_count()}
    try:
        figures["fds"] = len(os.listdir("/proc/self/fd"))
        with open("/proc/self/statm") as statm:
            figures["rssBytes"] = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    return figures
