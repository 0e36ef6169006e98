"""The short window a request takes when the whole one is far from ready, and the lane that keeps it apart.

The first key in a file just opened, or where the cursor rested too briefly for its warm-up to finish, would wait
for seconds of prefill. Such a request takes a shorter window instead (see ``completion/budget.py``); the whole
window's progress is kept meanwhile, and a warm-up prefills the short window first. Until the whole window is
ready, each automatic request catches up on it for a cold window's worth and answers from the short one again.
Fake backend (one token per byte), prefill rate pinned: the figures are what was evaluated, not how fast.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence

import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.budget import Throughput
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.completion.runtime import Runtime, stop_rules
from smallcoder_lsp.config import Config
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.extract import CompletionContext, extract_context
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.states import SHORT, WINDOW, Key
from smallcoder_lsp.errors import Cancelled

URI = "file:///s.py"
BODY = "".join(f"def f{i}(n):\n    return n + {i}\n\n" for i in range(120))  # ~3,600 bytes: a window of ~3,000


class PinnedRate(Throughput):
    def observe(self, *args: object, **kwargs: object) -> None:  # the fake's speed says nothing
        pass


class StopAfter(FakeBackend):
    """Cancels ``token`` once ``limit`` tokens were evaluated: a warm-up the first key cut short."""

    def __init__(self) -> None:
        super().__init__()
        self.limit: int | None = None
        self.token: CancelToken | None = None

    def evaluate(self, tokens: Sequence[int]) -> None:
        super().evaluate(tokens)
        if self.limit is not None and self.token is not None and self.evaluated_tokens >= self.limit:
            self.token.cancel("the first key")


def runtime_on(backend: FakeBackend) -> Runtime:
    return Runtime(backend, Config(), PinnedRate(prefill_tok_s=500.0))  # budget 100 tokens, cold window 150


def live(runtime: Runtime) -> Key | None:
    """The document and lane whose prompt the live KV cache holds."""
    assert runtime.states is not None
    return runtime.states.current


def context(text: str) -> CompletionContext:
    data = text.encode()
    return extract_context(Document(URI, "python", 1, data), len(data), 3072, 500, [])


def test_a_warm_up_far_from_done_is_kept_while_the_short_window_answers():
    backend = StopAfter()
    runtime = runtime_on(backend)
    ctx = context(BODY + "def g(")
    assert ctx.cuts
    whole = runtime.fit(URI, ctx, stop_rules(ctx, runtime.config), invoked=True).tokens
    assert runtime.states is not None and runtime.session is not None
    runtime.states.switch_to(URI, WINDOW)
    runtime.session.prefill(whole[:1000])  # a warm-up got a third of the way

    first = runtime.generate(URI, ctx, False, CancelToken())
    assert first.generation.stats.evaluated_tokens <= 150  # the short window, not 2,000 tokens of the whole one
    assert live(runtime) == (URI, SHORT)

    typed = context(BODY + "def g(n")
    second = runtime.generate(URI, typed, False, CancelToken())
    assert live(runtime) == (URI, SHORT)  # answered from the short window again, only the typed key evaluated
    assert second.generation.stats.evaluated_tokens <= 3
    # before it, the whole window went on from where the warm-up stopped, for a cold window's worth (150 tokens)
    assert len(runtime.states.tokens(URI, WINDOW)) == 1000 + 150


def test_a_warm_up_prefills_the_short_window_first_so_an_early_first_key_finds_it():
    backend = StopAfter()
    runtime = runtime_on(backend)
    ctx = context(BODY)
    short = runtime.fit(URI, ctx, stop_rules(ctx, runtime.config), invoked=False)
    assert short.short
    backend.token, backend.limit = CancelToken(), len(short.tokens) + 64  # the key comes a chunk into the window
    with pytest.raises(Cancelled):
        runtime.warm(URI, ctx, backend.token)
    backend.limit = None
    typed = context(BODY + "d")
    outcome = runtime.generate(URI, typed, False, CancelToken())
    assert outcome.generation.stats.evaluated_tokens <= 3  # only the typed key: the short window was ready
    assert outcome.generation.stats.reused_tokens >= len(short.tokens) - 1


def test_requests_catch_up_on_the_whole_window_and_answer_from_the_short_one_until_it_is_ready():
    backend = FakeBackend()
    runtime = runtime_on(backend)
    assert runtime.states is not None
    typed = "x"
    runtime.generate(URI, context(BODY + typed), False, CancelToken())
    assert live(runtime) == (URI, SHORT) and runtime.behind(URI)
    caught_up = [len(runtime.states.tokens(URI, WINDOW))]
    while live(runtime) == (URI, SHORT):
        typed += "y"
        runtime.generate(URI, context(BODY + typed), False, CancelToken())
        caught_up.append(len(runtime.states.tokens(URI, WINDOW)))
        assert len(caught_up) < 40, "the whole window never got ready"
    # each request added a cold window's worth (150 tokens); the last one that and what was left within another
    steps = [b - a for a, b in itertools.pairwise(caught_up)]
    assert set(steps[1:-1]) == {150} and 0 < steps[-1] <= 2 * 150 + 2
    assert not runtime.behind(URI) and live(runtime) == (URI, WINDOW)
    assert runtime.states.tokens(URI, SHORT) == runtime.states.tokens(URI, WINDOW)  # its snapshot was dropped


def test_invoked_requests_wait_for_the_whole_window():
    runtime = runtime_on(FakeBackend())
    runtime.generate(URI, context(BODY + "x"), False, CancelToken())
    assert live(runtime) == (URI, SHORT)
    outcome = runtime.generate(URI, context(BODY + "xy"), True, CancelToken())
    assert live(runtime) == (URI, WINDOW) and outcome.generation.stats.prompt_tokens > 2500


async def test_after_an_answer_from_the_short_window_the_engine_catches_up_on_the_whole_one_meanwhile():
    engine = Engine(Config(), loader=lambda _config: FakeBackend())
    engine.throughput.prefill_tok_s = 500.0
    engine.throughput.observe = lambda *args, **kwargs: None  # type: ignore[method-assign]
    assert engine.start().result().state == "ready"
    engine.documents.open(URI, "python", 1, BODY + "x")
    first = await engine.complete(URI, len(BODY) + 1)
    assert first.stats is not None and first.stats.prompt_tokens < 500  # the short window
    await asyncio.sleep(0.05)  # the catch-up is queued from the loop
    await asyncio.wrap_future(engine.worker.submit(lambda: None))
    engine.documents.get(URI).apply_edit(len(BODY) + 1, len(BODY) + 1, b"y")
    second = await engine.complete(URI, len(BODY) + 2)
    assert second.stats is not None and second.stats.prompt_tokens > 2500  # the whole window, ready
    assert second.stats.evaluated_tokens <= 3
    engine.shutdown()
