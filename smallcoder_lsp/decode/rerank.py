"""Reranking candidates by the text that follows the cursor: a prefix-only model infills this way.

For each candidate, the model reads prompt + candidate and is scored on how likely it finds the next lines of
the document. A candidate that leads naturally into the code below the cursor wins.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from smallcoder_lsp.decode.cancel import CancelToken
from smallcoder_lsp.decode.session import Session

MAX_FOLLOWING_TOKENS = 32


def log_softmax_at(logits: np.ndarray, token: int) -> float:
    # logits: [vocab]
    x = logits.astype(np.float64)
    top = x.max()
    return float(x[token] - top - np.log(np.exp(x - top).sum()))


def following_logprob(
    session: Session, context: Sequence[int], following: Sequence[int], cancel: CancelToken | None = None
) -> float:
    """Mean log-probability of the ``following`` tokens right after ``context``."""
    following = following[:MAX_FOLLOWING_TOKENS]
    session.prefill(context, cancel)
    total = 0.0
    for i, token in enumerate(following):
        if cancel is not None:
            cancel.check()
        total += log_softmax_at(session.backend.logits(), token)
        if i + 1 < len(following):
            session.append(token)
    return total / max(1, len(following))


def following_text(suffix: str, lines: int = 2) -> str:
    """The rest of the cursor line and the next non-blank lines: what a candidate must lead into."""
    first, _, rest = suffix.partition("\n")
    kept = [line for line in rest.split("\n") if line.strip()][:lines]
    return "\n".join([first, *kept]) if kept else first
