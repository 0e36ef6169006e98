"""The same weights on three runtimes, on every rung of ``RUNGS``: mlx and torch run the rung's float32 conversion
and must agree on the next token and its logits; llama.cpp computes with the quantized weights and activations, so
it must agree on most prompts. All three must read the same model facts: the special tokens (FIM detection depends
on them), the tokens that end a generation, and whether a prompt starts with a BOS."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from smallcoder_lsp.backends.base import Backend
from smallcoder_lsp.completion.prompt import detect_fim_template

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

PROMPTS_OF = {"tiny": PROMPTS, "small": PROMPTS[:1]}
"""small's float32 weights are 2.4 times tiny's: one prompt, where llama.cpp's top logit leads the next by 7."""

QWEN_ENDS = ("<|endoftext|>", "<|im_end|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>")
"""Where a Qwen2.5-Coder generation ends, as llama.cpp reads the file."""
FIM_FAMILY = {"tiny": None, "small": "qwen2.5-coder"}
"""The FIM template each rung's vocabulary calls for (tiny, a base Gemma, has none)."""


def every_runtime(load_local: Callable[..., Backend | None], rung: str) -> dict[str, Backend]:
    backends = {name: load_local(name, rung) for name in RUNTIMES}
    missing = [name for name, backend in backends.items() if backend is None]
    if missing:
        pytest.skip(f"needs every local backend; missing: {', '.join(missing)}")
    return {name: backend for name, backend in backends.items() if backend is not None}


def next_logits(backend: Backend, prompts: list[str]) -> list[np.ndarray]:
    rows = []
    for prompt in prompts:
        backend.trim(0)
        backend.evaluate(backend.tokenize(prompt, add_bos=True))
        rows.append(backend.logits())
    return rows


@pytest.mark.model
def test_runtimes_report_the_same_special_tokens_ends_and_bos(load_local: Callable[..., Backend | None], rung: str):
    infos = {name: backend.info for name, backend in every_runtime(load_local, rung).items()}
    reference = infos["llama_cpp"]
    for name, info in infos.items():
        assert info.special_tokens == reference.special_tokens, name
        assert info.eos_ids == reference.eos_ids, name
        assert info.bos_id == reference.bos_id, name
        assert info.vocab_size == reference.vocab_size, name
    fim = detect_fim_template(reference.special_tokens)
    assert (fim.name if fim else None) == FIM_FAMILY[rung]
    if fim is not None and fim.name == "qwen2.5-coder":
        assert {reference.special_tokens[name] for name in QWEN_ENDS} <= reference.eos_ids
        assert reference.bos_id is None


@pytest.mark.model
def test_runtimes_agree_on_the_next_token(
    load_local: Callable[..., Backend | None], rung: str, capsys: pytest.CaptureFixture[str]
):
    prompts = PROMPTS_OF[rung]
    logits = {name: next_logits(backend, prompts) for name, backend in every_runtime(load_local, rung).items()}
    pairs = (("mlx", "torch"), ("llama_cpp", "mlx"), ("llama_cpp", "torch"))
    agree = {
        (a, b): sum(int(x.argmax() == y.argmax()) for x, y in zip(logits[a], logits[b], strict=True)) for a, b in pairs
    }
    gap = {(a, b): max(float(np.abs(x - y).max() / np.abs(y).max()) for x, y in zip(logits[a], logits[b], strict=True))
           for a, b in pairs}  # fmt: skip
    with capsys.disabled():
        print(f"\n{rung}: next-token top-1 agreement on {len(prompts)} prompts (largest logit gap / top logit):",
              ", ".join(f"{a}/{b} {agree[a, b]}/{len(prompts)} ({gap[a, b]:.1e})" for a, b in pairs))  # fmt: skip
    assert agree["mlx", "torch"] == len(prompts)
    assert gap["mlx", "torch"] <= 1e-2  # the same float32 weights: small's differ by 2e-6, tiny's (Gemma 3) by 4e-3
    assert agree["llama_cpp", "torch"] >= max(1, len(prompts) * 3 // 4)
