"""The static-cache runner: exact trimming, snapshots, padded graph buckets and the compiled step, on a CPU.

On a CPU nothing is captured, but the graph path runs the same static buffers, padding and whole-cache forward
that a CUDA graph replays."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from smallcoder_lsp.backends.torch_static import StaticRunner  # noqa: E402
from tests.backends.tiny_hf import VOCAB, reference_logits, tiny_model  # noqa: E402

CAPACITY = 64


def ids_of(n: int, seed: int = 1) -> list[int]:
    return torch.randint(0, VOCAB, (n,), generator=torch.Generator().manual_seed(seed)).tolist()


def runner(graphs: bool = False, compile: bool = False, arch: str = "gemma3_text") -> StaticRunner:
    made = StaticRunner(tiny_model(arch), CAPACITY, graphs=graphs)
    if compile:
        made.start_compiling(backend="eager")  # dynamo's tracing without inductor's code generation: quick
    return made


def close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return bool(torch.allclose(a.float(), b.float(), atol=1e-5, rtol=1e-4))


def test_trim_then_reevaluate_equals_a_fresh_evaluation():
    r, ids, other = runner(), ids_of(20), ids_of(15, seed=2)
    expected = r.evaluate(ids).clone()
    r.trim(12)
    r.evaluate(other)  # overwrites positions 12.. with another continuation
    assert r.n == 27
    r.trim(12)
    assert r.n == 12
    assert close(r.evaluate(ids[12:]), expected)


def test_a_snapshot_restores_in_place_and_survives_later_writes():
    r, ids = runner(), ids_of(20)
    expected = r.evaluate(ids).clone()
    saved = r.save()
    assert saved.n_tokens == 20 and saved.nbytes == 20 * r.cache.bytes_per_token
    addresses = [t.data_ptr() for t in r.cache.keys + r.cache.values]
    r.trim(0)
    r.evaluate(ids_of(30, seed=3))
    for _ in range(2):  # restoring twice: writes after the first restore must not reach the snapshot
        r.load(saved)
        assert r.n == 20
        r.trim(19)
        assert close(r.evaluate(ids[19:]), expected)
        r.evaluate(ids_of(5, seed=4))
    assert [t.data_ptr() for t in r.cache.keys + r.cache.values] == addresses  # captured graphs stay valid


@pytest.mark.parametrize("arch", ["gemma3_text", "qwen2"])
def test_padded_buckets_give_the_logits_of_the_exact_path(arch: str):
    exact, padded = runner(arch=arch), runner(graphs=True, arch=arch)
    assert padded.graphs is not None
    ids = ids_of(CAPACITY)
    for start, end in ((0, 5), (5, 6), (6, 13), (13, 40), (40, CAPACITY)):  # 5 tokens ride in the 8-token bucket
        logits = padded.evaluate(ids[start:end])
        assert close(logits, exact.evaluate(ids[start:end]))
    assert padded.n == exact.n == CAPACITY
    assert close(logits, reference_logits(tiny_model(arch), ids)[-1])


def test_a_bucket_whose_pads_would_not_fit_is_not_picked():
    r = runner(graphs=True)
    assert r.graphs is not None
    r.evaluate(ids_of(CAPACITY - 3))
    assert r.graphs.pick(2, r.n, CAPACITY) is not None
    assert r.graphs.pick(3, r.n, CAPACITY) is None  # the 4-token bucket would write past the cache
    assert r.graphs.pick(2, 0, CAPACITY).size == 2  # type: ignore[union-attr]


def test_the_forward_compiles_as_one_graph_and_then_serves():
    # fullgraph=True: any graph break (host sync, data-dependent branch) in the forward fails the compile.
    compiled, exact = runner(graphs=True, compile=True), runner()
    assert compiled.compiler is not None and compiled.compiler.wait(600)
    assert compiled.compiler.error is None
    ids = ids_of(40)
    assert close(compiled.evaluate(ids[:7]), exact.evaluate(ids[:7]))
    assert compiled.graphs is not None and all(g.compiled for g in compiled.graphs.graphs.values())
    for i in range(7, 40):
        assert close(compiled.evaluate(ids[i : i + 1]), exact.evaluate(ids[i : i + 1]))
