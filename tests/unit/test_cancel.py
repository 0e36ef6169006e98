import asyncio
import threading

import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.jobs import Job, JobBoard
from smallcoder_lsp.completion.suggestions import Suggestion
from smallcoder_lsp.context.documents import DocumentStore
from smallcoder_lsp.context.extract import extract_context
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.errors import Cancelled


class InterruptibleFake(FakeBackend):
    """Evaluates like FakeBackend, but a chunk evaluated while ``interrupt`` is called is dropped, as llama.cpp's
    aborted decode is; ``during(i)`` runs in the middle of the i-th evaluation."""

    def __init__(self, during=None) -> None:
        super().__init__()
        self.during = during or (lambda i: None)
        self.stopped = False
        self.interrupts = 0

    def interrupt(self) -> None:
        self.interrupts += 1
        self.stopped = True

    def evaluate(self, tokens) -> None:
        self.stopped = False
        self.during(len(self.evaluate_calls))
        if self.stopped:
            raise Cancelled("the evaluation was interrupted")
        super().evaluate(tokens)


def test_an_interrupt_drops_the_chunk_under_way_and_keeps_the_ones_before():
    token = CancelToken()
    backend = InterruptibleFake(lambda i: token.cancel("the user moved on", interrupt=True) if i == 2 else None)
    session = Session(backend, chunk_size=4)
    with pytest.raises(Cancelled, match="the user moved on"):
        session.prefill(backend.tokenize("x" * 40, add_bos=True), token)
    assert backend.interrupts == 1
    assert session.tokens == backend.cache and len(session.tokens) == 8  # two whole chunks, not the third


def test_a_plain_cancel_lets_the_chunk_under_way_finish():
    token = CancelToken()
    backend = InterruptibleFake(lambda i: token.cancel("superseded by a newer request") if i == 2 else None)
    session = Session(backend, chunk_size=4)
    with pytest.raises(Cancelled, match="superseded"):
        session.prefill(backend.tokenize("x" * 40, add_bos=True), token)
    assert backend.interrupts == 0
    assert session.tokens == backend.cache and len(session.tokens) == 12  # the third chunk was kept


def test_an_interrupt_outside_an_evaluation_reaches_no_backend():
    token = CancelToken()
    calls = []
    with token.interruptible(lambda: calls.append("stop")):
        pass
    token.cancel("late", interrupt=True)
    assert calls == []
    with pytest.raises(Cancelled, match="late"), token.interruptible(lambda: calls.append("stop")):
        pass  # already cancelled: the evaluation does not start
    assert calls == []


def test_an_interrupt_comes_from_the_cancelling_thread():
    token = CancelToken()
    entered, stopped = threading.Event(), threading.Event()

    def cancel_from_elsewhere() -> None:
        entered.wait(5)
        token.cancel("elsewhere", interrupt=True)

    thread = threading.Thread(target=cancel_from_elsewhere)
    thread.start()
    with token.interruptible(stopped.set):
        entered.set()
        assert stopped.wait(5)
    thread.join()


def job_for(uri: str, loop: asyncio.AbstractEventLoop, prefetched: bool = False) -> Job:
    doc = DocumentStore().open(uri, "python", 1, "def f():\n    return 1\n")
    ctx = extract_context(doc, len(doc.text), 3000, 300)
    return Job(uri, Suggestion.at(doc.text, len(doc.text), done=False), ctx, False, loop, prefetched=prefetched)


async def test_work_nobody_will_continue_is_interrupted_and_a_superseded_decode_is_not():
    loop = asyncio.get_running_loop()
    board = JobBoard()
    stops: list[str] = []
    evaluating = []  # kept: a dropped context would leave its evaluation

    def running(token: CancelToken, name: str) -> None:
        context = token.interruptible(lambda: stops.append(name))
        context.__enter__()  # as if the worker were evaluating a chunk for it
        evaluating.append(context)

    first = job_for("file:///a.py", loop)
    board.start(first)
    running(first.cancel, "a's decode")
    board.start(job_for("file:///a.py", loop))  # the next keystroke: its prompt shares the chunk
    assert first.cancel.cancelled and stops == []

    prefetch = job_for("file:///a.py", loop, prefetched=True)
    board.start(prefetch)
    running(prefetch.cancel, "a's prefetch")
    warm = board.guess()
    running(warm, "a warm-up")
    other = job_for("file:///b.py", loop)
    board.start(job_for("file:///a.py", loop))  # a request elsewhere in a.py: the prefetch and warm-up stop
    assert stops == ["a's prefetch", "a warm-up"]
    board.start(other)
    running(other.cancel, "b's decode")
    board.start(job_for("file:///a.py", loop))  # back to a.py: b's decode stops at once
    assert "b's decode" in stops
