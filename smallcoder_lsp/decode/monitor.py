"""Constrained choice of the next token: a monitor that sees the text so far vetoes pieces it cannot accept.

The monitor knows the code around the cursor (it is built in ``completion/``); decoding only asks it, for the
few best tokens in order, whether that piece may come next, and takes the first one allowed. When none of them
is, the sampler's own choice stands: a monitor guides the model, it never stalls it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

TOP_K = 16
"""How many of the best tokens a monitor may look at before it gives way."""

END = "\n"
"""The piece an end-of-generation token stands for: it ends the line like a line break does."""


class Monitor(Protocol):
    def allows(self, text: str, piece: str) -> bool:
        """Whether ``piece`` may follow the generated ``text``."""


def log_softmax(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    # logits: [vocab] -> log-probabilities: [vocab]
    x = logits.astype(np.float64)
    top = x.max()
    return x - top - np.log(np.exp(x - top).sum())


def top_tokens(logits: npt.NDArray[np.float32], k: int = TOP_K) -> list[int]:
    """The ``k`` tokens with the highest logits, best first."""
    k = min(k, logits.shape[0])
    top = np.argpartition(logits, -k)[-k:]
    return [int(t) for t in top[np.argsort(-logits[top])]]


def pick(
    logits: npt.NDArray[np.float32],
    sampler: Callable[[npt.NDArray[np.float32]], int],
    monitor: Monitor | None,
    text: str,
    piece_of: Callable[[int], str],
    banned: Sequence[int] = (),
) -> int:
    """The sampler's choice if the monitor allows it, else the best allowed token among the top ones."""
    if banned:
        logits = logits.copy()
        logits[list(banned)] = -np.inf
    chosen = sampler(logits)
    if monitor is None or monitor.allows(text, piece_of(chosen)):
        return chosen
    for token in top_tokens(logits):
        if token != chosen and np.isfinite(logits[token]) and monitor.allows(text, piece_of(token)):
            return token
    return chosen
