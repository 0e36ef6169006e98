"""One line of greedy text at a time, generated step by step on the engine's model worker.

A docstring is many short generations. Each step is one bounded piece of work (one prefill chunk, or one token),
so completions queued meanwhile run between two steps and a docstring never holds the worker for long.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from smallcoder_lsp.backends.base import ModelInfo
from smallcoder_lsp.completion.engine import Engine
from smallcoder_lsp.completion.runtime import fit_to_context
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.session import Session
from smallcoder_lsp.decode.stepwise import GreedyBan, step
from smallcoder_lsp.errors import ModelLoadError

MAX_LINE_BREAK_REFUSALS = 4


def _session(engine: Engine) -> Session:
    session = engine.worker.require_runtime().session
    if session is None:
        raise ModelLoadError("docstrings need a local model (the remote backend streams text only)")
    return session


def model_info(engine: Engine) -> ModelInfo:
    return _session(engine).backend.info


def ends_line(text: str) -> bool:
    """The text has a line break after something other than blanks."""
    return "\n" in text.lstrip()


def _prompt_tokens(engine: Engine, prompt: str, max_tokens: int) -> list[int]:
    backend = _session(engine).backend
    limit = backend.info.context_length - max_tokens - 1
    return fit_to_context(backend.tokenize(prompt, add_bos=True), limit, keep_first=True)


def _step(engine: Engine, target: list[int], sampler: GreedyBan, cancel: CancelToken) -> int | None:
    return step(_session(engine), target, sampler, cancel)


async def generate_line(
    engine: Engine,
    prompt: str,
    max_tokens: int,
    cancel: CancelToken,
    stops: Sequence[str] = (),
    done: Callable[[str], bool] = ends_line,
) -> str:
    """Greedy text after ``prompt`` until ``done`` says it is (by default at a line break) or a ``stops`` string,
    one worker job per step."""
    worker = engine.worker
    prompt_tokens = await asyncio.wrap_future(worker.submit(_prompt_tokens, engine, prompt, max_tokens))
    # A line break first would leave the part empty: refuse it (at most a few times) and take the next best.
    sampler, text, refusals = GreedyBan(), "", 0
    generated: list[int] = []
    try:
        while len(generated) < max_tokens:
            target = prompt_tokens + generated
            token = await asyncio.wrap_future(worker.submit(_step, engine, target, sampler, cancel))
            if token is None:
                continue
            backend = _session(engine).backend
            if token in backend.info.eos_ids:
                break
            piece = backend.detokenize([token]).decode("utf-8", "ignore")
            if not generated and "\n" in piece and refusals < MAX_LINE_BREAK_REFUSALS:
                sampler.banned.add(token)
                refusals += 1
                continue
            sampler.banned.clear()
            generated.append(token)
            text = backend.detokenize(generated).decode("utf-8", "ignore")
            if done(text) or any(s in text for s in stops):
                break
    except asyncio.CancelledError:
        cancel.cancel("cancelled by the client")
        raise
    return text
