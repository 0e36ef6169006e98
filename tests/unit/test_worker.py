"""The model worker: cancelled tasks do not pile up, a failure is put right, a hung call is given up on."""

from __future__ import annotations

import threading
import time

import pytest

from smallcoder_lsp.backends.fake import FakeBackend
from smallcoder_lsp.completion.budget import Throughput
from smallcoder_lsp.completion.worker import ModelWorker
from smallcoder_lsp.config import Config
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.errors import BackendFailure, Cancelled, DocumentError


def ready_worker(backend: FakeBackend | None = None, **config) -> tuple[ModelWorker, list[FakeBackend]]:
    loaded: list[FakeBackend] = []

    def loader(_config: Config) -> FakeBackend:
        loaded.append(backend if backend is not None and not loaded else FakeBackend())
        return loaded[-1]

    worker = ModelWorker(Config(**config), Throughput(), loader)
    assert worker.start().result(10).state == "ready"
    return worker, loaded


def test_cancelled_tasks_waiting_behind_a_busy_worker_are_dropped_not_run():
    worker, _ = ready_worker()
    gate, busy = threading.Event(), threading.Event()
    worker.submit(lambda: busy.set() or gate.wait(5))
    assert busy.wait(5)
    ran: list[int] = []
    tokens = []
    for i in range(20):  # a burst of keystrokes: each new decode cancels the one before
        if tokens:
            tokens[-1].cancel("superseded")
        tokens.append(CancelToken())
        worker.submit(ran.append, i, cancel=tokens[-1])
    assert worker.stats.queued == 1 and worker.stats.peak_stale <= 1
    gate.set()
    worker.submit(lambda: None).result(5)
    assert ran == [19]
    assert worker.stats.dropped == 19
    worker.shutdown()


def test_a_task_cancelled_while_waiting_fails_with_cancelled():
    worker, _ = ready_worker()
    gate = threading.Event()
    worker.submit(gate.wait, 5)
    token = CancelToken()
    future = worker.submit(lambda: "ran", cancel=token)
    token.cancel("the client cancelled")
    gate.set()
    with pytest.raises(Cancelled, match="the client cancelled"):
        future.result(5)
    worker.shutdown()


def test_a_backend_failure_resets_the_cache_and_says_so():
    worker, loaded = ready_worker()
    runtime = worker.require_runtime()
    assert runtime.session is not None
    runtime.session.prefill([0, 5, 6, 7])

    def fail() -> None:
        raise RuntimeError("llama_decode returned -1")

    with pytest.raises(BackendFailure, match=r"RuntimeError: llama_decode returned -1.*it was reset"):
        worker.submit(fail).result(5)
    assert runtime.session.tokens == [] and loaded[0].cache == []
    assert worker.stats.recoveries == 1 and len(loaded) == 1
    worker.shutdown()


def test_a_domain_error_is_not_a_backend_failure():
    worker, _ = ready_worker()

    def refuse() -> None:
        raise DocumentError("not open")

    with pytest.raises(DocumentError):
        worker.submit(refuse).result(5)
    assert worker.stats.recoveries == 0
    worker.shutdown()


class BrokenFake(FakeBackend):
    def trim(self, n_keep: int) -> None:
        raise RuntimeError("the device is gone")


def test_when_even_the_reset_fails_the_model_is_loaded_again():
    worker, loaded = ready_worker(BrokenFake())

    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(BackendFailure, match="loaded again"):
        worker.submit(fail).result(5)
    assert len(loaded) == 2 and worker.runtime is not None and worker.status.state == "ready"
    worker.shutdown()


class HangingFake(FakeBackend):
    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.closed = False

    def evaluate(self, tokens):
        self.release.wait(30)
        super().evaluate(tokens)

    def close(self) -> None:
        self.closed = True


def test_a_hung_call_is_given_up_on_and_a_new_thread_loads_the_model_again():
    hanging = HangingFake()
    others = set(threading.enumerate())
    worker, loaded = ready_worker(hanging, backend_hang_ms=300)
    first = next(t for t in threading.enumerate() if t.name == "smallcoder-model-1" and t not in others)
    session = worker.require_runtime().session
    assert session is not None
    future = worker.submit(session.prefill, [0, 5, 6])
    with pytest.raises(BackendFailure, match="stopped answering"):
        future.result(10)
    assert worker.submit(lambda: worker.runtime is not None).result(10)  # the queue runs on the new thread
    assert len(loaded) == 2 and worker.stats.hangs == 1 and worker.stats.threads == 2
    hanging.release.set()  # the hung call returns: its thread unwinds and frees its model
    deadline = time.monotonic() + 5
    while not hanging.closed and time.monotonic() < deadline:
        time.sleep(0.02)
    assert hanging.closed
    first.join(5)
    assert not first.is_alive()
    worker.shutdown()


def test_warm_ups_dropped_unrun_leave_nothing_behind():
    from smallcoder_lsp.completion.engine import Engine

    engine = Engine(Config(), loader=lambda _config: FakeBackend())
    text = "".join(f"def f_{i}(x):\n    return x + {i}\n\n" for i in range(1000))
    engine.documents.open("file:///big.py", "python", 1, text)
    assert engine.start().result(10).state == "ready"
    gate, busy = threading.Event(), threading.Event()
    engine.worker.submit(lambda: busy.set() or gate.wait(5))
    assert busy.wait(5)
    for offset in range(0, len(text), len(text) // 8):  # the cursor jumps far, again and again
        engine.warm("file:///big.py", offset)
    assert engine.worker.stats.queued == 1  # each warm-up superseded the one before
    gate.set()
    engine.worker.submit(lambda: None).result(10)
    assert engine.board.guesses == 0
    engine.shutdown()
