"""Step-wise generation shares the single model worker: a completion asked for meanwhile answers first."""

from __future__ import annotations

import asyncio
import time

import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import Config
from smallcoder_lsp.docstring.lines import generate_line
from smallcoder_lsp.errors import Cancelled

URI = "file:///t.py"
TEXT = "def f(n):\n    "
DOC_PROMPT = 'def g():\n    """'


class SlowFake(FakeBackend):
    def evaluate(self, tokens):
        time.sleep(0.005)
        super().evaluate(tokens)


def engine_with(backend: FakeBackend) -> Engine:
    engine = Engine(Config(), loader=lambda _config: backend)
    engine.documents.open(URI, "python", 1, TEXT)
    assert engine.start().result().state == "ready"
    return engine


async def test_a_completion_asked_during_a_long_generation_answers_before_it_finishes():
    engine = engine_with(SlowFake({TEXT: "return n\n", DOC_PROMPT: "word " * 60 + "\n"}))
    finished: list[str] = []

    async def docstring() -> None:
        text = await generate_line(engine, DOC_PROMPT, 200, engine.claim("docstring"))
        finished.append("docstring")
        assert text.startswith("word word")

    async def completion() -> None:
        await asyncio.sleep(0.1)  # the docstring is under way
        assert (await engine.complete(URI, len(TEXT), invoked=True)).text == "return n"
        finished.append("completion")

    await asyncio.gather(docstring(), completion())
    assert finished == ["completion", "docstring"]


async def test_a_newer_claim_cancels_the_running_generation():
    engine = engine_with(SlowFake({DOC_PROMPT: "word " * 60 + "\n"}))
    first = asyncio.ensure_future(generate_line(engine, DOC_PROMPT, 200, engine.claim("docstring:a")))
    await asyncio.sleep(0.05)
    engine.claim("docstring:a")
    with pytest.raises(Cancelled, match="superseded"):
        await first


async def test_the_resumed_step_reuses_the_cache():
    backend = FakeBackend({DOC_PROMPT: "abc\n"})
    engine = engine_with(backend)
    await generate_line(engine, DOC_PROMPT, 20, engine.claim("d"))
    # After the prompt, every step evaluates just the one token it kept.
    prompt_calls = -(-len(DOC_PROMPT.encode()) // 64)
    assert all(n == 1 for n in backend.evaluate_calls[prompt_calls:])
