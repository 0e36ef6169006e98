"""A tiny deterministic backend for unit tests of the layers above the runtimes.

Tokens are bytes (id = byte + 2; 0 is BOS, 1 is EOS). The "model" continues scripted replies: when the cached
text ends with a key followed by the start of its reply, the next token is the reply's next byte; otherwise EOS.
It counts every evaluated token, so tests can see what prefix reuse saved.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.backends.base import ModelInfo, ModelSpec, SavedState

BOS, EOS, OFFSET, VOCAB = 0, 1, 2, 258


class FakeBackend:
    def __init__(self, replies: dict[str, str] | None = None, context_length: int = 4096) -> None:
        self.replies = {k.encode(): v.encode() for k, v in (replies or {}).items()}
        self.info = ModelInfo(
            name="fake",
            path="",
            context_length=context_length,
            vocab_size=VOCAB,
            bos_id=BOS,
            eos_ids=frozenset({EOS}),
        )
        self.cache: list[int] = []
        self.evaluate_calls: list[int] = []
        """Length of each ``evaluate`` call, in order."""

    @property
    def evaluated_tokens(self) -> int:
        return sum(self.evaluate_calls)

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        ids = [b + OFFSET for b in text.encode()]
        return [BOS, *ids] if add_bos else ids

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return bytes(t - OFFSET for t in tokens if t >= OFFSET)

    @property
    def n_cached(self) -> int:
        return len(self.cache)

    def trim(self, n_keep: int) -> None:
        del self.cache[n_keep:]

    def evaluate(self, tokens: Sequence[int]) -> None:
        if len(self.cache) + len(tokens) > self.info.context_length:
            raise RuntimeError("context full")
        self.evaluate_calls.append(len(tokens))
        self.cache.extend(tokens)

    def _next_byte(self) -> int | None:
        text = self.detokenize(self.cache)
        for key, reply in self.replies.items():
            for j in range(len(reply) - 1, -1, -1):
                if text.endswith(key + reply[:j]):
                    return reply[j]
        return None

    def logits(self) -> npt.NDArray[np.float32]:
        out = np.zeros(VOCAB, dtype=np.float32)
        nxt = self._next_byte()
        out[EOS if nxt is None else nxt + OFFSET] = 10.0
        return out

    def save_state(self) -> SavedState:
        return SavedState(len(self.cache), 4 * len(self.cache), list(self.cache))

    def load_state(self, state: SavedState) -> None:
        self.cache = list(state.payload)

    def close(self) -> None:
        self.cache.clear()


def load(spec: ModelSpec) -> FakeBackend:
    """``spec.path`` names a JSON file mapping prompt endings to replies."""
    replies = json.loads(Path(spec.path).read_text()) if spec.path else {}
    return FakeBackend(replies, spec.context_length)
