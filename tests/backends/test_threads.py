"""llama.cpp runs on the cores that other programs leave free when ``threads`` is 0, and on a set count else."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import ModelSpec
from smallcoder_lsp.backends.free_cores import MIN_INTERVAL_S, usable_cpus
from smallcoder_lsp.backends.llama_cpp import LlamaCppBackend
from smallcoder_lsp.bench.run import busy_programs

pytestmark = pytest.mark.skipif(
    not Path("/proc/stat").exists() or len(usable_cpus()) < 2, reason="needs /proc/stat and 2 cores"
)


@pytest.fixture
def busy_core() -> Iterator[None]:
    """Another program keeps one of our cores busy."""
    with busy_programs(1) as (busy,):
        os.sched_setaffinity(busy.pid, {usable_cpus()[0]})
        yield


def evaluate_for(backend: LlamaCppBackend, seconds: float) -> list[int]:
    """Decode-sized evaluations for ``seconds``; the thread count each one ran on."""
    tokens = backend.tokenize("def add(a, b):\n    return a + b\n", add_bos=True)
    backend.trim(0)
    backend.evaluate(tokens)
    counts = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        backend.evaluate([tokens[-1]])
        counts.append(backend.threads)
        if backend.n_cached > 400:
            backend.trim(len(tokens))
    return counts


def load(gguf: Path, threads: int) -> LlamaCppBackend:
    pytest.importorskip("llama_cpp")
    backend = load_backend("llama_cpp", ModelSpec(str(gguf), 512, threads=threads))
    assert isinstance(backend, LlamaCppBackend)
    return backend


def test_threads_zero_leaves_a_busy_core_alone_and_decodes_the_same(gguf: Path, busy_core: None) -> None:
    every_core = load(gguf, len(usable_cpus()))
    prompt = every_core.tokenize("def fibonacci(n):\n", add_bos=True)
    every_core.evaluate(prompt)
    expected = int(every_core.logits().argmax())
    every_core.close()
    backend = load(gguf, 0)
    try:
        counts = evaluate_for(backend, 6 * MIN_INTERVAL_S)
        assert counts[-1] <= len(usable_cpus()) - 1  # (noise on a bigger machine may take more)
        backend.trim(0)
        backend.evaluate(prompt)
        assert backend.threads < len(usable_cpus())
        assert int(backend.logits().argmax()) == expected  # fewer threads, the same model
    finally:
        backend.close()


def test_a_set_thread_count_is_kept(gguf: Path, busy_core: None) -> None:
    backend = load(gguf, 2)
    try:
        assert set(evaluate_for(backend, 4 * MIN_INTERVAL_S)) == {2}
    finally:
        backend.close()
