"""The fast torch path: our decoder over a static KV cache, with CUDA graphs of its forward on a GPU.

On CUDA, graphs of the eager forward are captured at load (well under a second), so the first request already
replays them; ``torch.compile`` of the same forward then runs in the background, and its graphs replace the
eager ones at the first evaluation after it ends. On a CPU the forward runs directly, reading only the cache
positions in use.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from smallcoder_lsp.backends.base import SavedState
from smallcoder_lsp.backends.torch_cache import StaticKVCache
from smallcoder_lsp.backends.torch_decoder import StaticDecoder
from smallcoder_lsp.backends.torch_graphs import BUCKETS, BackgroundCompile, StepGraphs


class StaticRunner:
    def __init__(self, model: Any, capacity: int, *, graphs: bool) -> None:
        self.decoder = StaticDecoder(model, capacity)
        self.cache = self._new_cache()
        self.graphs: StepGraphs | None = None
        self.compiler: BackgroundCompile | None = None
        self._deferred: list[int] = []
        if graphs:
            if self.decoder.device.type == "cuda":
                # cuDNN attention with a boolean mask over more than 1024 keys cannot be captured with some cuDNN
                # releases; the efficient-attention kernel can. Process-wide, and this process is ours.
                torch.backends.cuda.enable_cudnn_sdp(False)
            self.graphs = StepGraphs(self.decoder.vocab_size, self.decoder.dtype, self.decoder.device)
            with torch.no_grad():
                self.graphs.capture(BUCKETS, self.decoder.forward_full, self.cache, compiled=False)

    def start_compiling(self, backend: str = "inductor") -> None:
        """Compile the forward in the background; its graphs replace the eager ones when it ends."""
        if self.graphs is not None and self.compiler is None:
            self.compiler = BackgroundCompile(
                self.decoder.forward_full, BUCKETS, self._scratch, self.decoder.device, backend
            )

    def _new_cache(self) -> StaticKVCache:
        d = self.decoder
        return StaticKVCache(len(d.layers), d.kv_heads, d.head_dim, d.capacity, d.dtype, d.device)

    def _scratch(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        cache = self._new_cache()
        return cache.keys, cache.values

    @property
    def n(self) -> int:
        return self.cache.n

    @property
    def mode(self) -> str:
        graphs = self.graphs.describe() if self.graphs is not None else "no graphs"
        compiling = ", compiling in the background" if self.compiler is not None and self.compiler.running else ""
        return f"static cache, {graphs}{compiling}"

    def trim(self, n_keep: int) -> None:
        self.cache.trim(n_keep)

    def evaluate(self, tokens: Sequence[int]) -> torch.Tensor:
        # tokens: [T] -> logits after the last one: [vocab], on the device
        self._install_compiled()
        step = self.graphs.largest if self.graphs is not None else len(tokens)
        logits = None
        with torch.no_grad():
            for i in range(0, len(tokens), step):
                chunk = tokens[i : i + step]
                logits = self._forward(chunk)
                self.cache.n += len(chunk)
        assert logits is not None
        return logits

    def evaluate_rows(self, tokens: Sequence[int]) -> torch.Tensor:
        # tokens: [T] -> the logits after each of them: [T, vocab], on the device (eager: spans to score are short)
        n, cache, device = self.cache.n, self.cache, self.decoder.device
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=device)
        positions = torch.arange(n, n + len(tokens), device=device)
        rows = torch.arange(len(tokens), device=device)
        with torch.no_grad():
            logits = self.decoder.forward(ids, positions, rows, cache.keys, cache.values, n + len(tokens))
        self.cache.n += len(tokens)
        return logits.reshape(len(tokens), -1)

    def _forward(self, chunk: Sequence[int]) -> torch.Tensor:
        n, cache, device = self.cache.n, self.cache, self.decoder.device
        graph = self.graphs.pick(len(chunk), n, cache.capacity) if self.graphs is not None else None
        if graph is not None:
            graph.load(chunk, n)
            return graph.run(cache.keys, cache.values)
        ids = torch.tensor([list(chunk)], dtype=torch.long, device=device)
        positions = torch.arange(n, n + len(chunk), device=device)
        last = torch.tensor([len(chunk) - 1], dtype=torch.long, device=device)
        return self.decoder.forward(ids, positions, last, cache.keys, cache.values, n + len(chunk))

    def _install_compiled(self) -> None:
        """Swap in the compiled graphs once the background compile has ended (and capture any deferred size)."""
        if self.compiler is None or self.graphs is None:
            return
        sizes = self._deferred + self.compiler.take_ready()
        if sizes:
            with torch.no_grad():
                self._deferred = self.graphs.capture(sizes, self.compiler.step, self.cache, compiled=True)

    def save(self) -> SavedState:
        return self.cache.save()

    def load(self, state: SavedState) -> None:
        self.cache.load(state)

    def close(self) -> None:
        if self.compiler is not None:
            self.compiler.stop()
        if self.graphs is not None:
            self.graphs.release()
