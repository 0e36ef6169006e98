"""The small Protocol every runtime implements.

A backend owns one KV cache. It appends tokens to it (``evaluate``), trims it back to a prefix (``trim``) and
exposes the next-token logits. Prefix reuse, sampling, stopping and cancellation live above it in
:mod:`smallcoder_lsp.decode`, written once for all backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True)
class ModelSpec:
    path: str
    """Model file or folder."""
    context_length: int = 4096
    threads: int = 0
    """0 means every core."""


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str
    context_length: int
    vocab_size: int
    bos_id: int | None
    eos_ids: frozenset[int]
    """Tokens that end generation (end of sequence, end of turn)."""
    special_tokens: dict[str, int] = field(default_factory=dict)
    """Named special tokens found in the vocabulary, FIM tokens among them."""


class Backend(Protocol):
    info: ModelInfo

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        """Text to token ids; special-token text is parsed as special tokens."""

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        """Token ids to UTF-8 bytes (a token may end inside a character)."""

    @property
    def n_cached(self) -> int:
        """How many tokens the KV cache holds."""

    def trim(self, n_keep: int) -> None:
        """Drop every cached token after the first ``n_keep``."""

    def evaluate(self, tokens: Sequence[int]) -> None:
        """Append ``tokens`` to the KV cache and compute the logits after the last one."""

    def logits(self) -> npt.NDArray[np.float32]:
        """Next-token logits after the last evaluated token, shape [vocab]."""

    def close(self) -> None:
        """Free the model."""
