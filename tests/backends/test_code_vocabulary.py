"""The embedded model cut to the code vocabulary reads and writes code as the whole model does (llama.cpp)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import Backend, ModelSpec
from smallcoder_lsp.bench.trace import TYPING_DIR
from smallcoder_lsp.models.vocabulary import code_vocabulary_model, shipped

CONTEXT = 512
EXAMPLES = Path(__file__).parents[2] / "examples"
PROMPTS = [
    "def mean(values):\n    total = 0\n    for v in values:\n",
    "import json\n\n\ndef load(path):\n    with open(path) as f:\n        return ",
    "function add(a, b) {\n  return",
    "SELECT name, COUNT(*) FROM users WHERE age > 30 GROUP BY",
]


@pytest.fixture(scope="module")
def cut(gguf: Path) -> Iterator[Backend]:
    pytest.importorskip("llama_cpp")
    path = code_vocabulary_model(gguf)
    assert path != gguf
    backend = load_backend("llama_cpp", ModelSpec(str(path), CONTEXT, threads=2))
    yield backend  # type: ignore[misc]
    backend.close()  # type: ignore[attr-defined]


@pytest.fixture
def whole(load_local: Callable[[str], Backend | None]) -> Backend:
    backend = load_local("llama_cpp")
    assert backend is not None
    return backend


def pieces(backend: Backend, text: str) -> list[bytes]:
    return [backend.detokenize([t]) for t in backend.tokenize(text, add_bos=False)]


def greedy_tokens(backend: Backend, prompt: str, n: int) -> list[int]:
    backend.trim(0)
    backend.evaluate(backend.tokenize(prompt, add_bos=True))
    out = []
    for _ in range(n):
        token = int(backend.logits().argmax())
        out.append(token)
        backend.evaluate([token])
    return out


def greedy(backend: Backend, prompt: str, n: int) -> bytes:
    return backend.detokenize(greedy_tokens(backend, prompt, n))


def test_code_is_tokenized_as_by_the_whole_vocabulary(cut: Backend, whole: Backend) -> None:
    kept = set(shipped().kept.tolist())
    sources = [inspect.getsource(json), *(p.read_text() for p in sorted(TYPING_DIR.glob("*.py.txt")))]
    lines = [line for source in sources for line in source.splitlines(keepends=True)]
    tokens = [whole.tokenize(line, add_bos=False) for line in lines]
    assert sum(t in kept for ids in tokens for t in ids) >= 0.995 * sum(map(len, tokens))
    for line, ids in zip(lines, tokens, strict=True):
        if all(t in kept for t in ids):  # a line of kept tokens reads the same; one with a dropped token cannot
            assert pieces(cut, line) == pieces(whole, line)


def test_the_words_of_a_users_own_code_are_kept(whole: Backend) -> None:
    # Domain words that the source files the tokens were chosen from rarely have: the README's example, and more.
    kept = set(shipped().kept.tolist())
    text = (EXAMPLES / "inventory.py").read_text() + "\n# invoice customer penalties refund warehouse shipping\n"
    assert [whole.detokenize([t]) for t in whole.tokenize(text, add_bos=False) if t not in kept] == []


@pytest.mark.parametrize("prompt", PROMPTS)
def test_greedy_decoding_writes_what_the_whole_model_writes(cut: Backend, whole: Backend, prompt: str) -> None:
    # Up to the first token the cut dropped: that one it cannot write, and it goes on from another (on an AMD EPYC
    # the SQL prompt's `%';`, 12 tokens in, after a near-tie on the way; on a Xeon that path never came).
    written = greedy_tokens(whole, prompt, 24)
    kept = set(shipped().kept.tolist())
    same = next((i for i, token in enumerate(written) if token not in kept), len(written))
    assert same >= 8, whole.detokenize(written)
    assert greedy(cut, prompt, 24).startswith(whole.detokenize(written[:same]))


@pytest.mark.parametrize("text", ["# 计算平均值\nx = 1", "naïve = 'Ünïcödé ✓'", "# Привет, мир", "s = '🙂'"])
def test_text_with_dropped_tokens_still_round_trips(cut: Backend, text: str) -> None:
    assert cut.detokenize(cut.tokenize(text, add_bos=False)).decode() == text


def test_the_cut_is_a_fraction_of_the_model(gguf: Path) -> None:
    # 680 bytes (640 weights in Q8_0) per dropped token row: the cut is the model less (262,144 - kept) rows.
    dropped = 262_144 - len(shipped().kept)
    assert gguf.stat().st_size - code_vocabulary_model(gguf).stat().st_size >= dropped * 680
