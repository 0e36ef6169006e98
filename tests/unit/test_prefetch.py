"""The next line is decoded before Enter: at the end of a finished line, and after a suggestion, the engine
decodes what follows as the document's decode, and the request at the new line is answered from it."""

from __future__ import annotations

import asyncio

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.guesses import after_enter
from smallcoder_lsp.context.documents import Document
from smallcoder_lsp.context.extract import extract_context
from tests.unit.test_holding import URI, SlowFake, drain, engine_with, type_text

LINE = "total = compute(n)"


async def test_at_a_finished_line_the_next_line_is_decoded_before_enter():
    backend = SlowFake({LINE + "\n    ": "return total\n"}, delay=0.01)
    engine = engine_with(backend)
    answer = await engine.complete(URI, type_text(engine, LINE))
    assert answer.source == "none" and "complete" in answer.reason
    job = engine.board.decode(URI)
    assert job is not None and job.prefetched
    drain(engine)
    evaluated = backend.evaluated_tokens
    answer = await engine.complete(URI, type_text(engine, "\n    "))  # Enter, auto-indented
    assert answer.text == "return total" and answer.source in ("typed", "model")
    assert backend.evaluated_tokens == evaluated  # no new decode


async def test_a_request_at_the_new_line_waits_on_the_running_prefetch_instead_of_starting_over():
    backend = SlowFake({LINE + "\n    ": "return total + 1\n"}, delay=0.03)
    engine = engine_with(backend)
    await engine.complete(URI, type_text(engine, LINE))
    prefetch = engine.board.decode(URI)
    await asyncio.sleep(0.1)  # the user presses Enter while it runs
    assert prefetch is not None and not prefetch.done
    calls = len(backend.evaluate_calls)
    answer = await engine.complete(URI, type_text(engine, "\n    "))
    assert answer.text == "return total + 1" and answer.source in ("model", "partial")
    assert engine.board.decode(URI) is prefetch and not prefetch.cancel.cancelled
    assert all(n == 1 for n in backend.evaluate_calls[calls:])  # it went on token by token: no new prefill


async def test_a_prefetch_does_not_prefetch_in_turn_and_a_request_elsewhere_cancels_it():
    backend = FakeBackend({LINE + "\n    ": "x = 1\n", "x = 1\n    ": "y = 2\n"})
    engine = engine_with(backend)
    await engine.complete(URI, type_text(engine, LINE))
    prefetch = engine.board.decode(URI)
    assert prefetch is not None
    drain(engine)
    await asyncio.sleep(0.05)
    assert engine.board.decode(URI) is prefetch  # no second prefetch after the first one's "x = 1"
    answer = await engine.complete(URI, type_text(engine, " + 1"))  # the line was not finished after all
    assert prefetch.cancel.cancelled or prefetch.done
    assert engine.board.decode(URI) is not prefetch and answer.source != "typed"


async def test_a_decode_that_only_ends_the_line_is_followed_by_the_next_lines():
    backend = FakeBackend({"x = 1": "\n", "x = 1\n    ": "return x\n"})
    engine = engine_with(backend, healing=False)  # the scripted model would not write "1" again
    answer = await engine.complete(URI, type_text(engine, "x = 1"))
    assert answer.text == ""
    drain(engine)
    await asyncio.sleep(0.05)
    job = engine.board.decode(URI)
    assert job is not None and job.prefetched
    drain(engine)
    answer = await engine.complete(URI, type_text(engine, "\n    "))
    assert answer.text == "return x"


async def test_no_prefetch_when_it_is_turned_off():
    engine = engine_with(FakeBackend({LINE + "\n    ": "return total\n"}), prefetch=False)
    await engine.complete(URI, type_text(engine, LINE))
    assert engine.board.decode(URI) is None


async def test_a_docstring_request_stops_a_running_prefetch():
    backend = SlowFake({LINE + "\n    ": "return total + 1\n"}, delay=0.03)
    engine = engine_with(backend)
    await engine.complete(URI, type_text(engine, LINE))
    prefetch = engine.board.decode(URI)
    assert prefetch is not None and not prefetch.done
    token = engine.claim("docstring " + URI)
    assert prefetch.cancel.cancelled and not token.cancelled


def test_the_new_line_is_indented_as_an_editor_would():
    def enter(before: str, shown: str = "", language: str = "python") -> str:
        doc = Document(URI, language, 1, before.encode())
        ahead = after_enter(doc.text, extract_context(doc, len(doc.text), 4000, 1000), len(doc.text), shown)
        assert ahead is not None
        return ahead[0].decode().rsplit("\n", 1)[1]

    assert enter("def f(n):\n    x = g(n)") == "    "
    assert enter("def f(n):\n    if n:") == "        "
    assert enter("def f(n):\n    if n:\n        return n") == "    "  # a block ends: one level less
    assert enter("def f(n):\n    for x in n:\n        ", "continue") == "    "
    assert enter("def f(n):\n    returned = n") == "    "  # a name that starts like the keyword is no keyword
    assert enter("int f() {\n    return 1;", language="c") == "    "
