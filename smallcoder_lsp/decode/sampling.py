"""Choosing the next token from logits: greedy by default, temperature with top-k/top-p when asked.

One uniform draw per sampled token comes from the sampler's generator, whether the host chooses (here, from
``backend.logits()``) or the backend does on its device (:class:`~smallcoder_lsp.backends.base.SamplesOnDevice`),
so a seed means the same thing on both paths.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.backends.base import Backend, SampleRequest, SamplesOnDevice


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
        return choose(logits, self.temperature, self.top_k, self.top_p, float(self._rng.random()))

    def request(self, banned: Collection[int] = ()) -> SampleRequest:
        """What a backend needs to choose as this sampler would, consuming the same draw."""
        draw = float(self._rng.random()) if self.temperature > 0.0 else 0.0
        return SampleRequest(self.temperature, self.top_k, self.top_p, draw, frozenset(banned))

    def pick(self, backend: Backend, banned: Collection[int] = ()) -> tuple[int, float]:
        """The next token after ``backend``'s last evaluated one, never one of ``banned``, with its log-probability
        (untempered): chosen on the backend's device when it can (only the id and one number cross to the host),
        else here from a copy of its logits."""
        if isinstance(backend, SamplesOnDevice):
            return backend.sample(self.request(banned))
        raw = logits = backend.logits()
        if banned:
            logits = np.array(logits, dtype=np.float32)  # a private copy, whatever the backend handed out
            logits[list(banned)] = -np.inf
        token = self(logits)
        return token, log_prob(raw, token)


def log_prob(logits: npt.NDArray[np.float32], token: int) -> float:
    """log softmax(logits)[token]. Per generated token, so kept cheap: float32 exponentials (262k of them for
    Gemma), summed in float64; no full log-softmax vector."""
    # logits: [vocab]
    top = logits.max()
    return float(logits[token] - top) - float(np.log(np.exp(logits - top).sum(dtype=np.float64)))


def choose(logits: npt.NDArray[np.float32], temperature: float, top_k: int, top_p: float, draw: float) -> int:
    """Temperature sampling among the ``top_k`` highest logits, cut to the smallest set reaching ``top_p``;
    ``draw`` (uniform in [0, 1)) picks by inverse CDF, exactly as ``Generator.choice(p=...)`` does."""
    # logits: [vocab]
    k = min(top_k, logits.shape[0])
    top = np.argpartition(logits, -k)[-k:]
    scaled = logits[top].astype(np.float64) / temperature
    order = np.argsort(-scaled)
    top, scaled = top[order], scaled[order]
    probs = np.exp(scaled - scaled[0])
    probs /= probs.sum()
    keep = int(np.searchsorted(np.cumsum(probs), top_p)) + 1
    probs = probs[:keep] / probs[:keep].sum()
    cdf = np.cumsum(probs)
    cdf /= cdf[-1]
    return int(top[min(int(np.searchsorted(cdf, draw, side="right")), len(cdf) - 1)])
