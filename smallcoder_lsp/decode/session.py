"""A decode session: the token list its backend's KV cache holds, and reuse of its longest common prefix.

This is written once, above the backends: keep what the cache shares with the new prompt, trim the rest, and
evaluate only the new tail, in chunks with a cancellation check between them (and, on a backend that allows
it, a chunk that nobody will continue is stopped part-way: see ``CancelToken.interruptible``).

While decoding, a token may be taken together with draft tokens to follow it (``take``): on a backend that
can evaluate ahead (:class:`~smallcoder_lsp.backends.base.Lookahead`) they go into the cache in one batch, and
taking a drafted token later costs nothing. Drafts the decode does not take are trimmed away.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cached_property

from smallcoder_lsp.backends.base import Backend, Interruptible, Lookahead
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
    def __init__(self, backend: Backend, chunk_size: int = PREFILL_CHUNK, lookahead: int = 0) -> None:
        self.backend = backend
        self.chunk_size = chunk_size
        self.lookahead = lookahead
        """How many drafted tokens a decode may evaluate with each token it takes (0: none; see ``take``)."""
        self.tokens: list[int] = []
        """Exactly the tokens the backend's KV cache holds, in order (drafts not yet taken included)."""
        self.ahead: list[int] = []
        """The drafts at the end of ``tokens`` that the decode has not taken (yet)."""
        self.drafted = 0
        self.drafts_taken = 0
        """How many drafts were evaluated, and how many of them were taken, since the session began."""

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """Every token's text, for token healing; built on first use (half a second for Gemma's 262k)."""
        return Vocabulary(self.backend, self.backend.info.eos_ids)

    @property
    def context_length(self) -> int:
        return self.backend.info.context_length

    @property
    def position(self) -> int:
        """How many tokens the decode has taken, prompt included: the cache holds ``ahead`` beyond them."""
        return len(self.tokens) - len(self.ahead)

    @cached_property
    def _interrupt(self) -> Callable[[], None]:
        """What stops an evaluation part-way: the backend's ``interrupt`` where it has one, else nothing (its
        chunks then end at their own pace, and the token is checked between them)."""
        if isinstance(self.backend, Interruptible):
            return self.backend.interrupt
        return lambda: None

    @cached_property
    def can_look_ahead(self) -> bool:
        """Whether the backend is a :class:`Lookahead` one (checked once: the check is not free per token)."""
        return isinstance(self.backend, Lookahead)

    def prefill(self, prompt: Sequence[int], cancel: CancelToken | None = None) -> PrefillStats:
        """Make the cache hold ``prompt``, evaluating only what differs from what it holds now.

        At least one token is always evaluated, so the logits belong to this prompt. On cancellation the
        cache keeps the chunks already evaluated (an interrupted one is dropped whole), and ``tokens`` still says
        what it holds.
        """
        if not prompt:
            raise ValueError("empty prompt")
        if len(prompt) > self.context_length:
            raise ValueError(f"prompt of {len(prompt)} tokens exceeds the context ({self.context_length})")
        started = time.perf_counter()
        self.ahead = []  # still in the cache, and kept where the prompt goes on with them
        keep = min(common_prefix_length(self.tokens, prompt), len(prompt) - 1)
        if keep < len(self.tokens):
            self.backend.trim(keep)
            del self.tokens[keep:]
        rest = list(prompt[keep:])
        for i in range(0, len(rest), self.chunk_size):
            chunk = rest[i : i + self.chunk_size]
            with nullcontext() if cancel is None else cancel.interruptible(self._interrupt):
                self.backend.evaluate(chunk)
            self.tokens.extend(chunk)
        return PrefillStats(len(prompt), keep, len(rest), time.perf_counter() - started)

    def append(self, token: int) -> None:
        """Evaluate one generated token."""
        self._drop_ahead()
        self.backend.evaluate([token])
        self.tokens.append(token)

    def take(self, token: int, draft: Callable[[int], Sequence[int]] | None = None) -> None:
        """Take ``token`` as the decode's next token. When it is the next draft already in the cache, that costs
        nothing; otherwise the drafts not taken are trimmed away, and ``token`` is evaluated with ``draft(token)``
        (draft tokens to follow it) in one batch, where the backend can (else alone)."""
        if self.ahead and self.ahead[0] == token:
            self.backend.step_ahead()  # type: ignore[attr-defined]  # only a Lookahead backend has drafts
            self.ahead.pop(0)
            self.drafts_taken += 1
            return
        self._drop_ahead()
        room = self.context_length - len(self.tokens) - 1
        drafts = list(draft(token))[: max(0, room)] if draft is not None and self.can_look_ahead else []
        if not drafts:
            self.append(token)
            return
        self.backend.evaluate_ahead([token, *drafts])  # type: ignore[attr-defined]
        self.tokens += [token, *drafts]
        self.ahead = drafts
        self.drafted += len(drafts)

    def _drop_ahead(self) -> None:
        if self.ahead:
            keep = self.position
            self.backend.trim(keep)
            del self.tokens[keep:]
            self.ahead = []

    def reset(self) -> None:
        self.backend.trim(0)
        self.tokens.clear()
        self.ahead = []
