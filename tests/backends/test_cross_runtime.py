"""The same weights on three runtimes: mlx and torch run the embedded model's float32 conversion and must agree on
the next token; llama.cpp computes with the quantized weights and activations, so it must agree on most prompts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smallcoder_lsp.backends.base import Backend

RUNTIMES = ("llama_cpp", "mlx", "torch")

PROMPTS = [
    "def fibonacci(n):\n    if n < 2:\n        return n\n    return",
    "import numpy as",
    "for i in range(10):\n    print(",
    "class Stack:\n    def __init__(self):\n        self.items =",
    "def is_even(n):\n    return n %",
    "with open(path) as f:\n    data = json.",
    "if __name__ ==",
    "x = [1, 2, 3]\ntotal = sum(",
]


def top1(backend: Backend) -> list[int]:
    picks = []
    for prompt in PROMPTS:
        backend.trim(0)
        backend.evaluate(backend.tokenize(prompt, add_bos=True))
        picks.append(int(backend.logits().argmax()))
    return picks


@pytest.mark.model
def test_runtimes_agree_on_the_next_token(
    load_local: Callable[[str], Backend | None], capsys: pytest.CaptureFixture[str]
):
    backends = {name: load_local(name) for name in RUNTIMES}
    missing = [name for name, backend in backends.items() if backend is None]
    if missing:
        pytest.skip(f"needs every local backend; missing: {', '.join(missing)}")
    picks = {name: top1(backend) for name, backend in backends.items() if backend is not None}
    agree = {
        pair: sum(a == b for a, b in zip(picks[pair[0]], picks[pair[1]], strict=True))
        for pair in (("mlx", "torch"), ("llama_cpp", "mlx"), ("llama_cpp", "torch"))
    }
    with capsys.disabled():
        print("\nnext-token top-1 agreement on", len(PROMPTS), "prompts:",
              ", ".join(f"{a}/{b} {n}/{len(PROMPTS)}" for (a, b), n in agree.items()))  # fmt: skip
    assert agree[("mlx", "torch")] == len(PROMPTS)
    assert agree[("llama_cpp", "torch")] >= len(PROMPTS) * 3 // 4
