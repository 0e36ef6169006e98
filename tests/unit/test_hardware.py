"""``backend = auto`` follows DESIGN.md's table, and on a CUDA machine keeps the faster of torch and llama.cpp by
their measured decode rates, measured once; an explicit setting always wins."""

from dataclasses import replace
from pathlib import Path

import pytest

from smallcoder_lsp.backends.base import ModelSpec
from smallcoder_lsp.config import Config, decode_config
from smallcoder_lsp.errors import ModelLoadError
from smallcoder_lsp.models import hardware, loading, rates
from smallcoder_lsp.models.selftest import SelfTest

ALL = {"llama_cpp": True, "mlx": True, "mlx_lm": True, "torch": True, "transformers": True, "safetensors": True}


def profile(apple: bool = False, cuda: tuple[str, ...] = (), **missing: bool) -> hardware.Profile:
    installed = {**ALL, **missing}
    return hardware.Profile("test", "arm64" if apple else "x86_64", 8, 16.0, apple, apple, cuda, installed)


@pytest.mark.parametrize(
    ("prof", "expected"),
    [
        (profile(), "llama_cpp"),
        (profile(apple=True), "mlx"),
        (profile(apple=True, mlx=False), "llama_cpp"),
        (profile(cuda=("NVIDIA H100, 81559 MiB",)), "torch"),
        (profile(cuda=("NVIDIA H100, 81559 MiB",), torch=False), "llama_cpp"),
    ],
)
def test_auto_follows_the_design_table(prof, expected):
    assert hardware.choose_backend("auto", prof)[0] == expected


def test_an_explicit_setting_wins_and_remote_is_never_automatic():
    assert hardware.choose_backend("torch", profile()) == ("torch", "backend = torch was set explicitly")
    assert all(hardware.choose_backend("auto", p)[0] != "remote" for p in (profile(), profile(apple=True)))


def test_availability_names_the_extra():
    ok, why = hardware.availability(profile(torch=False), "torch")
    assert not ok and "smallcoder-lsp[torch]" in why and "torch" in why


def test_detect_does_not_import_runtimes():
    import sys

    before = set(sys.modules)
    prof = hardware.detect()
    assert prof.cpu_cores >= 1 and prof.installed
    assert not {"torch", "mlx", "transformers"} & (set(sys.modules) - before)


def test_config_accepts_the_new_backends():
    config, problems = decode_config({"backend": "mlx", "remoteUrl": "http://h:1", "kvStatesMb": 0})
    assert not problems and config.backend == "mlx" and config.kv_states_mb == 0
    _, problems = decode_config({"backend": "tpu"})
    assert problems and "must be one of" in problems[0]


H100 = ("NVIDIA H100, 81559 MiB",)


def rate(backend: str, tok_s: float) -> SelfTest:
    return SelfTest(backend, decode_tok_s=tok_s, tokens=32, load_s=1.0)


def test_only_a_cuda_machine_with_torch_measures():
    assert hardware.measured_contenders(profile()) == ()
    assert hardware.measured_contenders(profile(apple=True)) == ()
    assert hardware.measured_contenders(profile(cuda=H100, torch=False)) == ()
    assert hardware.measured_contenders(profile(cuda=H100)) == ("torch", "llama_cpp")


def test_auto_keeps_llama_cpp_when_torch_decodes_slower_on_the_gpu():
    slow_gpu = {"torch": rate("torch", 31.0), "llama_cpp": rate("llama_cpp", 65.0)}
    choice, reason = hardware.choose_backend("auto", profile(cuda=H100), slow_gpu)
    assert choice == "llama_cpp" and "31 tok/s" in reason and "65 tok/s" in reason
    fast_gpu = {"torch": rate("torch", 194.0), "llama_cpp": rate("llama_cpp", 65.0)}
    assert hardware.choose_backend("auto", profile(cuda=H100), fast_gpu)[0] == "torch"
    failed = {"torch": SelfTest("torch", error="DeviceMemoryError: out of memory"), "llama_cpp": rate("llama_cpp", 9)}
    choice, reason = hardware.choose_backend("auto", profile(cuda=H100), failed)
    assert choice == "llama_cpp" and "out of memory" in reason
    assert hardware.choose_backend("torch", profile(cuda=H100), slow_gpu)[0] == "torch"  # explicit wins


class Measurements:
    """A stand-in for the self-test that counts its runs."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates, self.runs = rates, []

    def __call__(self, name: str, spec: object) -> SelfTest:
        self.runs.append(name)
        tok_s = self.rates[name]
        return rate(name, tok_s) if tok_s > 0 else SelfTest(name, error="RuntimeError: no CUDA kernel image")


@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A model file, an empty user cache, and a way to say which hardware ``detect`` finds."""
    monkeypatch.setenv("SMALLCODER_CACHE", str(tmp_path / "cache"))
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF" + bytes(64))
    monkeypatch.setattr(loading, "model_spec", lambda config, name: ModelSpec(config.model))

    def on(prof: hardware.Profile, rates: dict[str, float]) -> tuple[Measurements, Config]:
        measurements = Measurements(rates)
        monkeypatch.setattr(hardware, "detect", lambda: prof)
        monkeypatch.setattr(loading, "run_self_test", measurements)
        return measurements, Config(model=str(model))

    return on


def test_a_cpu_only_machine_stays_on_llama_cpp_without_measuring(machine):
    measurements, config = machine(profile(), {})
    assert loading.resolve_backend_name("auto", config) == "llama_cpp"
    assert measurements.runs == []


def test_auto_measures_once_per_machine_model_and_runtime(machine):
    measurements, config = machine(profile(cuda=H100), {"torch": 31.0, "llama_cpp": 65.0})
    assert loading.resolve_backend_name("auto", config) == "llama_cpp"
    assert sorted(measurements.runs) == ["llama_cpp", "torch"]
    assert loading.resolve_backend_name("auto", config) == "llama_cpp"  # remembered: no second self-test
    assert len(measurements.runs) == 2
    other_gpu, _ = machine(profile(cuda=("NVIDIA L4, 23034 MiB",)), {"torch": 120.0, "llama_cpp": 65.0})
    assert loading.resolve_backend_name("auto", config) == "torch"  # other hardware: measured afresh
    assert sorted(other_gpu.runs) == ["llama_cpp", "torch"]


def test_a_failed_self_test_keeps_llama_cpp_and_is_not_remembered(machine):
    measurements, config = machine(profile(cuda=H100), {"torch": 0.0, "llama_cpp": 65.0})
    assert loading.resolve_backend_name("auto", config) == "llama_cpp"
    assert loading.resolve_backend_name("auto", config) == "llama_cpp"
    assert measurements.runs.count("torch") == 2 and measurements.runs.count("llama_cpp") == 1


def test_the_remembered_rate_is_keyed_by_what_changes_it(machine):
    _, config = machine(profile(cuda=H100), {})
    fields = rates.fingerprint("torch", config, profile(cuda=H100))

    def key(config: Config, gpu: tuple[str, ...]) -> str:
        return rates.key_of(rates.fingerprint("torch", config, profile(cuda=gpu)))

    assert rates.key_of(fields) == key(config, H100)
    assert rates.key_of(fields) != key(replace(config, threads=4), H100)
    assert rates.key_of(fields) != key(config, ("NVIDIA L4, 23034 MiB",))
    assert "torch" in fields["runtime"] and "transformers" in fields["runtime"]
    assert fields["model"].startswith(str(Path(config.model).resolve()))
    with pytest.raises(ModelLoadError):
        rates.fingerprint("torch", Config(model="/nope.gguf"), profile(cuda=H100))
