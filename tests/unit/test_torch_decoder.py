"""Our decoder forward against the transformers forward, on tiny random models of each supported architecture."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from smallcoder_lsp.backends.torch_cache import StaticKVCache  # noqa: E402
from smallcoder_lsp.backends.torch_decoder import StaticDecoder, unsupported_reason  # noqa: E402
from tests.backends.tiny_hf import ARCHITECTURES, VOCAB, WINDOW, reference_logits, tiny_config, tiny_model  # noqa: E402

CAPACITY = 64
LENGTH = 4 * WINDOW + 3  # well past the sliding window


def random_ids(n: int = LENGTH, seed: int = 1) -> list[int]:
    return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def cache_for(decoder: StaticDecoder) -> StaticKVCache:
    return StaticKVCache(
        len(decoder.layers), decoder.kv_heads, decoder.head_dim, CAPACITY, decoder.dtype, decoder.device
    )


def run_chunk(decoder: StaticDecoder, cache: StaticKVCache, chunk: list[int], full: bool = False) -> torch.Tensor:
    n, t = cache.n, len(chunk)
    with torch.no_grad():
        args = (torch.tensor([chunk]), torch.arange(n, n + t), torch.tensor([t - 1]), cache.keys, cache.values)
        logits = decoder.forward_full(*args) if full else decoder.forward(*args, n + t)
    cache.n += t
    return logits


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_chunked_forward_equals_the_transformers_forward(arch: str):
    model = tiny_model(arch)
    ids = random_ids()
    expected = reference_logits(model, ids)
    decoder = StaticDecoder(model, CAPACITY)
    cache = cache_for(decoder)
    for start in range(0, len(ids), 3):
        chunk = ids[start : start + 3]
        logits = run_chunk(decoder, cache, chunk)
        end = start + len(chunk) - 1
        assert torch.allclose(logits, expected[end], atol=1e-5, rtol=1e-4), f"{arch}: position {end}"


def test_the_sliding_window_shapes_the_reference():
    # A control for the test above: without its window, the same Gemma 3 model predicts differently.
    ids = random_ids()
    windowed = reference_logits(tiny_model("gemma3_text"), ids)[-1]
    unwindowed = reference_logits(tiny_model("gemma3_text", sliding_window=CAPACITY), ids)[-1]
    assert not torch.allclose(windowed, unwindowed, atol=1e-3)


@pytest.mark.parametrize("arch", ["gemma3_text", "llama"])
def test_the_whole_cache_forward_ignores_stale_slots(arch: str):
    decoder = StaticDecoder(tiny_model(arch), CAPACITY)
    ids = random_ids()
    exact, whole = cache_for(decoder), cache_for(decoder)
    for tensor in whole.keys + whole.values:
        tensor.normal_(0.0, 10.0)  # what an earlier, longer prompt left behind
    for start in range(0, len(ids), 4):
        chunk = ids[start : start + 4]
        a, b = run_chunk(decoder, exact, chunk), run_chunk(decoder, whole, chunk, full=True)
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)


def test_supported_architectures_are_named_and_others_refused():
    assert all(unsupported_reason(tiny_config(arch)) is None for arch in ARCHITECTURES)
    assert "model type 'gpt2'" in (unsupported_reason(SimpleNamespace(model_type="gpt2")) or "")
    capped = tiny_config("gemma3_text", attn_logit_softcapping=50.0)
    assert "soft-capping" in (unsupported_reason(capped) or "")
    dynamic = tiny_config("llama", rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4})
    assert "dynamic" in (unsupported_reason(dynamic) or "")
