"""Per-document KV states: switching documents restores each one's cache, within a memory budget."""

import asyncio

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import Config
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.states import SHORT, WINDOW, DocumentStates

A = [0, *range(10, 60)]
B = [0, *range(100, 150)]


def states_with(budget_mb: float) -> tuple[FakeBackend, Session, DocumentStates]:
    backend = FakeBackend()
    session = Session(backend)
    return backend, session, DocumentStates(session, budget_mb)


def test_switching_back_restores_the_documents_cache():
    backend, session, states = states_with(1)
    states.switch_to("a")
    session.prefill(A)
    states.switch_to("b")
    session.prefill(B)
    states.switch_to("a")
    assert session.tokens == A and backend.cache == A
    before = backend.evaluated_tokens
    session.prefill([*A, 7])
    assert backend.evaluated_tokens - before == 1  # only the new token: a warm switch


def test_a_documents_two_lanes_keep_their_own_states():
    backend, session, states = states_with(1)
    states.switch_to("a", WINDOW)
    session.prefill(A[:30])  # a warm-up got this far into the whole window
    states.switch_to("a", SHORT)
    assert states.tokens("a", WINDOW) == A[:30]
    session.prefill([0, *A[20:]])  # the short window: the end of the whole one, without its start
    states.switch_to("a", WINDOW)
    assert backend.cache == A[:30] and states.tokens("a", SHORT) == [0, *A[20:]]
    states.drop("a", SHORT)
    assert states.tokens("a", SHORT) == A[:30]  # no snapshot: what the live cache holds
    states.forget("a")
    assert states.saved_documents() == [] and states.current is None


def test_without_states_a_switch_reprefills():
    backend, session, states = states_with(0)
    for doc, prompt in (("a", A), ("b", B), ("a", A)):
        states.switch_to(doc)
        session.prefill(prompt)
    assert backend.evaluate_calls[-1] >= len(A) - 1 and states.restores == 0


def test_the_budget_evicts_the_least_recently_used_document():
    _, session, states = states_with(0)
    states.budget_bytes = 4 * len(A) * 2  # room for two saved fake states
    for doc in ("a", "b", "c", "d"):
        states.switch_to(doc)
        session.prefill([0, *range(ord(doc), ord(doc) + len(A) - 1)])
    states.switch_to("e")
    assert states.saved_documents() == ["c", "d"]
    assert states.saved_bytes <= states.budget_bytes


async def test_engine_keeps_two_open_files_warm():
    a_text, b_text = "import os\n" * 40 + "x = ", "def g():\n    return 1\n" * 20 + "y = "
    backend = FakeBackend()
    engine = Engine(Config(), loader=lambda _c: backend)
    engine.documents.open("file:///a.py", "python", 1, a_text)
    engine.documents.open("file:///b.py", "python", 1, b_text)
    engine.start().result()
    await engine.complete("file:///a.py", len(a_text), invoked=True)
    await engine.complete("file:///b.py", len(b_text), invoked=True)
    before = backend.evaluated_tokens
    await engine.complete("file:///a.py", len(a_text), invoked=True)
    assert backend.evaluated_tokens - before <= 2  # the last prompt token (and nothing else) re-evaluated
    engine.shutdown()


async def opened_and_warmed(uri: str, text: str) -> tuple[FakeBackend, Engine]:
    """An engine on the fake backend with ``text`` open at ``uri``, after the warm-up that opening starts."""
    backend = FakeBackend()
    engine = Engine(Config(), loader=lambda _c: backend)
    engine.start().result()
    engine.documents.open(uri, "python", 1, text)
    future = engine.warm(uri)
    assert future is not None
    await asyncio.wrap_future(future)
    return backend, engine


async def test_warm_on_open_prefills_in_the_background_and_a_request_cancels_it():
    text = "def f(n):\n    return n\n" * 30
    backend, engine = await opened_and_warmed("file:///w.py", text)
    assert backend.n_cached > 100  # the whole prompt is in the cache before any request
    assert engine.warm("file:///w.py", len(text) - 3) is None  # a nearby cursor needs no new warm-up
    before = backend.evaluated_tokens
    await engine.complete("file:///w.py", len(text))
    assert backend.evaluated_tokens - before <= 2
    engine.shutdown()


async def test_a_warm_up_where_the_window_starts_elsewhere_is_not_skipped_though_the_cursor_is_near():
    # Opening warms the file's end; the cursor then rests 1,000 bytes up (a function near the end of the file). Its
    # window starts ~40 lines higher than the end's, so the two prompts share nothing but their first line: the
    # second warm-up is needed, where a rule of "near the last warm-up" (half a window) skipped it.
    text = "def f(n):\n    return n\n" * 300
    backend, engine = await opened_and_warmed("file:///n.py", text)
    at = text.index("def", len(text) - 1000)
    rested = engine.warm("file:///n.py", at)
    assert rested is not None
    await asyncio.wrap_future(rested)
    assert engine.warm("file:///n.py", at + 100) is None  # a keystroke away: nothing new to prefill
    before = backend.evaluated_tokens
    await engine.complete("file:///n.py", at, invoked=True)
    assert backend.evaluated_tokens - before <= 2
    engine.shutdown()
