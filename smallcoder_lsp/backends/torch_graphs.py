"""The forward captured once per token count and replayed: CUDA graphs over static buffers.

A one-token evaluate launches about a thousand small kernels; from Python that costs far more than the GPU work.
A CUDA graph replays them in one launch. A graph is captured for a few token counts (``BUCKETS``): a chunk is padded
up to the next one. Its pads go to the positions right after the chunk, which are stale cache slots that the next
evaluation overwrites (see ``torch_cache``), so a padded chunk leaves the cache as an unpadded one would.

Two kinds of step are captured: the eager forward at load, at once, and later the same forward compiled by
``torch.compile`` (fused kernels), which compiles in a background thread on scratch buffers while the eager
graphs serve. On a CPU nothing is captured; the same buffers and step run directly (so tests exercise them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

log = logging.getLogger(__name__)

BUCKETS = (1, 2, 4, 8, 16, 32, 64)

# ids [1, T], positions [T], last [1], keys, values -> logits [vocab]
Step = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, list[Any], list[Any]], torch.Tensor]


class StepGraph:
    """A forward of ``size`` tokens over static input and output buffers, replayed from a graph once captured."""

    def __init__(self, size: int, vocab: int, dtype: torch.dtype, device: torch.device) -> None:
        self.size = size
        self.ids = torch.zeros((1, size), dtype=torch.long, device=device)
        self.positions = torch.arange(size, device=device)
        self.last = torch.zeros(1, dtype=torch.long, device=device)
        self.logits = torch.zeros(vocab, dtype=dtype, device=device)
        self.step: Step | None = None
        self.graph: Any = None  # torch.cuda.CUDAGraph once captured
        self.compiled = False

    def load(self, tokens: Sequence[int], start: int) -> None:
        """Put ``tokens`` at positions ``start``... into the inputs, padded to ``size``; no host sync for one token."""
        if self.size == 1:
            self.ids.fill_(int(tokens[0]))
        else:
            padded = [*tokens, *[0] * (self.size - len(tokens))]
            self.ids.copy_(torch.tensor([padded], dtype=torch.long))
        torch.arange(start, start + self.size, out=self.positions)
        self.last.fill_(len(tokens) - 1)

    def run(self, keys: list[torch.Tensor], values: list[torch.Tensor]) -> torch.Tensor:
        """Logits after the last loaded token; the buffer is overwritten by this graph's next run."""
        if self.graph is not None:
            self.graph.replay()
        else:
            assert self.step is not None
            self.logits.copy_(self.step(self.ids, self.positions, self.last, keys, values))
        return self.logits

    def capture(self, step: Step, keys: list[torch.Tensor], values: list[torch.Tensor], pool: Any, stream: Any) -> None:
        """Capture ``step`` on the current inputs (on a CPU: just use it). Warm-up runs write the cache at the
        loaded positions, which must be stale slots (at or after the cache's write position). On failure the
        step captured before stays."""
        if self.ids.device.type != "cuda":
            self.step = step
            return
        # Warm up on the capture stream itself: cuBLAS handles and workspaces are made per stream, lazily, and
        # making one inside a capture fails.
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                self.logits.copy_(step(self.ids, self.positions, self.last, keys, values))
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        # thread_local: only this thread's calls can spoil the capture (the server has other threads)
        with torch.cuda.graph(graph, pool=pool, stream=stream, capture_error_mode="thread_local"):
            self.logits.copy_(step(self.ids, self.positions, self.last, keys, values))
        self.step, self.graph = step, graph


class StepGraphs:
    """One :class:`StepGraph` per bucket, sharing one memory pool (they never run at the same time)."""

    def __init__(self, vocab: int, dtype: torch.dtype, device: torch.device, buckets: Sequence[int] = BUCKETS) -> None:
        self.graphs = {size: StepGraph(size, vocab, dtype, device) for size in sorted(buckets)}
        cuda = device.type == "cuda"
        self.pool = torch.cuda.graph_pool_handle() if cuda else None
        self.stream = torch.cuda.Stream(device) if cuda else None  # one capture stream for one pool

    @property
    def largest(self) -> int:
        return max(self.graphs)

    def pick(self, count: int, start: int, capacity: int) -> StepGraph | None:
        """The smallest ready graph for ``count`` tokens at ``start`` whose pads still fit in the cache."""
        for size, graph in self.graphs.items():
            if size >= count and start + size <= capacity and graph.step is not None:
                return graph
        return None

    def capture(self, sizes: Sequence[int], step: Step, cache: Any, compiled: bool) -> list[int]:
        """Capture ``step`` for ``sizes`` with warm-ups at the cache's write position. Returns the sizes deferred
        because their warm-up would write over cached tokens (capture them after a trim); a failure is logged
        and that size keeps the step it had."""
        deferred = []
        for size in sizes:
            graph = self.graphs[size]
            if cache.n + size > cache.capacity:
                deferred.append(size)
                continue
            graph.load([0], cache.n)
            try:
                graph.capture(step, cache.keys, cache.values, self.pool, self.stream)
            except Exception as exc:  # a graph is an optimisation: the eager path stays correct without it
                log.warning("torch: capturing the %d-token step failed (%s); the previous step stays", size, exc)
                continue
            graph.compiled = compiled
        return deferred

    def describe(self) -> str:
        captured = [g for g in self.graphs.values() if g.graph is not None]
        if not captured:  # a CPU: the steps run directly
            return "compiled steps, no graphs" if any(g.compiled for g in self.graphs.values()) else "no graphs"
        kind = "compiled" if all(g.compiled for g in captured) else "eager"
        return f"{len(captured)} CUDA graphs ({kind} kernels)"

    def release(self) -> None:
        for graph in self.graphs.values():
            graph.graph, graph.step = None, None


class BackgroundCompile:
    """``torch.compile`` of the step for each bucket size, in a thread of its own, on scratch buffers of the real
    shapes, while the live cache keeps serving. Its sizes are handed over only once the thread has ended, so that
    no graph is captured while it still runs kernels."""

    def __init__(
        self,
        step: Step,
        sizes: Sequence[int],
        scratch: Callable[[], tuple[list[torch.Tensor], list[torch.Tensor]]],
        device: torch.device,
        backend: str = "inductor",
    ) -> None:
        self.step: Step = torch.compile(step, fullgraph=True, backend=backend)
        self.compiled: list[int] = []
        self.error: str | None = None
        self._handed_over = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(list(sizes), scratch, device), name="smallcoder-torch-compile", daemon=True
        )
        self._thread.start()

    def _run(self, sizes: list[int], scratch: Callable[[], Any], device: torch.device) -> None:
        try:
            keys, values = scratch()
            with torch.no_grad():
                for size in sizes:
                    if self._stop.is_set():
                        return
                    ids = torch.zeros((1, size), dtype=torch.long, device=device)
                    last = torch.zeros(1, dtype=torch.long, device=device)
                    self.step(ids, torch.arange(size, device=device), last, keys, values)
                    self.compiled.append(size)
        except Exception as exc:  # the eager graphs keep serving
            self.error = f"{type(exc).__name__}: {exc}"
            log.warning("torch: compiling the forward failed; the eager graphs stay (%s)", self.error)

    def take_ready(self) -> list[int]:
        """The sizes compiled, once, after the thread has ended; [] before that and after."""
        if self._handed_over or self._thread.is_alive():
            return []
        self._handed_over = True
        return list(self.compiled)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until compiling has ended (for benchmarks and tests); True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()
