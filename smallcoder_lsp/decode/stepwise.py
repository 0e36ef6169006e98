"""Generation one small step at a time, so that a long generation can share the single model worker.

Each call does one bounded piece of work: evaluate one prefill chunk, or evaluate the last sampled token and
sample the next one. The caller keeps the target token list (prompt plus what it kept so far) between calls;
the session's prefix reuse makes a resumed step cheap when nothing else ran in between, and correct when
something did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.session import Session, common_prefix_length

Pick = Callable[[npt.NDArray[np.float32]], int]


class GreedyBan:
    """Greedy choice that skips the tokens in ``banned`` (used to refuse a line break as the first token)."""

    def __init__(self) -> None:
        self.banned: set[int] = set()

    def __call__(self, logits: npt.NDArray[np.float32]) -> int:
        # logits: [vocab]
        if self.banned:
            logits = logits.copy()
            logits[list(self.banned)] = -np.inf
        return int(np.argmax(logits))


def step(session: Session, target: Sequence[int], sampler: Pick, cancel: CancelToken | None = None) -> int | None:
    """Bring the cache one chunk closer to ``target``; once it holds all of it, sample the next token.

    Returns the sampled token, or None when this step only prefilled a chunk.
    """
    if cancel is not None:
        cancel.check()
    have = common_prefix_length(session.tokens, target)
    missing = len(target) - have
    if missing > session.chunk_size:
        session.prefill(target[: have + session.chunk_size])
        return None
    if missing > 0 or len(session.tokens) != len(target):
        session.prefill(target)
    return sampler(session.backend.logits())
