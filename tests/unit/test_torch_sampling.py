"""Sampling on the device makes the host's choice: same draw, same token; bans hold on both paths."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from smallcoder_lsp.backends.base import SampleRequest, SamplesOnDevice  # noqa: E402
from smallcoder_lsp.backends.fake import FakeBackend  # noqa: E402
from smallcoder_lsp.backends.torch_sampling import sample_on_device  # noqa: E402
from smallcoder_lsp.decode.sampling import Sampler, choose  # noqa: E402

VOCAB = 1000


def random_logits(seed: int, spread: float = 3.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(VOCAB) * spread).astype(np.float32)


class DeviceBackend(FakeBackend):
    """A fake whose logits live in a tensor and which samples them itself."""

    def __init__(self, logits: np.ndarray) -> None:
        super().__init__()
        self.tensor = torch.from_numpy(logits.copy())
        self.requests: list[SampleRequest] = []

    def logits(self) -> np.ndarray:
        raise AssertionError("the device path must not copy the logits to the host")

    def sample(self, request: SampleRequest) -> tuple[int, float]:
        self.requests.append(request)
        token = int(sample_on_device(self.tensor, request).item())
        return token, float(torch.log_softmax(self.tensor.double(), dim=-1)[token])


class HostBackend(FakeBackend):
    def __init__(self, logits: np.ndarray) -> None:
        super().__init__()
        self.values = logits

    def logits(self) -> np.ndarray:
        return self.values.copy()


def old_choice(logits: np.ndarray, temperature: float, top_k: int, top_p: float, rng: np.random.Generator) -> int:
    """The host sampler as it was before it took a draw: what a seed meant then."""
    k = min(top_k, logits.shape[0])
    top = np.argpartition(logits, -k)[-k:]
    scaled = logits[top].astype(np.float64) / temperature
    order = np.argsort(-scaled)
    top, scaled = top[order], scaled[order]
    probs = np.exp(scaled - scaled[0])
    probs /= probs.sum()
    keep = int(np.searchsorted(np.cumsum(probs), top_p)) + 1
    probs = probs[:keep] / probs[:keep].sum()
    return int(top[rng.choice(keep, p=probs)])


@pytest.mark.parametrize(("temperature", "top_k", "top_p"), [(0.8, 40, 0.95), (1.5, 5, 1.0), (0.3, 100, 0.5)])
def test_device_and_host_choose_the_same_token_from_the_same_draw(temperature: float, top_k: int, top_p: float):
    rng = np.random.default_rng(7)
    for seed in range(200):
        logits, draw = random_logits(seed, spread=1.0 / temperature), float(rng.random())
        expected = choose(logits, temperature, top_k, top_p, draw)
        assert (
            int(sample_on_device(torch.from_numpy(logits), SampleRequest(temperature, top_k, top_p, draw))) == expected
        )


def test_a_seed_picks_what_it_picked_before_the_draw_was_split_out():
    for seed in range(50):
        logits = random_logits(seed, spread=1.2)
        now, before = Sampler(0.8, seed=seed), np.random.default_rng(seed)
        assert [now(logits) for _ in range(5)] == [old_choice(logits, 0.8, 40, 0.95, before) for _ in range(5)]


def test_greedy_takes_the_first_highest_logit_and_skips_banned_ids():
    logits = np.zeros(VOCAB, dtype=np.float32)
    logits[[3, 9, 500]] = [5.0, 5.0, 4.0]
    tensor = torch.from_numpy(logits)
    assert int(sample_on_device(tensor, SampleRequest(0.0, 40, 0.95, 0.0))) == 3
    assert int(sample_on_device(tensor, SampleRequest(0.0, 40, 0.95, 0.0, frozenset({3, 9})))) == 500
    assert tensor[3] == 5.0  # the logits themselves are left alone


def test_banned_ids_are_never_sampled():
    logits = np.full(VOCAB, -10.0, dtype=np.float32)
    logits[[1, 2, 3]] = [3.0, 2.9, 2.8]
    for draw in np.linspace(0.0, 0.999, 50):
        request = SampleRequest(1.0, 40, 1.0, float(draw), frozenset({1}))
        token = int(sample_on_device(torch.from_numpy(logits), request))
        assert token in (2, 3)


@pytest.mark.parametrize("banned", [(), (17, 400)])
def test_the_sampler_prefers_the_device_and_keeps_the_same_random_stream(banned: Sequence[int]):
    logits = random_logits(3, spread=1.5)
    device, host = DeviceBackend(logits), HostBackend(logits)
    assert isinstance(device, SamplesOnDevice) and not isinstance(host, SamplesOnDevice)
    on_device, on_host = Sampler(0.9, seed=11), Sampler(0.9, seed=11)
    picks = [(on_device.pick(device, banned), on_host.pick(host, banned)) for _ in range(30)]
    assert all(a[0] == b[0] and abs(a[1] - b[1]) < 1e-6 for a, b in picks) and len({a for a, _ in picks}) > 1
    assert not {a[0] for a, _ in picks} & set(banned)
    assert device.requests[0].banned == frozenset(banned)


def test_greedy_consumes_no_draw():
    sampler = Sampler(0.0, seed=5)
    assert sampler.request().draw == 0.0
    assert sampler.pick(HostBackend(random_logits(1)))[0] == int(np.argmax(random_logits(1)))
