"""An OpenAI-compatible ``/v1/completions`` server (llama.cpp server, vLLM, Ollama, TGI) as a :class:`Generator`.

A remote server keeps its KV cache to itself, so this is not a :class:`Backend`: it streams text for a prompt,
and stops when we close the stream (every one of those servers aborts a request whose client went away).
Tokenizing is offered where the server has an endpoint for it (llama-cpp-python's ``/extras/tokenize``,
llama.cpp's ``/tokenize``); the engine does not need it. Only the standard library is used.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import urlsplit

from smallcoder_lsp.backends.base import ModelInfo, ModelSpec, TextRequest
from smallcoder_lsp.errors import RemoteError

# (path, request body, response field) per server flavour, tried in order.
TOKENIZE = (("/extras/tokenize", "input", "tokens"), ("/tokenize", "content", "tokens"))
DETOKENIZE = (("/extras/detokenize", "tokens", "text"), ("/detokenize", "tokens", "content"))


class RemoteBackend:
    def __init__(self, spec: ModelSpec) -> None:
        parts = urlsplit(spec.path if "://" in spec.path else f"http://{spec.path}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise RemoteError(f"'{spec.path}' is not a server URL; set remoteUrl to e.g. http://127.0.0.1:8080")
        self.base = f"{parts.scheme}://{parts.netloc}"
        self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
        self.timeout = spec.timeout_s
        models = self._json("GET", "/v1/models")
        try:
            self.model = str(models["data"][0]["id"])
        except (KeyError, IndexError, TypeError) as exc:
            raise RemoteError(f"{self.base}/v1/models answered no model: {str(models)[:200]}") from exc
        self.info = ModelInfo(self.model, self.base, spec.context_length, 0, None, frozenset())

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self.timeout)

    def _open(self, method: str, path: str, body: Any = None) -> tuple[http.client.HTTPConnection, Any]:
        conn = self._connect()
        try:
            payload = None if body is None else json.dumps(body).encode()
            conn.request(method, path, payload, {"Content-Type": "application/json"})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise RemoteError(self._explain(exc, path)) from exc
        if response.status != 200:
            detail = response.read(300).decode("utf-8", "replace")
            conn.close()
            raise RemoteError(f"{self.base}{path} answered HTTP {response.status}: {detail}")
        return conn, response

    def _explain(self, exc: BaseException, path: str) -> str:
        if isinstance(exc, (socket.timeout, TimeoutError)):
            return f"the server at {self.base} did not answer {path} within {self.timeout:g} s"
        if isinstance(exc, ConnectionRefusedError):
            return f"no server is listening at {self.base} (connection refused); start it or fix remoteUrl"
        return f"the server at {self.base} failed on {path}: {exc}"

    def _json(self, method: str, path: str, body: Any = None) -> Any:
        conn, response = self._open(method, path, body)
        try:
            return json.loads(response.read())
        except (OSError, http.client.HTTPException) as exc:
            raise RemoteError(self._explain(exc, path)) from exc
        except ValueError as exc:
            raise RemoteError(f"{self.base}{path} answered something that is not JSON") from exc
        finally:
            conn.close()

    def _first_endpoint(self, table: tuple[tuple[str, str, str], ...], value: Any) -> Any:
        problems = []
        for path, field_in, field_out in table:
            try:
                return self._json("POST", path, {field_in: value})[field_out]
            except (RemoteError, KeyError, TypeError) as exc:
                problems.append(str(exc))
        raise RemoteError(f"{self.base} offers no usable {table[0][0].rsplit('/', 1)[-1]} endpoint: {problems}")

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return [int(t) for t in self._first_endpoint(TOKENIZE, text)]

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return str(self._first_endpoint(DETOKENIZE, list(tokens))).encode("utf-8")

    def generate(self, request: TextRequest, cancelled: Callable[[], bool]) -> Iterator[str]:
        body = {"model": self.model, "prompt": request.prompt, "max_tokens": request.max_tokens,
                "temperature": request.temperature, "stream": True}  # fmt: skip
        if request.stop:
            body["stop"] = list(request.stop)
        conn, response = self._open("POST", "/v1/completions", body)
        try:  # closing the connection in `finally` is what stops the server
            while not cancelled():
                try:
                    line = response.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise RemoteError(self._explain(exc, "/v1/completions")) from exc
                if not line:  # the server went away mid-stream: what came is not a finished completion
                    raise RemoteError(f"the server at {self.base} closed the stream before the completion finished")
                text, done = parse_event(line, self.base)
                if text:
                    yield text
                if done:
                    return
        finally:
            conn.close()

    def close(self) -> None:
        """Nothing is held between requests."""


def parse_event(line: bytes, base: str) -> tuple[str, bool]:
    """One server-sent-events line -> (text, finished)."""
    line = line.strip()
    if not line or line.startswith((b":", b"event:", b"id:", b"retry:")):
        return "", False
    if not line.startswith(b"data:"):
        raise RemoteError(f"{base}/v1/completions did not stream server-sent events: {line[:120]!r}")
    data = line[len(b"data:") :].strip()
    if data == b"[DONE]":
        return "", True
    try:
        choice = json.loads(data)["choices"][0]
        return str(choice.get("text") or ""), choice.get("finish_reason") is not None
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise RemoteError(f"{base}/v1/completions streamed something that is not a completion: {data[:120]!r}") from exc


def load(spec: ModelSpec) -> RemoteBackend:
    return RemoteBackend(spec)
