"""small requantized for the CPU (llama.cpp): the file is made once, keeps what it must, and writes code as the
rung's own file does; a damaged source or an unwritable cache is handled."""

from __future__ import annotations

import logging
import mmap
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from smallcoder_lsp.backends import load_backend
from smallcoder_lsp.backends.base import Backend, ModelSpec
from smallcoder_lsp.config import Config
from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models import ladder
from smallcoder_lsp.models.loading import llama_cpp_file
from smallcoder_lsp.models.requantize import embedding_type, requantized_model
from smallcoder_lsp.models.vocabulary import code_vocabulary_model, read_layout

pytest.importorskip("llama_cpp")

IQ4_NL = 20
"""ggml's number for the type (``ggml.h``)."""
HELD_OUT = Path(__file__).parents[2] / "smallcoder_lsp" / "completion" / "budget.py"
"""Code written after the model was trained."""


def matrix_types(path: Path) -> dict[str, int]:
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return {t.name: t.ggml_type for t in read_layout(buf).tensors if len(t.dims) == 2}


@pytest.fixture(scope="module")
def small_file() -> Path:
    return ladder.rung_path("small")


@pytest.fixture(scope="module")
def requantized(small_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return requantized_model(small_file, "IQ4_NL", threads=2, root=tmp_path_factory.mktemp("requantized"))


def test_the_layers_are_requantized_and_the_embedding_keeps_its_type(small_file: Path, requantized: Path) -> None:
    assert requantized != small_file and requantized.stat().st_size < small_file.stat().st_size
    before, after = matrix_types(small_file), matrix_types(requantized)
    assert after.keys() == before.keys()
    layers = [name for name in after if name.startswith("blk.")]
    assert sum(after[name] == IQ4_NL for name in layers) > 0.8 * len(layers)
    assert after["token_embd.weight"] == before["token_embd.weight"] == embedding_type(small_file)


def next_tokens(backend: Backend, tokens: list[int]) -> list[int]:
    """The likeliest next token after each of ``tokens``, read from one batch."""
    import numpy as np

    backend.trim(0)
    backend.evaluate_ahead(tokens)
    found = [int(np.argmax(backend.logits()))]
    for _ in tokens[1:]:
        backend.step_ahead()
        found.append(int(np.argmax(backend.logits())))
    return found


@pytest.fixture(scope="module")
def both(small_file: Path, requantized: Path) -> Iterator[tuple[Backend, Backend]]:
    loaded = [load_backend("llama_cpp", ModelSpec(str(path), 1024, threads=2)) for path in (small_file, requantized)]
    yield loaded[0], loaded[1]  # type: ignore[misc]
    for backend in loaded:
        backend.close()  # type: ignore[attr-defined]


def test_it_reads_code_as_the_rungs_own_file_does(both: tuple[Backend, Backend]) -> None:
    own, requantized = both
    text = HELD_OUT.read_text()[:2400]
    tokens = own.tokenize(text, add_bos=False)[:500]
    assert requantized.tokenize(text, add_bos=False)[:500] == tokens
    expected, found = next_tokens(own, tokens), next_tokens(requantized, tokens)
    agreeing = sum(a == b for a, b in zip(expected, found, strict=True)) / len(tokens)
    assert agreeing >= 0.8  # measured: 0.84 here, 0.92 over 5,549 tokens of this project's code (tiny's: 0.74)


def test_it_is_made_once_and_again_for_a_changed_source(tmp_path: Path) -> None:
    source = tmp_path / "model.gguf"
    shutil.copyfile(code_vocabulary_model(ladder.rung_path("tiny")), source)  # the smallest file that llama.cpp reads
    first = requantized_model(source, "IQ4_NL", threads=2, root=tmp_path / "cache")
    made = first.stat().st_mtime_ns
    assert requantized_model(source, "IQ4_NL", threads=2, root=tmp_path / "cache") == first
    assert first.stat().st_mtime_ns == made
    source.touch()
    second = requantized_model(source, "IQ4_NL", threads=2, root=tmp_path / "cache")
    assert second != first and second.exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [second.name]  # no older form, no partial file


def test_a_truncated_source_is_a_clear_error(tmp_path: Path) -> None:
    data = code_vocabulary_model(ladder.rung_path("tiny")).read_bytes()
    for size in (len(data) // 2, 64):
        (tmp_path / "cut-off.gguf").write_bytes(data[:size])
        with pytest.raises(ModelLoadError, match="corrupt or truncated"):
            requantized_model(tmp_path / "cut-off.gguf", "IQ4_NL", threads=2, root=tmp_path / f"cache{size}")
        assert not list((tmp_path / f"cache{size}").glob("*"))


def test_an_unwritable_cache_runs_the_file_as_it_is(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    source = code_vocabulary_model(ladder.rung_path("tiny"))
    (tmp_path / "cache").write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING):
        assert requantized_model(source, "IQ4_NL", threads=2, root=tmp_path / "cache") == source
    assert "as it is" in caplog.text
    with pytest.raises(ValueError, match="cannot requantize to Q3_K"):
        requantized_model(source, "Q3_K", root=tmp_path / "cache")


def test_only_the_rungs_measured_for_it_run_requantized() -> None:
    assert ".iq4_nl-" in llama_cpp_file(Config(model="small")).name
    assert llama_cpp_file(Config(model="small", requantize=False)) == ladder.rung_path("small")
    assert llama_cpp_file(Config(model="tiny")) == code_vocabulary_model(ladder.rung_path("tiny"))
    assert llama_cpp_file(Config(model=str(ladder.rung_path("small")))) == ladder.rung_path("small")  # a path
