"""The short window a request takes when the whole one is far from ready, and the lane that keeps it apart.

The first key in a file just opened, or where the cursor rested too briefly for its warm-up to finish, would wait
for seconds of prefill. Such a request takes a shorter window instead (see ``completion/budget.py``), once; the
whole window's progress is kept meanwhile, and a warm-up prefills the short window first. Fake backend (one token
per byte), prefill rate pinned: the figures are what was evaluated, not how fast.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.budget import Throughput
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
    second = runtime.generate(URI, typed, False, CancelToken())  # the next request goes back to the whole window
    assert live(runtime) == (URI, WINDOW)
    assert second.generation.stats.reused_tokens >= 1000  # from where the warm-up stopped


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


def test_the_short_window_is_taken_once_per_window():
    backend = FakeBackend()
    runtime = runtime_on(backend)
    ctx = context(BODY + "x")
    runtime.generate(URI, ctx, False, CancelToken())
    assert live(runtime) == (URI, SHORT)
    for typed in ("xy", "xyz"):  # far from ready still, and the whole window is what these prefill
        runtime.generate(URI, context(BODY + typed), False, CancelToken())
        assert live(runtime) == (URI, WINDOW)
