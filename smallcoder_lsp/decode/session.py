"""A decode session: the token list its backend's KV cache holds, and reuse of its longest common prefix.

This is written once, above the backends: keep what the cache shares with the new prompt, trim the rest, and
evaluate only the new tail, in chunks with a cancellation check between them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from smallcoder_lsp.backends.base import Backend
from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.healing import Vocabulary

PREFILL_CHUNK = 64


@dataclass(frozen=True)
class PrefillStats:
    prompt_tokens: int
    reused_tokens: int
    evaluated_tokens: int
    seconds: float


def common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class Session:
    def __init__(self, backend: Backend, chunk_size: int = PREFILL_CHUNK) -> None:
        self.backend = backend
        self.chunk_size = chunk_size
        self.tokens: list[int] = []
        """Exactly the tokens the backend's KV cache holds, in order."""

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Every token's text, for token healing; built on first use (half a second for Gemma's 262k)."""
        return Vocabulary(self.backend, self.backend.info.eos_ids)

    @property
    def context_length(self) -> int:
        return self.backend.info.context_length

    def prefill(self, prompt: Sequence[int], cancel: CancelToken | None = None) -> PrefillStats:
        """Make the cache hold ``prompt``, evaluating only what differs from what it holds now.

        At least one token is always evaluated, so the logits belong to this prompt. On cancellation the
        cache keeps the chunks already evaluated, and ``tokens`` still says what it holds.
        """
        if not prompt:
            raise ValueError("empty prompt")
        if len(prompt) > self.context_length:
            raise ValueError(f"prompt of {len(prompt)} tokens exceeds the context ({self.context_length})")
        started = time.perf_counter()
        keep = min(common_prefix_length(self.tokens, prompt), len(prompt) - 1)
        if keep < len(self.tokens):
            self.backend.trim(keep)
            del self.tokens[keep:]
        rest = list(prompt[keep:])
        for i in range(0, len(rest), self.chunk_size):
            if cancel is not None:
                cancel.check()
            chunk = rest[i : i + self.chunk_size]
            self.backend.evaluate(chunk)
            self.tokens.extend(chunk)
        return PrefillStats(len(prompt), keep, len(rest), time.perf_counter() - started)

    def append(self, token: int) -> None:
        """Evaluate one generated token."""
        self.backend.evaluate([token])
        self.tokens.append(token)

    def reset(self) -> None:
        self.backend.trim(0)
        self.tokens.clear()
