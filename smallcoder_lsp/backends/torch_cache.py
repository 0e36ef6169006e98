"""A static KV cache: every layer's keys and values preallocated for the whole context and written in place.

The tensors never move, so a CUDA graph captured against them stays valid for the life of the backend. Every layer
keeps every position (as llama.cpp's ``swa_full``): sliding-window layers are masked, not truncated, so trimming is
exact. ``n`` is the write position: positions ``[0, n)`` hold the cached tokens, and whatever lies after ``n`` is
stale and is overwritten before anything attends to it (a query at position p only sees keys at positions <= p,
all written by then). Trimming therefore only moves ``n``.
"""

from __future__ import annotations

import torch

from smallcoder_lsp.backends.base import SavedState


class StaticKVCache:
    def __init__(
        self, layers: int, kv_heads: int, head_dim: int, capacity: int, dtype: torch.dtype, device: torch.device
    ) -> None:
        shape = (1, kv_heads, capacity, head_dim)  # [batch, kv_heads, position, head_dim]
        self.keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(layers)]
        self.capacity = capacity
        self.n = 0

    @property
    def bytes_per_token(self) -> int:
        one = self.keys[0]
        return 2 * len(self.keys) * one.shape[1] * one.shape[3] * one.element_size()

    def trim(self, n_keep: int) -> None:
        self.n = max(0, min(self.n, n_keep))

    def save(self) -> SavedState:
        """Copies of the cached slices, on the cache's device."""
        n = self.n
        layers = [(k[:, :, :n].clone(), v[:, :, :n].clone()) for k, v in zip(self.keys, self.values, strict=True)]
        return SavedState(n, n * self.bytes_per_token, layers)

    def load(self, state: SavedState) -> None:
        """Copy a snapshot back in place; the cache tensors (and any graph captured on them) stay where they are."""
        n = state.n_tokens
        layers: list[tuple[torch.Tensor, torch.Tensor]] = state.payload
        for (keys, values), (k, v) in zip(layers, zip(self.keys, self.values, strict=True), strict=True):
            k[:, :, :n].copy_(keys)
            v[:, :, :n].copy_(values)
        self.n = n
