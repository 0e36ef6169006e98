"""Choosing the next token from logits: greedy by default, temperature with top-k/top-p when asked."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class Sampler:
    def __init__(self, temperature: float = 0.0, top_k: int = 40, top_p: float = 0.95, seed: int = 0) -> None:
        self.temperature = temperature
        self.top_k = top_k
        self.top_p = top_p
        self._rng = np.random.default_rng(seed)

    def __call__(self, logits: npt.NDArray[np.float32]) -> int:
        # logits: [vocab]
        if self.temperature <= 0.0:
            return int(np.argmax(logits))
        k = min(self.top_k, logits.shape[0])
        top = np.argpartition(logits, -k)[-k:]
        scaled = logits[top].astype(np.float64) / self.temperature
        order = np.argsort(-scaled)
        top, scaled = top[order], scaled[order]
        probs = np.exp(scaled - scaled[0])
        probs /= probs.sum()
        keep = int(np.searchsorted(np.cumsum(probs), self.top_p)) + 1
        probs = probs[:keep] / probs[:keep].sum()
        return int(top[self._rng.choice(keep, p=probs)])
