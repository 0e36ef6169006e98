"""Constrained choice of the next token: a monitor that sees the text so far vetoes pieces it cannot accept.

The monitor knows the code around the cursor (it is built in ``completion/``); decoding only asks it, for the
few best tokens in order, whether that piece may come next, and takes the first one allowed. When none of them
is, the sampler's own choice stands: a monitor guides the model, it never stalls it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.backends.base import Backend
from smallcoder_lsp.decode.sampling import Sampler, log_prob

TOP_K = 16
"""How many of the best tokens a monitor may look at before it gives way."""

END = "\n"
"""The piece an end-of-generation token stands for: it ends the line like a line break does."""


class Monitor(Protocol):
    def allows(self, text: str, piece: str) -> bool:
        """Whether ``piece`` may follow the generated ``text``."""


def top_tokens(logits: npt.NDArray[np.float32], k: int = TOP_K) -> list[int]:
    """The ``k`` tokens with the highest logits, best first."""
    k = min(k, logits.shape[0])
    top = np.argpartition(logits, -k)[-k:]
    return [int(t) for t in top[np.argsort(-logits[top])]]


def pick(
    backend: Backend, sampler: Sampler, monitor: Monitor | None, text: str, piece_of: Callable[[int], str]
) -> tuple[int, float]:
    """The sampler's choice (with its log-probability) if the monitor allows it, else the best allowed token
    among the top ones. Only a veto needs the logits on the host."""
    chosen, logprob = sampler.pick(backend)
    if monitor is None or monitor.allows(text, piece_of(chosen)):
        return chosen, logprob
    logits = backend.logits()
    for token in top_tokens(logits):
        if token != chosen and monitor.allows(text, piece_of(token)):
            return token, log_prob(logits, token)
    return chosen, logprob
