"""``backend = auto`` follows DESIGN.md's table; an explicit setting always wins; doctor says why."""

import pytest

from smallcoder_lsp.config import Config, decode_config
from smallcoder_lsp.models import hardware
from smallcoder_lsp.models.doctor import report

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


def test_doctor_reports_each_backend_and_the_choice():
    text = report(Config(backend="auto", model="/nope.gguf"), profile(mlx=False))
    assert "mlx        unavailable: not installed" in text
    assert "choice: llama_cpp (no Apple Silicon and no CUDA device" in text
    assert "cannot resolve the model" in text


def test_config_accepts_the_new_backends():
    config, problems = decode_config({"backend": "mlx", "remoteUrl": "http://h:1", "kvStatesMb": 0})
    assert not problems and config.backend == "mlx" and config.kv_states_mb == 0
    _, problems = decode_config({"backend": "tpu"})
    assert problems and "must be one of" in problems[0]
