"""A short self-test of one runtime: load the model, time the prefill of a short prompt, and time greedy decode
steps.

It runs the decode loop the server runs (:func:`~smallcoder_lsp.decode.stream.generate_step` over a
:class:`~smallcoder_lsp.decode.session.Session`), bounded by a token count and a couple of seconds, so that its
rates are the ones a user would see. ``doctor`` shows them per backend and rung; ``auto`` compares torch with
llama.cpp by them, and chooses the rung (:mod:`.auto`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import Backend, Generator, ModelSpec
from smallcoder_lsp.decode.sampling import Sampler
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stream import generate_step

PROMPT = '''import math


def is_prime(n: int) -> bool:
    """Return True when n is a prime number."""
    if n < 2:
        return False
'''
"""A short code prompt: the first steps of a real completion, with a long continuation ahead of it."""

PREFILL_REPEATS = 2
"""The prefill is timed over this many copies of the prompt (about 120 tokens: two chunks, not one short batch)."""

WARMUP_STEPS = 2
"""Decode steps run before the clock starts: the first calls of a runtime pay for lazy setup."""


@dataclass(frozen=True)
class SelfTest:
    backend: str
    decode_tok_s: float = 0.0
    tokens: int = 0
    """Timed decode steps."""
    prefill_tok_s: float = 0.0
    """Prompt tokens evaluated per second, in prefill chunks as a request evaluates them."""
    load_s: float = 0.0
    error: str = ""
    """Why the self-test failed; empty when it ran."""
    measured_at: str = ""
    """When it ran (ISO 8601, UTC) if the result was remembered from an earlier run; empty for a fresh one."""

    @property
    def ok(self) -> bool:
        return not self.error and self.tokens > 0


def run_self_test(name: str, spec: ModelSpec, *, max_tokens: int = 64, seconds: float = 2.0) -> SelfTest:
    """Load ``spec`` with backend ``name`` and time up to ``max_tokens`` decode steps, or ``seconds``."""
    started = time.perf_counter()
    try:
        loaded = load_backend(name, spec)
    except Exception as exc:  # a self-test reports any failure; it never takes the caller down
        return SelfTest(name, error=f"{type(exc).__name__}: {exc}")
    load_s = time.perf_counter() - started
    try:
        if isinstance(loaded, Generator):
            return SelfTest(name, load_s=load_s, error="a text server: its decode rate is the server's")
        session = Session(loaded)
        prefill_rate = time_prefill(session)
        tokens, elapsed = time_decode(loaded, max_tokens, seconds, session)
    except Exception as exc:
        return SelfTest(name, load_s=load_s, error=f"{type(exc).__name__}: {exc}")
    finally:
        loaded.close()
    return SelfTest(name, tokens / elapsed if elapsed > 0 else 0.0, tokens, prefill_rate, load_s)


def time_prefill(session: Session) -> float:
    """Prefill :data:`PREFILL_REPEATS` copies of :data:`PROMPT` into an empty cache: tokens per second."""
    session.reset()
    tokens = session.backend.tokenize(PROMPT * PREFILL_REPEATS, add_bos=True)
    stats = session.prefill(tokens)
    session.reset()
    return stats.evaluated_tokens / stats.seconds if stats.seconds > 0 else 0.0


def time_decode(backend: Backend, max_tokens: int, seconds: float, session: Session | None = None) -> tuple[int, float]:
    """Prefill :data:`PROMPT`, then time greedy decode steps (one evaluated token each): (steps, seconds).

    An end-of-text token does not stop it: the rate is what matters, not the text.
    """
    session = session or Session(backend)
    session.prefill(backend.tokenize(PROMPT, add_bos=True))
    sampler = Sampler(0.0)
    steps = generate_step(session, lambda: sampler.pick(backend))
    for _ in range(WARMUP_STEPS):
        next(steps)
    start, count = time.perf_counter(), 0
    for _ in steps:
        count += 1
        if count >= max_tokens or time.perf_counter() - start >= seconds:
            break
    return count, time.perf_counter() - start
