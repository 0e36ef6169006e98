"""Draft tokens from the text the model has already seen (prompt lookup).

Code repeats itself: a name written above is written again, a call is made like the one before it, a branch
mirrors its neighbour. When the last few tokens of prompt and generation occurred before, the tokens that
followed them then are a cheap draft of what comes next. The decode evaluates the drafts with the token it
took, in one batch (see :class:`~smallcoder_lsp.backends.base.Lookahead`), and keeps each one only while it is
the token the decode would have chosen anyway: the text is what the decode would have written without them,
only sooner (up to rounding: llama.cpp computes a batch with other kernels than a single token, and the two
differ by as much as they each differ from the unquantized model, so a near-tie may go the other way).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LONGEST = 3
"""The longest run of last tokens looked up; shorter runs are tried when it never occurred."""
SHORTEST = 2
"""A single token is too weak a clue: measured on real code, drafts after one matching token lost more
evaluation time than they saved."""
SEARCHED = 4096
"""How many of the latest tokens are searched."""


def lookup(tokens: Sequence[int], limit: int) -> list[int]:
    """Up to ``limit`` tokens that followed the latest earlier occurrence of the last ``LONGEST`` tokens of
    ``tokens`` (else of fewer, down to ``SHORTEST``); none when they never occurred."""
    if limit <= 0 or len(tokens) <= SHORTEST:
        return []
    seen = np.asarray(tokens[-SEARCHED:], dtype=np.int64)
    for n in range(min(LONGEST, len(seen) - 1), SHORTEST - 1, -1):
        tail = seen[-n:]
        # starts s < len - n at which seen[s : s + n] == tail
        found = np.ones(len(seen) - n, dtype=bool)
        for i in range(n):
            found &= seen[i : len(seen) - n + i] == tail[i]
        starts = np.flatnonzero(found)
        if len(starts):
            after = int(starts[-1]) + n
            return [int(t) for t in seen[after : after + limit]]
    return []
