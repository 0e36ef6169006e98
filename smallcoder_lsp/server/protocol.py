"""The JSON-RPC protocol as pygls implements it, with the LSP lifecycle enforced and bad messages answered.

pygls leaves a few things to the server, and a fuzzed session finds each of them:
- a request before ``initialize`` must be answered with ServerNotInitialized, and one after ``shutdown`` with
  InvalidRequest; pygls runs the first and never answers the second (the client waits forever);
- a request whose params do not fit its method must be answered with InvalidParams; pygls logs a traceback
  and never answers;
- a refusal (a :class:`~smallcoder_lsp.errors.SmallcoderError`) is an error answer and one log line, not a
  traceback per request;
- lsprotocol's converter turns any value into a string or a number (``"text": null`` became the text "None"
  in the document); ours refuses a value of the wrong type instead.
Documents are ours alone (:class:`~smallcoder_lsp.context.documents.DocumentStore`): pygls's own copy of every
text is switched off, so a 10 MB document is held once and an edit pygls could not apply cannot stop ours.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from typing import Any

from cattrs import Converter
from cattrs.errors import ClassValidationError
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, default_converter
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage, JsonRPCResponseMessage, MsgId

from smallcoder_lsp.errors import SmallcoderError

log = logging.getLogger(__name__)

SERVER_NOT_INITIALIZED = -32002
INVALID_REQUEST = -32600
REQUEST_FAILED = -32803

# pygls keeps a second copy of every document in its workspace; we keep ours (see the module docstring).
UNUSED_BUILTINS = (types.TEXT_DOCUMENT_DID_OPEN, types.TEXT_DOCUMENT_DID_CHANGE, types.TEXT_DOCUMENT_DID_CLOSE)


def strict_converter() -> Converter:
    """pygls's converter, except that strings, numbers and booleans must be sent as such."""
    converter = default_converter()

    def exactly(kind: type) -> Any:
        def structure(value: Any, _: Any) -> Any:
            if type(value) is kind or (kind is float and type(value) is int):
                return value
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")

        return structure

    for kind in (str, int, float, bool):
        converter.register_structure_hook(kind, exactly(kind))
    return converter


class SmallcoderProtocol(LanguageServerProtocol):
    def __init__(self, server: Any, converter: Any) -> None:
        super().__init__(server, converter)
        self.initialize_seen = False

    def _register_builtin_features(self) -> None:
        super()._register_builtin_features()
        for method in UNUSED_BUILTINS:
            self.fm.builtin_features.pop(method, None)

    def structure_message(self, data: dict[str, Any]) -> Any:
        """A message as its lsprotocol type; a message that does not fit raises, with no traceback logged."""
        if "jsonrpc" not in data:
            return data
        try:
            if "id" in data and "error" in data:
                return self._converter.structure(data, types.ResponseErrorMessage)
            if "id" in data and "method" in data:
                return self._converter.structure(data, self.get_message_type(data["method"]) or JsonRPCRequestMessage)
            if "id" in data:
                response_type = self._result_types.pop(data["id"], None) or JsonRPCResponseMessage
                return self._converter.structure(data, response_type)
            method = data.get("method", "")
            return self._converter.structure(data, self.get_message_type(method) or JsonRPCNotification)
        except ClassValidationError as exc:
            raise JsonRpcInvalidParams(f"the params do not fit {data.get('method')!r}: {brief(exc)}") from exc
        except Exception as exc:
            raise JsonRpcInternalError(f"cannot read the message: {type(exc).__name__}: {exc}") from exc

    def receive(self, data: dict[str, Any]) -> None:
        """Dispatch one JSON-RPC message (an object that is well formed), unless the lifecycle refuses it or its
        params do not fit its method: a request is then answered with the error, a notification dropped."""
        method = data.get("method")
        is_request = method is not None and "id" in data
        try:
            if method is not None and (refusal := self.refusal(method)) is not None:
                raise JsonRpcException(refusal[1], refusal[0])
            message = self.structure_message(data)
        except JsonRpcException as exc:
            if is_request:
                log.info("request %s (%s) refused: %s", data.get("id"), method, exc.message)
                self.send_error(data["id"], exc.code, exc.message)
            else:
                log.warning("ignored %s: %s", method or "a message", exc.message)
            return
        if method == types.INITIALIZE:
            self.initialize_seen = True
        self.handle_message(message)

    def refusal(self, method: str) -> tuple[int, str] | None:
        """(code, message) for a message that the lifecycle does not allow now, or None."""
        if method == types.EXIT:
            return None
        if self._shutdown:
            return INVALID_REQUEST, "the server is shutting down; only 'exit' is accepted"
        if method == types.INITIALIZE and self.initialize_seen:
            return INVALID_REQUEST, "initialize was already received"
        if not self.initialize_seen and method != types.INITIALIZE:
            return SERVER_NOT_INITIALIZED, "the server is not initialized yet; send 'initialize' first"
        return None

    def send_error(self, msg_id: MsgId | None, code: int, message: str) -> None:
        # JSON-RPC answers a message whose id could not be read with id null.
        error = types.ResponseError(code=code, message=message)
        self._send_data(types.ResponseErrorMessage(id=msg_id, error=error))

    def _send_handler_result(self, future: Future[Any], *, msg_id: MsgId) -> None:
        """A handler that refused (a domain error) gets an error answer and one log line; anything else is
        pygls's business (a bug: the traceback is logged)."""
        exc = None if future.cancelled() else future.exception()
        if isinstance(exc, SmallcoderError):
            self._request_futures.pop(msg_id, None)
            log.info("request %s refused: %s", msg_id, exc)
            self.send_error(msg_id, REQUEST_FAILED, str(exc))
            return
        super()._send_handler_result(future, msg_id=msg_id)


def brief(exc: ClassValidationError) -> str:
    """The first leaf problem of a cattrs validation error, in one line."""
    while isinstance(exc, ClassValidationError) and exc.exceptions:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:200]
