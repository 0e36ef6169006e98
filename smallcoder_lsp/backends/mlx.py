"""Hugging Face folders through mlx-lm: the runtime for Apple Silicon (it also runs on Linux via ``mlx[cpu]``).

The prompt cache comes from ``make_prompt_cache``; layers that would get a rotating (sliding-window) cache get a
plain ``KVCache`` instead, so that ``trim_prompt_cache`` is always allowed and exact (the model masks the window).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
import numpy.typing as npt
from mlx_lm import load as mlx_load
from mlx_lm.models.cache import KVCache, make_prompt_cache, trim_prompt_cache

from smallcoder_lsp.backends.base import ModelInfo, ModelSpec, SavedState
from smallcoder_lsp.backends.hf_tokens import TokenBytes, hf_model_info, hf_tokenize
from smallcoder_lsp.errors import ModelLoadError


class MlxBackend:
    def __init__(self, spec: ModelSpec) -> None:
        try:
            loaded = mlx_load(spec.path)
            self._model, wrapper = loaded[0], loaded[1]
        except Exception as exc:
            raise ModelLoadError(f"mlx-lm could not load {spec.path}: {exc}") from exc
        self._tokenizer = getattr(wrapper, "_tokenizer", wrapper)
        config = _Namespace(getattr(self._model, "args", None))
        vocab = int(self._model.args.vocab_size)
        self.info: ModelInfo = hf_model_info(self._tokenizer, config, spec.path, spec.context_length, vocab)
        self._bytes = TokenBytes(self._tokenizer)
        self._cache = self._new_cache()
        self._n = 0
        self._logits = mx.zeros((vocab,), dtype=mx.float32)

    def _new_cache(self) -> list[Any]:
        cache = make_prompt_cache(self._model)
        return [c if c.is_trimmable() and type(c) is KVCache else KVCache() for c in cache]

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return hf_tokenize(self._tokenizer, text, add_bos)

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return self._bytes.join(tokens)

    @property
    def n_cached(self) -> int:
        return self._n

    def trim(self, n_keep: int) -> None:
        if n_keep < self._n:
            trim_prompt_cache(self._cache, self._n - n_keep)
            self._n = max(n_keep, 0)

    def evaluate(self, tokens: Sequence[int]) -> None:
        # tokens: [T] -> logits of the last one: [vocab]
        if self._n + len(tokens) > self.info.context_length:
            raise RuntimeError("the KV cache is full")
        out = self._model(mx.array([list(tokens)]), cache=self._cache)
        self._logits = out[0, -1].astype(mx.float32)
        mx.eval(self._logits)
        self._n += len(tokens)

    def logits(self) -> npt.NDArray[np.float32]:
        return np.array(self._logits, dtype=np.float32)

    def score(self, tokens: Sequence[int]) -> list[float]:
        # tokens: [T] -> log p(token_i | everything before it): [T], from one evaluation
        if self._n + len(tokens) > self.info.context_length:
            raise RuntimeError("the KV cache is full")
        ids = mx.array(list(tokens))
        out = self._model(ids[None], cache=self._cache)[0].astype(mx.float32)  # [T, vocab]
        rows = mx.concatenate([self._logits[None], out[:-1]])  # the logits that predict each token
        logprobs = rows - mx.logsumexp(rows, axis=-1, keepdims=True)
        picked = mx.take_along_axis(logprobs, ids[:, None], axis=-1)[:, 0]
        self._logits = out[-1]
        mx.eval(picked, self._logits)
        self._n += len(tokens)
        return [float(x) for x in np.array(picked)]

    def save_state(self) -> SavedState:
        layers = [(c.keys[..., : c.offset, :], c.values[..., : c.offset, :]) for c in self._cache if c.keys is not None]
        mx.eval(layers)
        return SavedState(self._n, sum(k.nbytes + v.nbytes for k, v in layers), layers)

    def load_state(self, state: SavedState) -> None:
        # mlx arrays are values: the live cache grows into new arrays, so the snapshot is never written into.
        cache = self._new_cache()
        for c, (keys, values) in zip(cache, state.payload, strict=False):
            n = int(keys.shape[2])  # fresh slices: an in-place write after a trim must not reach the snapshot
            c.keys, c.values, c.offset = keys[:, :, :n, :], values[:, :, :n, :], n
        self._cache, self._n = cache, state.n_tokens

    def close(self) -> None:
        self._cache = []


class _Namespace:
    """mlx-lm's model args, read like a transformers config."""

    def __init__(self, args: Any) -> None:
        self.eos_token_id = getattr(args, "eos_token_id", None)
        self.max_position_embeddings = getattr(args, "max_position_embeddings", None)
        self.name_or_path = ""


def load(spec: ModelSpec) -> MlxBackend:
    return MlxBackend(spec)


def quantize_folder(src: Path, dst: Path, bits: int) -> None:
    """Write an MLX-quantized copy of a Hugging Face folder."""
    from mlx_lm import convert as mlx_convert

    mlx_convert(hf_path=str(src), mlx_path=str(dst), quantize=True, q_bits=bits)
