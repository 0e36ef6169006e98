"""Issue 8's behaviours with a scripted model: type-through, prefetch, deadline answers, a bounded queue."""

import asyncio
import time

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.config import CompletionConfig, Config
from smallcoder_lsp.context.syntax import error_count
from smallcoder_lsp.engine import Engine

URI = "file:///t.py"
TEXT = "def f(n):\n    "


class SlowFake(FakeBackend):
    def __init__(self, replies, delay: float) -> None:
        super().__init__(replies)
        self.delay = delay

    def evaluate(self, tokens):
        time.sleep(self.delay)
        super().evaluate(tokens)


def engine_with(backend: FakeBackend, **completion) -> Engine:
    engine = Engine(Config(completion=CompletionConfig(**completion)), loader=lambda _config: backend)
    engine.documents.open(URI, "python", 1, TEXT)
    assert engine.start().result().state == "ready"
    return engine


def type_text(engine: Engine, text: str) -> int:
    doc = engine.documents.get(URI)
    doc.apply_edit(len(doc.text), len(doc.text), text.encode())
    return len(doc.text)


def drain(engine: Engine) -> None:
    engine._executor.submit(lambda: None).result()


async def test_typing_into_a_suggestion_is_answered_without_the_model():
    backend = FakeBackend({TEXT: "return fib(n - 1) + fib(n - 2)\n"})
    engine = engine_with(backend, prefetch=False)
    first = await engine.complete(URI, len(TEXT), invoked=True)
    assert first.text == "return fib(n - 1) + fib(n - 2)"
    evaluated = backend.evaluated_tokens
    for typed in "return f":
        offset = type_text(engine, typed)
        answer = await engine.complete(URI, offset)
        assert answer.source == "typed"
    assert answer.text == "ib(n - 1) + fib(n - 2)"
    assert backend.evaluated_tokens == evaluated  # no model call


async def test_an_accepted_suggestion_is_followed_by_a_prefetched_one():
    backend = FakeBackend({TEXT: "x = n + 1\n", "x = n + 1\n    ": "return x\n"})
    engine = engine_with(backend)
    assert (await engine.complete(URI, len(TEXT), invoked=True)).text == "x = n + 1"
    drain(engine)  # the prefetch runs after the answer, on the same worker
    evaluated = backend.evaluated_tokens
    offset = type_text(engine, "x = n + 1\n    ")  # accept, then Enter (the editor keeps the indent)
    answer = await engine.complete(URI, offset)
    assert (answer.text, answer.source) == ("return x", "typed")
    assert backend.evaluated_tokens == evaluated


async def test_an_automatic_request_answers_at_the_deadline_with_a_parseable_part_and_decoding_goes_on():
    reply = "total = 0\n    for item in range(n):\n        total += item\n    return total\n"
    backend = SlowFake({TEXT: reply}, delay=0.02)
    engine = engine_with(backend, response_deadline_ms=200, prefetch=False)
    answer = await engine.complete(URI, len(TEXT))
    assert answer.source == "partial"
    full = reply.rstrip("\n")
    assert full.startswith(answer.text)
    if answer.text:
        assert error_count("python", TEXT + answer.text + "\n") == 0
    drain(engine)  # the job finished in the background ...
    later = await engine.complete(URI, len(TEXT))
    assert (later.text, later.source) == (full, "typed")  # ... and serves the next request


async def test_an_invoked_request_waits_for_the_full_answer():
    backend = SlowFake({TEXT: "return n * 2\n"}, delay=0.01)
    engine = engine_with(backend, response_deadline_ms=10, prefetch=False)
    answer = await engine.complete(URI, len(TEXT), invoked=True)
    assert (answer.text, answer.source) == ("return n * 2", "model")


async def test_fast_typing_keeps_the_queue_short():
    backend = SlowFake({}, delay=0.005)
    engine = engine_with(backend, response_deadline_ms=1, prefetch=False)
    requests = []
    for ch in "value = compute_something(n)":
        offset = type_text(engine, ch)
        requests.append(asyncio.ensure_future(engine.complete(URI, offset)))
        await asyncio.sleep(0)
    await asyncio.gather(*requests, return_exceptions=True)
    drain(engine)
    # Superseded jobs stop before they evaluate anything: far fewer prefills than keystrokes.
    prefills = [n for n in backend.evaluate_calls if n > 1]
    assert len(prefills) < len(requests) // 2


async def test_closing_a_document_forgets_its_suggestions():
    engine = engine_with(FakeBackend({TEXT: "return n\n"}), prefetch=False)
    await engine.complete(URI, len(TEXT), invoked=True)
    doc = engine.documents.get(URI)
    assert engine.suggestions.lookup(URI, doc, len(TEXT)) is not None
    engine.forget(URI)
    drain(engine)
    assert engine.suggestions.lookup(URI, doc, len(TEXT)) is None
