"""The transformers forward with a ``DynamicCache``: the torch path for models our own decoder does not cover.

The cache is made without the model config, so every layer keeps all its positions (as llama.cpp's
``swa_full``): the sliding-window layers are masked, not truncated, and trimming stays exact.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache

from smallcoder_lsp.backends.base import SavedState


class HFRunner:
    mode = "transformers forward, dynamic cache"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self._cache = DynamicCache()
        self.n = 0
        parameters = inspect.signature(model.forward).parameters
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"
        """transformers 5.x renames ``past_key_values`` to ``cache`` (the old name goes in 5.40), model by model."""

    def trim(self, n_keep: int) -> None:
        if n_keep <= 0:
            self._cache, self.n = DynamicCache(), 0
        elif n_keep < self.n:
            self._cache.crop(n_keep - self.n)  # a negative count removes that many; older versions agree
            self.n = n_keep

    def evaluate(self, tokens: Sequence[int]) -> torch.Tensor:
        # tokens: [T] -> logits after the last one: [vocab], on the device
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, **{self._cache_argument: self._cache}, use_cache=True, logits_to_keep=1)
        self.n += len(tokens)
        return out.logits[0, -1]

    def evaluate_rows(self, tokens: Sequence[int]) -> torch.Tensor:
        # tokens: [T] -> the logits after each of them: [T, vocab], on the device
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, **{self._cache_argument: self._cache}, use_cache=True)
        self.n += len(tokens)
        return out.logits[0]

    def save(self) -> SavedState:
        layers = []
        for layer in self._cache.layers:
            keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
            if keys is not None and values is not None:  # k, v: [batch=1, kv_heads, n_cached, head_dim]
                layers.append((keys.clone(), values.clone()))
        nbytes = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)
        return SavedState(self.n, int(nbytes), layers)

    def load(self, state: SavedState) -> None:
        # DynamicCache never writes into a tensor in place (update concatenates, crop slices), so the saved
        # tensors can seed the new cache without another copy.
        cache = DynamicCache()
        layers: list[tuple[Any, Any]] = state.payload
        for index, (keys, values) in enumerate(layers):
            cache.update(keys, values, index)
        self._cache, self.n = cache, state.n_tokens

    def close(self) -> None:
        self._cache = DynamicCache()
