"""The text stream of a :class:`~smallcoder_lsp.backends.base.Generator` (a remote server), under the same stop
rules, deadline, cancellation and statistics as the token stream in :mod:`smallcoder_lsp.decode.stream`.

The server samples; we only read. Each streamed piece counts as one token (servers stream one token per event).
Leaving the loop closes the generator, which drops the connection and so stops the server.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from smallcoder_lsp.backends.base import Generator, TextRequest
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.stopping import StopRules, stop_reason
from smallcoder_lsp.decode.stream import Generation, GenerationStats, collect


def stream_text(
    generator: Generator,
    prompt: str,
    rules: StopRules,
    temperature: float = 0.0,
    cancel: CancelToken | None = None,
    stats: GenerationStats | None = None,
) -> Iterator[str]:
    stats = stats if stats is not None else GenerationStats()
    started = time.perf_counter()
    stop = () if rules.multiline else ("\n",)
    pieces = generator.generate(
        TextRequest(prompt, rules.max_tokens, temperature, stop), lambda: cancel is not None and cancel.cancelled
    )
    text = ""
    stats.stop_reason = "eos"
    try:
        for piece in pieces:
            now = time.perf_counter()
            if stats.first_token_s is None:
                stats.first_token_s = now - started
            stats.generated_tokens += 1
            stats.decode_s = now - started - stats.first_token_s
            text += piece
            yield piece
            reason = stop_reason(text, stats.generated_tokens, rules)
            if reason is None and rules.max_seconds is not None and stats.decode_s >= rules.max_seconds:
                reason = "deadline"
            if reason is not None:
                stats.stop_reason = reason
                break
    finally:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()
    if cancel is not None:
        cancel.check()


def complete_text(
    generator: Generator,
    prompt: str,
    rules: StopRules,
    temperature: float = 0.0,
    cancel: CancelToken | None = None,
    on_text: Callable[[str], None] | None = None,
) -> Generation:
    """Run ``stream_text`` to its end; ``on_text`` sees the text so far after every piece."""
    stats = GenerationStats()
    return collect(stream_text(generator, prompt, rules, temperature, cancel, stats), stats, on_text)
