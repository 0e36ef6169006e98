"""Issue 11: requests are held until there is something to show; one decode per document serves the keystrokes
that agree with it; our clients hear when a suggestion is ready. A scripted model stands in for the real one."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from smallcoder_lsp.backends.fake import EOS, OFFSET, VOCAB, FakeBackend
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.config import CompletionConfig, Config

URI = "file:///t.py"
TEXT = "def f(n):\n    "


class SlowFake(FakeBackend):
    """Each evaluate takes ``delay`` seconds; ``gate`` must be open for evaluation to go on. ``log`` keeps when
    each evaluate ended and what the cache held then."""

    def __init__(self, replies: dict[str, str], delay: float = 0.0) -> None:
        super().__init__(replies)
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()
        self.log: list[tuple[float, bytes]] = []

    def evaluate(self, tokens):
        self.gate.wait(10)
        time.sleep(self.delay)
        super().evaluate(tokens)
        self.log.append((time.perf_counter(), self.detokenize(self.cache)))


class SlowTwoChoices(SlowFake):
    """SlowFake's replies as the first choice, and ``second``'s as the next best (see test_constraints)."""

    def __init__(self, first: dict[str, str], second: dict[str, str], delay: float) -> None:
        super().__init__(first, delay)
        self.second = FakeBackend(second)

    def logits(self):
        out = np.zeros(VOCAB, dtype=np.float32)
        self.second.cache = self.cache
        alternative, nxt = self.second._next_byte(), self._next_byte()
        if alternative is not None:
            out[alternative + OFFSET] = 6.0
        if nxt is not None:
            out[nxt + OFFSET] = 8.0
        else:
            out[EOS] = 1.0 if alternative is not None else 8.0
        return out


def engine_with(backend: FakeBackend, on_ready=None, **completion) -> Engine:
    config = Config(completion=CompletionConfig(**completion))
    engine = Engine(config, loader=lambda _config: backend, on_ready=on_ready)
    engine.documents.open(URI, "python", 1, TEXT)
    assert engine.start().result().state == "ready"
    return engine


def type_text(engine: Engine, text: str) -> int:
    doc = engine.documents.get(URI)
    doc.apply_edit(len(doc.text), len(doc.text), text.encode())
    doc.version += 1
    return len(doc.text)


def drain(engine: Engine) -> None:
    engine.worker.submit(lambda: None).result()


async def test_a_request_stays_open_until_the_first_line_is_complete():
    backend = SlowFake({TEXT: "total = n + 1\n"}, delay=0.02)
    engine = engine_with(backend, prefetch=False)
    started = time.perf_counter()
    answer = await engine.complete(URI, len(TEXT))
    # 14 tokens at 20 ms each: an answer before the line was complete would have come much sooner.
    assert time.perf_counter() - started > 0.2
    assert answer.text == "total = n + 1"


async def test_a_first_line_trimmed_away_holds_the_request_for_the_next_choice():
    # The model's first choice repeats the line above: answered as its line completed, that was an empty answer.
    text = "def f(n):\n    total = n\n    \n    return total\n"
    prefix = text[: text.index("    \n") + 4]
    backend = SlowTwoChoices({prefix: "total = n\n"}, {prefix: "count = n + 1\n"}, delay=0.01)
    engine = engine_with(backend, prefetch=False)
    engine.documents.open("file:///u.py", "python", 1, text)
    answer = await engine.complete("file:///u.py", len(prefix))
    assert (answer.text, answer.source) == ("count = n + 1", "model")


async def test_a_block_is_shown_whole_when_it_is_ready_within_the_block_wait():
    reply = "total = 0\n    for i in range(n):\n        total += i\n    return total\n\n"
    engine = engine_with(FakeBackend({TEXT: reply}), prefetch=False, block_wait_ms=2000)
    answer = await engine.complete(URI, len(TEXT))
    assert answer.text == reply.strip()


async def test_after_the_block_wait_the_whole_lines_ready_are_shown_and_the_decode_goes_on():
    reply = "total = 0\n    for i in range(n):\n        total += i\n    return total\n\n"
    backend = SlowFake({TEXT: reply}, delay=0.015)
    engine = engine_with(backend, prefetch=False, block_wait_ms=200)
    answer = await engine.complete(URI, len(TEXT))
    assert answer.source == "partial"
    assert answer.text and reply.startswith(answer.text) and answer.text != reply.strip()
    drain(engine)
    later = await engine.complete(URI, len(TEXT))
    assert later.text == reply.strip()


async def test_a_docstring_still_being_written_is_shown_closed_after_the_block_wait():
    summary, details = '"""Sum the numbers below n.', '\n\n    Each one is added, from 0 up to n - 1.\n    """\n'
    reply = summary + details + "    return sum(range(n))\n\n"
    engine = engine_with(SlowFake({TEXT: reply}, delay=0.01), prefetch=False, block_wait_ms=100)
    answer = await engine.complete(URI, len(TEXT))
    assert answer.source == "partial"
    assert answer.text.startswith(summary) and answer.text.endswith('"""') and "return" not in answer.text
    drain(engine)
    assert (await engine.complete(URI, len(TEXT))).text == reply.strip()


def test_only_a_docstring_with_text_is_closed():
    from smallcoder_lsp.completion.answers import closed_docstring

    assert closed_docstring('"""Sum.', "    ") == '"""Sum."""'
    assert closed_docstring('"""\n    Sum.', "    ") == '"""\n    Sum.\n    """'
    assert closed_docstring('"""', "    ") == '"""'  # nothing to show in it yet
    assert closed_docstring('"""Sum."""\n    total = 0', "    ") == '"""Sum."""\n    total = 0'


async def test_a_model_that_finishes_with_nothing_is_answered_at_once_not_at_the_cap():
    engine = engine_with(FakeBackend({}), prefetch=False, hold_ms=5000)
    started = time.perf_counter()
    answer = await engine.complete(URI, len(TEXT))
    assert answer.text == "" and answer.source == "model"
    assert "proposed nothing" in answer.reason
    assert time.perf_counter() - started < 2


async def test_the_hold_cap_answers_and_the_decode_goes_on_and_tells_when_ready():
    backend = SlowFake({TEXT: "return n\n"})
    backend.gate.clear()  # the model is stuck for now
    ready: list[tuple[str, int, int]] = []
    engine = engine_with(backend, on_ready=lambda *args: ready.append(args), prefetch=False, hold_ms=100)
    answer = await engine.complete(URI, len(TEXT))
    assert (answer.text, answer.source) == ("", "capped") and "holdMs" in answer.reason
    assert ready == []
    backend.gate.set()
    drain(engine)
    await asyncio.sleep(0.05)  # the notice is sent on the loop
    assert ready == [(URI, 1, len(TEXT))]
    assert (await engine.complete(URI, len(TEXT))).text == "return n"


async def test_no_ready_notice_once_the_document_changed():
    backend = SlowFake({TEXT: "return n\n"})
    backend.gate.clear()
    ready: list[tuple[str, int, int]] = []
    engine = engine_with(backend, on_ready=lambda *args: ready.append(args), prefetch=False, hold_ms=100)
    await engine.complete(URI, len(TEXT))
    type_text(engine, "#")  # a new version: the cursor moved on
    backend.gate.set()
    drain(engine)
    await asyncio.sleep(0.05)
    assert ready == []


async def test_a_superseded_request_is_answered_empty_at_once_and_the_newest_gets_the_suggestion():
    backend = SlowFake({TEXT: "x = 1\n", TEXT + "q": " = 7\n"}, delay=0.02)
    engine = engine_with(backend, prefetch=False)
    first = asyncio.ensure_future(engine.complete(URI, len(TEXT)))
    await asyncio.sleep(0.03)
    offset = type_text(engine, "q")  # not what the first request is generating
    second = asyncio.ensure_future(engine.complete(URI, offset))
    old = await asyncio.wait_for(first, 0.5)
    assert (old.text, old.source) == ("", "superseded")
    assert not second.done()
    assert (await second).text == " = 7"


async def test_a_request_that_types_into_the_running_decode_starts_no_new_decode():
    backend = SlowFake({TEXT: "result = compute(n)\n"}, delay=0.02)
    engine = engine_with(backend, prefetch=False)
    first = asyncio.ensure_future(engine.complete(URI, len(TEXT)))
    while engine.board.decode(URI) is None or "res" not in engine.board.decode(URI).live.text:
        await asyncio.sleep(0.005)
    job = engine.board.decode(URI)
    offset = type_text(engine, "re")  # what the decode already wrote
    answer = await engine.complete(URI, offset)
    assert engine.board.decode(URI) is job  # attached: no new decode
    assert (answer.text, answer.source) == ("sult = compute(n)", "typed")
    assert (await first).source == "superseded"
    prompt_evaluations = [n for n in backend.evaluate_calls if n > 1]
    assert len(prompt_evaluations) == 1


async def test_an_invoked_request_waits_for_the_full_answer():
    backend = SlowFake({TEXT: "return n * 2\n"}, delay=0.01)
    engine = engine_with(backend, prefetch=False, hold_ms=50)
    answer = await engine.complete(URI, len(TEXT), invoked=True)
    assert (answer.text, answer.source) == ("return n * 2", "model")


async def test_typing_into_a_finished_suggestion_is_answered_without_the_model():
    backend = FakeBackend({TEXT: "return fib(n - 1) + fib(n - 2)\n"})
    engine = engine_with(backend, prefetch=False)
    first = await engine.complete(URI, len(TEXT), invoked=True)
    assert first.text == "return fib(n - 1) + fib(n - 2)"
    evaluated = backend.evaluated_tokens
    for typed in "return f":
        answer = await engine.complete(URI, type_text(engine, typed))
        assert answer.source == "typed"
    assert answer.text == "ib(n - 1) + fib(n - 2)"
    assert backend.evaluated_tokens == evaluated


async def test_an_accepted_suggestion_is_followed_by_a_prefetched_one():
    backend = FakeBackend({TEXT: "x = n + 1\n", "x = n + 1\n    ": "return x\n"})
    engine = engine_with(backend)
    assert (await engine.complete(URI, len(TEXT), invoked=True)).text == "x = n + 1"
    drain(engine)  # the prefetch runs after the answer, on the same worker
    evaluated = backend.evaluated_tokens
    answer = await engine.complete(URI, type_text(engine, "x = n + 1\n    "))  # accept, then Enter
    assert (answer.text, answer.source) == ("return x", "typed")
    assert backend.evaluated_tokens == evaluated


@pytest.mark.parametrize("prefetch", [False, True])
async def test_fast_typing_leaves_no_queue(prefetch):
    # Every prompt gets an 11-token answer at 50 ms a token: the model is slower than the typist. A prefetch
    # (after ")", a finished line) is one more decode the next key must stop.
    backend = SlowFake({"": " 3 - n - 1\n"}, delay=0.05)
    engine = engine_with(backend, prefetch=prefetch)
    requests = []
    # 24 keys, 30 ms apart; the last is no word or space, so the newest prompt is not healed (backed up).
    for ch in "value = compute(n) + 2 *":
        offset = type_text(engine, ch)
        requests.append(asyncio.ensure_future(engine.complete(URI, offset)))
        await asyncio.sleep(0.03)
    last_key = time.perf_counter()
    final = engine.documents.get(URI).text
    answers = await asyncio.gather(*requests)
    assert all(a.source in ("superseded", "none") for a in answers[:-1])  # none: right after ")"
    assert answers[-1].text == " 3 - n - 1"
    # After the last key, the worker finished at most one step of a stale decode, then ran the newest one.
    stale = [cache for t, cache in backend.log if t > last_key and not cache.startswith(final)]
    assert len(stale) <= 1, stale


async def test_closing_a_document_forgets_its_suggestions():
    engine = engine_with(FakeBackend({TEXT: "return n\n"}), prefetch=False)
    await engine.complete(URI, len(TEXT), invoked=True)
    text = engine.documents.get(URI).text
    assert engine.suggestions.lookup(URI, text, len(TEXT)) is not None
    engine.forget(URI)
    drain(engine)
    assert engine.suggestions.lookup(URI, text, len(TEXT)) is None
