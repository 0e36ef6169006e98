"""A test-only backend that wraps a real one and fails on purpose: for the fault tests, never for users.

``--backend faults --model plan.json`` loads the plan's inner backend (``fake`` with a replies file, or
``llama_cpp`` with a GGUF path) and injects the plan's faults into its calls::

    {"inner": "llama_cpp", "model": "/path/model.gguf", "arm": "/tmp/armed",
     "faults": [{"at": "prefill", "after": 1, "kind": "raise"}]}

- ``at``: ``prefill`` (an evaluate of more than one token), ``decoding`` (an evaluate of one), ``trim``,
  ``logits``, ``save_state`` or ``any``; ``after``: how many such calls pass first.
- ``kind``: ``raise`` (a RuntimeError, as llama.cpp's failed decode), ``oom`` (a MemoryError), ``hang`` (the call
  sleeps ``seconds``, default an hour) or ``broken`` (it raises, and so does every later call of this instance,
  so that only loading the model again helps). An evaluate fails after the inner backend evaluated, so its
  KV cache holds tokens the decode session does not know of, as after a real failure mid-batch.
- ``arm``: a file. Faults fire only while it exists, and the first that fires deletes it, so a test decides
  which request meets the fault (warm-ups and earlier requests do not count). A fault may name its own ``arm``,
  so that one session can meet several faults in turn.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import Backend, ModelInfo, ModelSpec, SavedState


class InjectedFault(RuntimeError):
    """What a ``raise`` or ``broken`` fault raises."""


@dataclass
class Fault:
    at: str
    after: int = 0
    kind: str = "raise"
    seconds: float = 3600.0
    arm: str = ""
    seen: int = 0
    fired: bool = False


class FaultyBackend:
    def __init__(self, inner: Backend, faults: list[Fault]) -> None:
        self.inner = inner
        self.faults = faults
        self.info: ModelInfo = inner.info
        self.broken = False

    def _due(self, call: str) -> Fault | None:
        """The fault that fires at this call, if any (a broken backend fails every call)."""
        if self.broken:
            raise InjectedFault(f"injected fault: the backend is broken ({call})")
        for fault in self.faults:
            arm = Path(fault.arm) if fault.arm else None
            if fault.fired or fault.at not in (call, "any") or (arm is not None and not arm.exists()):
                continue
            fault.seen += 1
            if fault.seen > fault.after:
                fault.fired = True
                if arm is not None:
                    arm.unlink(missing_ok=True)
                return fault
        return None

    def _call(self, call: str) -> None:
        if (fault := self._due(call)) is not None:
            self._fire(fault, call)

    def _fire(self, fault: Fault, call: str) -> None:
        if fault.kind == "hang":
            time.sleep(fault.seconds)
            return
        if fault.kind == "oom":
            raise MemoryError(f"injected fault: out of memory during {call}")
        self.broken = fault.kind == "broken"
        raise InjectedFault(f"injected fault during {call}")

    def tokenize(self, text: str, *, add_bos: bool) -> list[int]:
        return self.inner.tokenize(text, add_bos=add_bos)

    def detokenize(self, tokens: Sequence[int]) -> bytes:
        return self.inner.detokenize(tokens)

    @property
    def n_cached(self) -> int:
        return self.inner.n_cached

    def trim(self, n_keep: int) -> None:
        self._call("trim")
        self.inner.trim(n_keep)

    def evaluate(self, tokens: Sequence[int]) -> None:
        call = "prefill" if len(tokens) > 1 else "decoding"
        fault = self._due(call)
        if fault is not None and fault.kind == "hang":
            self._fire(fault, call)
        self.inner.evaluate(tokens)
        if fault is not None and fault.kind != "hang":  # after the work: the cache holds what its session does not
            self._fire(fault, call)

    def logits(self) -> npt.NDArray[np.float32]:
        self._call("logits")
        return self.inner.logits()

    def save_state(self) -> SavedState:
        self._call("save_state")
        return self.inner.save_state()

    def load_state(self, state: SavedState) -> None:
        self.inner.load_state(state)

    def close(self) -> None:
        self.inner.close()


def load(spec: ModelSpec) -> FaultyBackend:
    plan: dict[str, Any] = json.loads(Path(spec.path).read_text())
    inner_spec = ModelSpec(plan.get("model", ""), spec.context_length, spec.threads, spec.timeout_s)
    inner = load_backend(plan.get("inner", "fake"), inner_spec)
    assert not hasattr(inner, "generate"), "faults wraps a local backend"
    faults = [Fault(**{"arm": plan.get("arm", ""), **f}) for f in plan.get("faults", [])]
    return FaultyBackend(inner, faults)
