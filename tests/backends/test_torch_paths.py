"""The torch backend's two paths: our decoder over a static cache where it can, the transformers forward where it
cannot or where a load-time probe disagrees; and sampling on the device. A tiny Gemma 3 with the embedded model's
tokenizer keeps them quick on a CPU."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from smallcoder_lsp.backends import torch as torch_backend  # noqa: E402
from smallcoder_lsp.backends.base import ModelSpec, SampleRequest  # noqa: E402
from smallcoder_lsp.backends.torch import TorchBackend  # noqa: E402
from smallcoder_lsp.decode.sampling import choose  # noqa: E402
from tests.backends.tiny_hf import tiny_model  # noqa: E402

CONTEXT = 96
TEXT = "def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"


@pytest.fixture(scope="module")
def tiny_folder(converted: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-gemma3")
    vocab = json.loads((converted / "config.json").read_text())["vocab_size"]  # the tokenizer's
    model = tiny_model("gemma3_text", vocab=int(vocab))
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(converted / name, folder / name)
    return folder


def load(folder: Path, **options: bool) -> TorchBackend:
    return TorchBackend(ModelSpec(str(folder), CONTEXT, threads=2), **options)


@pytest.mark.model
def test_a_supported_model_runs_our_decoder_and_agrees_with_the_transformers_path(tiny_folder: Path):
    ours, theirs = load(tiny_folder), load(tiny_folder, static=False)
    assert "static cache" in ours.mode and "transformers" in theirs.mode
    tokens = ours.tokenize(TEXT, add_bos=True)
    for backend in (ours, theirs):
        backend.evaluate(tokens[:-5])
        backend.evaluate(tokens[-5:])
    assert ours.n_cached == theirs.n_cached == len(tokens)
    assert np.allclose(ours.logits(), theirs.logits(), atol=1e-4, rtol=1e-4)


@pytest.mark.model
def test_a_probe_that_disagrees_keeps_the_transformers_forward(tiny_folder: Path, monkeypatch, caplog):
    monkeypatch.setattr(torch_backend, "logits_agree", lambda *args: False)
    backend = load(tiny_folder)
    assert "transformers" in backend.mode
    assert "disagree" in caplog.text
    backend.evaluate(backend.tokenize(TEXT, add_bos=True))
    assert backend.n_cached > 0


@pytest.mark.model
def test_sampling_on_the_device_matches_the_host_choice(tiny_folder: Path):
    backend = load(tiny_folder)
    backend.evaluate(backend.tokenize(TEXT, add_bos=True))
    logits = backend.logits()
    best = int(np.argmax(logits))
    token, logprob = backend.sample(SampleRequest(0.0, 40, 0.95, 0.0))
    shifted = logits.astype(np.float64) - logits.max()
    assert token == best
    assert logprob == pytest.approx(shifted[best] - np.log(np.exp(shifted).sum()), abs=1e-3)
    assert backend.sample(SampleRequest(0.0, 40, 0.95, 0.0, frozenset({best})))[0] != best
    for draw in np.linspace(0.0, 0.99, 12):
        request = SampleRequest(2.0, 40, 0.95, float(draw))
        assert backend.sample(request)[0] == choose(logits, 2.0, 40, 0.95, float(draw))
    assert np.array_equal(backend.logits(), logits)  # sampling leaves the logits as they were


@pytest.mark.model
def test_the_transformers_path_trims_exactly_and_restores_snapshots(tiny_folder: Path):
    backend = load(tiny_folder, static=False)
    tokens = backend.tokenize(TEXT, add_bos=True)
    backend.evaluate(tokens)
    expected, saved = backend.logits(), backend.save_state()
    backend.trim(len(tokens) - 3)
    backend.evaluate(backend.tokenize(" something else", add_bos=False))
    backend.trim(len(tokens) - 3)
    backend.evaluate(tokens[-3:])
    assert np.allclose(backend.logits(), expected, atol=1e-5)
    backend.trim(0)
    backend.load_state(saved)
    backend.trim(len(tokens) - 1)
    backend.evaluate(tokens[-1:])
    assert np.allclose(backend.logits(), expected, atol=1e-5)


@pytest.mark.model
def test_every_rung_runs_our_decoder(load_local, rung: str):
    # Its load-time probe falls back to the transformers forward, with only a warning, on a model it gets wrong.
    backend = load_local("torch", rung)
    assert backend is not None and "static cache" in backend.mode
