import asyncio

import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.completion.runtime import fit_to_context
from smallcoder_lsp.config import CompletionConfig, Config
from smallcoder_lsp.errors import DocumentError, ModelLoadError

URI = "file:///t.py"
TEXT = "def f(n):\n    "


class SlowFake(FakeBackend):
    """Each evaluate takes a little while, so a second request can overtake the first."""

    def evaluate(self, tokens):
        import time

        time.sleep(0.01)
        super().evaluate(tokens)


def type_at_end(engine: Engine, text: str) -> None:
    doc = engine.documents.get(URI)
    doc.apply_edit(len(doc.text), len(doc.text), text.encode())


def engine_with(backend: FakeBackend, **completion) -> Engine:
    config = Config(completion=CompletionConfig(**completion))
    engine = Engine(config, loader=lambda _config: backend)
    engine.documents.open(URI, "python", 1, TEXT)
    assert engine.start().result().state == "ready"
    return engine


async def test_completes_with_the_loaded_backend():
    engine = engine_with(FakeBackend({TEXT: "return n\n"}))
    completion = await engine.complete(URI, len(TEXT))
    assert completion.text == "return n"
    assert completion.multiline and completion.line_prefix == "    "
    assert engine.last_stats is not None and engine.last_stats.generated_tokens > 0


async def test_newest_request_for_a_document_supersedes_the_older_one():
    engine = engine_with(SlowFake({TEXT: "x = 1\n    y = 2\n    z = 3\n", TEXT + "q": " = 7\n"}))
    first = asyncio.ensure_future(engine.complete(URI, len(TEXT), invoked=True))
    await asyncio.sleep(0.03)
    type_at_end(engine, "q")  # not what the first request is generating
    second = await engine.complete(URI, len(TEXT) + 1, invoked=True)
    assert ((await first).text, (await first).source) == ("", "superseded")
    assert second.text == " = 7"


async def test_client_cancellation_stops_the_worker():
    backend = SlowFake({TEXT: "a" * 200})
    engine = engine_with(backend, max_tokens=200, multiline_max_tokens=200)
    task = asyncio.ensure_future(engine.complete(URI, len(TEXT), invoked=True))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The worker is free again quickly: a new request completes.
    backend.replies = {TEXT.encode(): b"ok\n"}
    assert (await engine.complete(URI, len(TEXT))).text == "ok"
    assert len(backend.evaluate_calls) < 150


async def test_disabled_completion_returns_nothing_without_the_model():
    backend = FakeBackend({TEXT: "x"})
    engine = engine_with(backend, enabled=False)
    before = backend.evaluated_tokens
    assert (await engine.complete(URI, len(TEXT))).text == ""
    assert backend.evaluated_tokens == before


async def test_model_that_fails_to_load_gives_a_clear_error_per_request():
    def broken(_config):
        raise ModelLoadError("model file not found: /nope.gguf")

    engine = Engine(Config(), loader=broken)
    engine.documents.open(URI, "python", 1, TEXT)
    status = engine.start().result()
    assert status.state == "error" and "/nope.gguf" in status.message
    with pytest.raises(ModelLoadError, match=r"nope\.gguf"):
        await engine.complete(URI, len(TEXT))


async def test_binary_and_oversized_documents_are_refused():
    engine = engine_with(FakeBackend(), max_file_bytes=100)
    engine.documents.open("file:///bin", "python", 1, "a\x00b")
    with pytest.raises(DocumentError, match="binary"):
        await engine.complete("file:///bin", 1)
    engine.documents.open("file:///big.py", "python", 1, "x" * 101)
    with pytest.raises(DocumentError, match="maxFileBytes"):
        await engine.complete("file:///big.py", 1)


def test_fit_to_context_keeps_bos_and_the_tail():
    assert fit_to_context([0, 1, 2, 3, 4, 5], 4, keep_first=True) == [0, 3, 4, 5]
    assert fit_to_context([1, 2, 3], 4, keep_first=True) == [1, 2, 3]
