"""The remote backend against llama-cpp-python's own OpenAI-compatible server, running the embedded model."""

from __future__ import annotations

import pytest

from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import Generator, ModelSpec, TextRequest
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import Config
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.stopping import StopRules
from smallcoder_lsp.decode.textstream import stream_text
from smallcoder_lsp.errors import Cancelled

PROMPT = "def fibonacci(n):\n    if n < 2:\n        return n\n    return"


@pytest.fixture(scope="module")
def remote(server_url: str) -> Generator:
    backend = load_backend("remote", ModelSpec(server_url, timeout_s=60))
    assert isinstance(backend, Generator)
    return backend


@pytest.mark.model
def test_tokenize_round_trip_through_the_server(remote):
    text = "def add(a, b):\n    return a + b  # café 🎉"
    ids = remote.tokenize(text, add_bos=False)
    assert len(ids) > 5 and remote.detokenize(ids) == text.encode()


@pytest.mark.model
def test_greedy_streaming_is_deterministic(remote):
    request = TextRequest(PROMPT, max_tokens=6, temperature=0.0)
    first = "".join(remote.generate(request, lambda: False))
    second = "".join(remote.generate(request, lambda: False))
    assert first and first == second


@pytest.mark.model
def test_cancelling_closes_the_stream_and_the_server_stays_usable(remote):
    cancel = CancelToken()
    pieces = []
    stream = stream_text(remote, PROMPT, StopRules(multiline=True, max_tokens=200, max_lines=200), cancel=cancel)
    with pytest.raises(Cancelled):
        for piece in stream:
            pieces.append(piece)
            cancel.cancel("superseded")
    assert len(pieces) == 1
    again = "".join(remote.generate(TextRequest(PROMPT, max_tokens=3), lambda: False))
    assert again


@pytest.mark.model
async def test_engine_completes_through_the_server(server_url):
    engine = Engine(Config(backend="remote", remote_url=server_url))
    engine.documents.open("file:///r.py", "python", 1, PROMPT)
    assert engine.start().result().state == "ready"
    completion = await engine.complete("file:///r.py", len(PROMPT.encode()), invoked=True)
    assert completion.stats is not None and completion.stats.generated_tokens > 0
    assert "\n" not in completion.text  # single-line: the stop rule cut the stream
    engine.shutdown()
