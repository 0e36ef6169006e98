"""Hugging Face folders through transformers + torch: the runtime for NVIDIA GPUs.

The KV cache is a ``DynamicCache`` made without the model config, so every layer keeps all its positions (as
llama.cpp's ``swa_full``): the sliding-window layers are masked, not truncated, and trimming stays exact.
fp32 on CPU; bf16 (or fp16 where bf16 is missing) on CUDA.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # weights come from a local folder, never from a hub

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from smallcoder_lsp.backends.base import ModelInfo, ModelSpec, SavedState
from smallcoder_lsp.backends.hf_tokens import TokenBytes, hf_model_info, hf_tokenize
from smallcoder_lsp.errors import DeviceMemoryError, ModelLoadError


def is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "out of memory" in str(exc))


def pick_device() -> tuple[torch.device, torch.dtype]:
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.device("cpu"), torch.float32


class TorchBackend:
    def __init__(self, spec: ModelSpec) -> None:
        self.device, self.dtype = pick_device()
        if spec.threads and self.device.type == "cpu":
            torch.set_num_threads(spec.threads)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(spec.path, local_files_only=True)
            model: Any = AutoModelForCausalLM.from_pretrained(spec.path, dtype=self.dtype, local_files_only=True)
            self._model = model.to(self.device).eval()
        except Exception as exc:
            if is_out_of_memory(exc):
                raise DeviceMemoryError(f"out of memory loading {spec.path} on {self.device}: {exc}") from exc
            raise ModelLoadError(f"transformers could not load {spec.path}: {exc}") from exc
        vocab = int(self._model.get_output_embeddings().weight.shape[0])
        self.info: ModelInfo = hf_model_info(self._tokenizer, self._model.config, spec.path, spec.context_length, vocab)
        self._bytes = TokenBytes(self._tokenizer)
        self._cache = DynamicCache()
        self._n = 0
        self._logits: npt.NDArray[np.float32] = np.zeros(vocab, dtype=np.float32)

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return hf_tokenize(self._tokenizer, text, add_bos)

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return self._bytes.join(tokens)

    @property
    def n_cached(self) -> int:
        return self._n

    def trim(self, n_keep: int) -> None:
        if n_keep <= 0:
            self._cache, self._n = DynamicCache(), 0
        elif n_keep < self._n:
            self._cache.crop(n_keep - self._n)  # a negative count removes that many; older versions agree
            self._n = n_keep

    def evaluate(self, tokens: Sequence[int]) -> None:
        # tokens: [T] -> logits of the last one: [vocab]
        if self._n + len(tokens) > self.info.context_length:
            raise RuntimeError("the KV cache is full")
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)
        before = self._n
        try:
            with torch.inference_mode():
                out = self._model(input_ids=ids, past_key_values=self._cache, use_cache=True, logits_to_keep=1)
        except Exception as exc:
            if not is_out_of_memory(exc):
                raise
            self.trim(before)  # a layer may have appended before the failure
            raise DeviceMemoryError(f"out of memory on {self.device} evaluating {len(tokens)} tokens") from exc
        self._n += len(tokens)
        self._logits = out.logits[0, -1].float().cpu().numpy()

    def logits(self) -> npt.NDArray[np.float32]:
        return self._logits.copy()

    def save_state(self) -> SavedState:
        layers = []
        for layer in self._cache.layers:
            keys, values = getattr(layer, "keys", None), getattr(layer, "values", None)
            if keys is not None and values is not None:  # k, v: [batch=1, kv_heads, n_cached, head_dim]
                layers.append((keys.clone(), values.clone()))
        nbytes = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)
        return SavedState(self._n, int(nbytes), layers)

    def load_state(self, state: SavedState) -> None:
        # DynamicCache never writes into a tensor in place (update concatenates, crop slices), so the saved
        # tensors can seed the new cache without another copy.
        cache = DynamicCache()
        layers: list[tuple[Any, Any]] = state.payload
        for index, (keys, values) in enumerate(layers):
            cache.update(keys, values, index)
        self._cache, self._n = cache, state.n_tokens

    def close(self) -> None:
        self._cache = DynamicCache()
        del self._model
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def load(spec: ModelSpec) -> TorchBackend:
    return TorchBackend(spec)
